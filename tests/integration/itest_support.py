"""The integration tests' ansible-playbook runner: one captured run with the ansible.posix.json callback.

Everything else these tests use (clients, stacks, buckets, keys, clean-up, sample e-books, the SNS-to-SQS
mailbox, the run's environment) lives in tests/support. Runs talk to a real LocalStack
(``LOCALSTACK_ENDPOINT``) and run the real ``ansible-playbook`` of the controller environment; nothing is mocked.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.support.ansible_runs import LogFiles, failed_checks, flatten
from tests.support.aws import delete_alias, retire_key
from tests.support.environment import ROOT, ansible_environment, controller_command

RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


def inventory(env):
    return f"inventories/{env}"


# --------------------------------------------------------------------------- ansible-playbook


@dataclass
class PlaybookResult:
    """One finished ansible-playbook run (stdout callback ansible.posix.json)."""

    cmd: list
    rc: int
    stdout: str
    stderr: str
    seconds: float
    log: Path
    data: dict | None
    recap: dict | None  # PLAY RECAP of localhost: ok, changed, unreachable, failed, skipped, rescued, ignored

    def host_results(self):
        """(task name, action, host result) of every task result, in order."""
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                for result in task.get("hosts", {}).values():
                    yield task["task"]["name"], result.get("action"), result

    def find(self, action=None, name=None):
        """Host results whose module is ``action`` (FQCN) and/or whose task name contains ``name``."""
        return [r for n, a, r in self.host_results()
                if (action is None or a == action) and (name is None or name in n)]

    def task_names(self):
        return [n for n, _a, _r in self.host_results()]

    def failures(self):
        """Messages of the failed task results (also the rescued ones), in order."""
        return [flatten(r.get("msg")) for _n, _a, r in self.host_results() if r.get("failed")]

    def text(self):
        """Every message of the run (task msgs, assertion texts) plus stderr: what a user reads."""
        parts = []
        for _n, _a, r in self.host_results():
            for key in ("msg", "argument_errors", "assertion"):
                if r.get(key) is not None:
                    parts.append(flatten(r[key]))
        parts.append(self.stderr)
        return "\n".join(parts)

    def verification(self):
        """Result of the last verification of the run (storage_verify, or post_deploy in a deploy), or None."""
        found = [r for _n, a, r in self.host_results()
                 if a in ("tap.ebook_storage.storage_verify", "tap.ebook_storage.post_deploy") and "checks" in r]
        return found[-1] if found else None

    def failed_checks(self):
        return failed_checks(self.verification())

    def play_seconds(self):
        """Seconds from the start of the first play to the end of the last one (from the callback)."""
        plays = (self.data or {}).get("plays", [])
        if not plays:
            return None
        start = _iso(plays[0]["play"]["duration"]["start"])
        end = _iso(plays[-1]["play"]["duration"].get("end") or plays[-1]["play"]["duration"]["start"])
        return end - start

    def describe(self):
        """Summary for assertion messages: command, rc, recap, failures, log file."""
        failed = self.failures()
        checks = self.failed_checks()
        return "\n".join([
            f"$ {' '.join(self.cmd)}",
            f"rc={self.rc} in {self.seconds:.1f} s, recap={self.recap}",
            *(f"failed task: {m[:1500]}" for m in failed),
            *([f"failed verification checks: {checks}"] if checks else []),
            *([f"stderr: {self.stderr.strip()[-1500:]}"] if self.stderr.strip() and not failed else []),
            f"full output: {self.log}",
        ])


def _iso(stamp):
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


_RECAP_LINE = re.compile(r"^(\S+)\s*:\s*((?:\w+=\d+\s*)+)$", re.MULTILINE)


def parse_recap(stdout):
    """PLAY RECAP of localhost from the json callback's stats, or from a text recap."""
    try:
        data = json.loads(stdout)
    except ValueError:
        data = None
    if isinstance(data, dict) and "stats" in data:
        stats = data["stats"].get("localhost")
        if stats is None:
            return data, None
        recap = {key: int(stats.get("failures" if key == "failed" else key, 0)) for key in RECAP_KEYS}
        return data, recap
    for host, counts in _RECAP_LINE.findall(stdout):
        if host == "localhost":
            values = dict(item.split("=") for item in counts.split())
            return None, {key: int(values.get(key, 0)) for key in RECAP_KEYS}
    return None, None


class PlaybookRunner:
    """``runner(playbook, inventory, extra_vars=None, check=False)`` runs ansible-playbook from the repo root.

    Extra variables go in one ``-e '<json>'``; ``ebook_stack_outputs_dir`` defaults to a temporary folder so
    that no run writes the user's cfn-outputs/. Credentials are LocalStack's dummy ones, and the variables that
    could select a real AWS account are removed from the environment.
    """

    def __init__(self, endpoint, log_dir, outputs_dir):
        self.endpoint = endpoint
        self.log_dir = Path(log_dir)
        self.outputs_dir = Path(outputs_dir)
        self._logs = LogFiles(self.log_dir)
        self.executable = controller_command("ansible-playbook")

    def environment(self):
        return ansible_environment(self.endpoint, extra={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})

    def __call__(self, playbook, inventory, extra_vars=None, check=False, *, args=(), timeout=900):
        extra = {"ebook_stack_outputs_dir": str(self.outputs_dir)}
        extra.update(extra_vars or {})
        cmd = [self.executable, str(playbook), "-i", str(inventory), "-e", json.dumps(extra)]
        if check:
            cmd.append("--check")
        cmd += list(args)
        log = self._logs.path(f"{Path(str(playbook)).stem}-{Path(str(inventory)).name}")
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=self.environment(), capture_output=True, text=True,
                                  timeout=timeout, check=False)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc = -9
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = f"ansible-playbook killed after {timeout} s\n" + (
                exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or ""))
        seconds = time.monotonic() - started
        log.write_text(f"$ {' '.join(cmd)}\nrc={rc} seconds={seconds:.1f}\n--- stderr\n{stderr}\n--- stdout\n{stdout}")
        data, recap = parse_recap(stdout)
        return PlaybookResult(cmd, rc, stdout, stderr, seconds, log, data, recap)

    def parallel(self, *calls):
        """Run several playbooks at once; each call is (args tuple, kwargs dict). Results in order."""
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(self, *args, **kwargs) for args, kwargs in calls]
            return [f.result() for f in futures]


def external_key_for_test_stack(aws, deployments, alias, description):
    """Generator for a module fixture: an enabled key with ``alias``; the test stack is removed before and after."""
    deployments.remove("test")
    kms = aws("kms")
    key = kms.create_key(Description=description)["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    yield key
    deployments.remove("test")
    delete_alias(kms, alias)
    retire_key(kms, key["KeyId"])
