"""Read the ansible.posix.jsonl output of a run: per-task durations, results, and where the time went."""

import json
from datetime import datetime

PREFLIGHT = "pre-flight and stack state"
AFTER_DEPLOY = "parity, outputs and verification"
# (category, test on (task file, action)), first match wins. The role's tasks before 1.1.0 (separate probes,
# stack-state files, three modules after the deploy) fall into the same categories, so runs compare.
CATEGORIES = [
    ("validation (no API call)", lambda f, a: f == "validate.yml" or a.endswith("validate_argument_spec")),
    (PREFLIGHT, lambda f, a: f in ("preflight.yml", "stack_state.yml", "failed_state.yml") or a.endswith(".preflight")),
    ("CloudFormation (amazon.aws.cloudformation)", lambda f, a: a == "amazon.aws.cloudformation"),
    (AFTER_DEPLOY, lambda f, a: a.endswith(("localstack_parity", "stack_outputs", "storage_verify", "post_deploy"))),
]
# The categories of results recorded before 1.1.0, by their new name.
OLD_CATEGORIES = {"pre-flight checks": PREFLIGHT, "stack state read": PREFLIGHT, "LocalStack parity": AFTER_DEPLOY,
                  "outputs files (stack_outputs)": AFTER_DEPLOY, "verification (storage_verify)": AFTER_DEPLOY}
OTHER = "other tasks (includes, asserts, tables)"
STARTUP = "ansible-playbook start-up, between tasks"
# Actions that run in the controller process (template_parameters is an action plugin); every other task starts
# a module process.
IN_PROCESS = ("include_role", "include_tasks", "import_tasks", "set_fact", "assert", "debug", "fail",
              "validate_argument_spec", "meta", "template_parameters")


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


def regrouped(shares):
    """A breakdown recorded with the old categories, in the current ones."""
    out = {}
    for name, seconds in shares.items():
        key = OLD_CATEGORIES.get(name, name)
        out[key] = out.get(key, 0.0) + seconds
    return out
