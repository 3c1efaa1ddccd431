"""What every runner of ansible-playbook / ansible here shares: numbered log files, task messages as text, the
failed checks of a storage_verify result. The runners themselves stay with their suites (they read different
callbacks): tests/integration/itest_support.py (ansible.posix.json, captured), tests/reliability/
reliability_support.py (default callback with one JSON result per line, streamed), bench/procs.py (jsonl).
The environment of a run: tests.support.environment.ansible_environment.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from pathlib import Path


class LogFiles:
    """``logs.path("deploy-dev")`` -> <log_dir>/001-deploy-dev.log, 002-..., numbered in call order (threads too)."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def path(self, label):
        with self._lock:
            number = next(self._numbers)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{number:03d}-{re.sub(r'[^A-Za-z0-9]+', '-', label).strip('-')}.log"


def flatten(value):
    """A task result's msg (or any value) as text: lists one item a line, other values as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(flatten(v) for v in value)
    return json.dumps(value, default=str)


def failed_checks(verification):
    """Ids of the failed checks of a storage_verify result (None: no verification ran)."""
    return [c["id"] for c in (verification or {}).get("checks", []) if c["status"] == "failed"]
