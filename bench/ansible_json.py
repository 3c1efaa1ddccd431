"""Read the ansible.posix.jsonl output of a run: per-task durations, results, and where the time went."""

import json
from datetime import datetime

# (category, test on (task file, action)), first match wins.
CATEGORIES = [
    ("validation (no API call)", lambda f, a: f == "validate.yml" or a.endswith("validate_argument_spec")),
    ("pre-flight checks", lambda f, a: f == "preflight.yml"),
    ("stack state read", lambda f, a: f in ("stack_state.yml", "failed_state.yml")),
    ("CloudFormation (amazon.aws.cloudformation)", lambda f, a: a == "amazon.aws.cloudformation"),
    ("LocalStack parity", lambda f, a: a.endswith("localstack_parity")),
    ("outputs files (stack_outputs)", lambda f, a: a.endswith("stack_outputs")),
    ("verification (storage_verify)", lambda f, a: a.endswith("storage_verify")),
]
OTHER = "other tasks (includes, asserts, tables)"
STARTUP = "ansible-playbook start-up, between tasks"
# Actions that run in the controller process; every other task starts a module process.
IN_PROCESS = ("include_role", "include_tasks", "import_tasks", "set_fact", "assert", "debug", "fail",
              "validate_argument_spec", "meta")


def _when(stamp):
    return datetime.fromisoformat(stamp.rstrip("Z"))


def tasks(stdout):
    """[{name, action, file, seconds, result}] of every task result in the output."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if not event.get("_event", "").startswith("v2_runner_on_"):
            continue
        task, hosts = event["task"], event["hosts"]
        result = next(iter(hosts.values()), {})
        duration = task["duration"]
        seconds = (_when(duration["end"]) - _when(duration["start"])).total_seconds() if "end" in duration else 0.0
        path = task.get("path", "")
        found.append({"name": task["name"], "action": result.get("action", ""),
                      "file": path.rsplit("/", 1)[-1].split(":")[0], "seconds": seconds,
                      "skipped": bool(result.get("skipped")), "result": result})
    return found


def result_of(stdout, action_suffix):
    """The result of the last task whose action ends with `action_suffix`."""
    hits = [t for t in tasks(stdout) if t["action"].endswith(action_suffix) and not t["skipped"]]
    return hits[-1] if hits else None


def module_runs(task_list):
    return sum(1 for t in task_list if not t["skipped"] and not t["action"].endswith(IN_PROCESS))


def module_overhead(task_list, floor):
    """Seconds of module start-up: every module task counts up to `floor` (the cost of a near-empty module run)."""
    if not floor:
        return None
    return sum(min(t["seconds"], floor) for t in task_list
               if not t["skipped"] and not t["action"].endswith(IN_PROCESS))


def breakdown(task_list, wall):
    """Seconds per category; what the tasks do not account for is start-up and the gaps between tasks."""
    shares = {name: 0.0 for name, _ in CATEGORIES}
    shares[OTHER] = 0.0
    for t in task_list:
        name = next((n for n, test in CATEGORIES if test(t["file"], t["action"])), OTHER)
        shares[name] += t["seconds"]
    shares[STARTUP] = max(0.0, wall - sum(shares.values()))
    return shares
