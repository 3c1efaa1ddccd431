"""Run the project's commands with the controller environment; keep each command's output in a log."""

import json
import subprocess
import time
from pathlib import Path

from bench import config
from tests.support.ansible_runs import LogFiles
from tests.support.environment import ansible_environment

_LOGS = LogFiles(config.SCRATCH / "logs")


class CommandFailed(RuntimeError):
    pass


def ansible_env(endpoint, root=config.ROOT, jsonl=True):
    """Environment for ansible-playbook / ansible from `root`'s .venv against `endpoint` (none: LOCALSTACK_ENDPOINT
    unset); the tests' one (tests.support.environment): dummy credentials, the caller's AWS settings dropped."""
    extra = {"PYTHONWARNINGS": "ignore::DeprecationWarning"}
    if jsonl:
        # One JSON line per task, with its start and end: the per-task breakdown.
        extra["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.jsonl"
        extra["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"  # also for ad-hoc `ansible`
    return ansible_environment(endpoint, root=root, bindir=root / ".venv" / "bin", extra=extra)


def run(cmd, name, env=None, cwd=config.ROOT, check=True):
    """Run `cmd`; returns (seconds, stdout). Output goes to run.tmp/logs/NNN-name.log."""
    log = _LOGS.path(name)
    started = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    log.write_text(f"$ {' '.join(map(str, cmd))}\n# cwd {cwd}\n# rc {proc.returncode}, {seconds:.2f} s\n"
                   f"{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    if check and proc.returncode != 0:
        raise CommandFailed(f"{name} failed (rc {proc.returncode}); log {_rel(log)}: {_why(proc)}")
    return seconds, proc.stdout


def run_stamped(cmd, name, env=None, cwd=config.ROOT):
    """Run `cmd` (stderr into stdout); returns (seconds, [(seconds since start, line)]) for per-step timing."""
    log = _LOGS.path(name)
    started = time.perf_counter()
    lines = []
    with subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))
    seconds = time.perf_counter() - started
    log.write_text(f"$ {' '.join(map(str, cmd))}\n# cwd {cwd}\n# rc {proc.returncode}, {seconds:.2f} s\n"
                   + "".join(f"[{t:7.1f}] {text}\n" for t, text in lines))
    if proc.returncode != 0:
        tail = "\n  ".join(text[:200] for _, text in lines[-8:])
        raise CommandFailed(f"{name} failed (rc {proc.returncode}); log {_rel(log)}: {tail}")
    return seconds, lines


def _why(proc):
    """The failed tasks' messages of a jsonl run, else the last lines of the output, kept short."""
    reasons = []
    for line in proc.stdout.splitlines():
        if line.startswith(('{"_event":"v2_runner_on_failed"', '{"_event":"v2_runner_on_unreachable"')):
            event = json.loads(line)
            result = next(iter(event["hosts"].values()), {})
            if not result.get("ignore_errors"):
                reasons.append(f"{event['task']['name']}: {str(result.get('msg', ''))[:300]}")
    if not reasons:
        reasons = [text[:200] for text in (proc.stdout + proc.stderr).splitlines()[-8:]]
    return "\n  ".join(reasons)


def _rel(path):
    try:
        return Path(path).relative_to(config.ROOT)
    except ValueError:
        return path
