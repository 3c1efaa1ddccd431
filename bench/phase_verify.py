"""Verification: storage_verify alone (ad-hoc), its AWS API calls, against the floor of any AWS module run."""

import json

from bench import ansible_json, aws, config, measure, procs

SECTION = "Verify"


def _adhoc(port, module, args, name):
    """`ansible localhost -m module -a args`: (wall seconds, task seconds, result)."""
    cmd = ["ansible", "localhost", "-i", "inventories/dev", "-m", module, "-a", json.dumps(args)]
    seconds, stdout = procs.run(cmd, name, env=procs.ansible_env(aws.endpoint(port)))
    task = ansible_json.result_of(stdout, module)
    if task is None or task["result"].get("failed"):
        raise RuntimeError(f"{module} did not succeed; see the log of {name}")
    return seconds, task["seconds"], task["result"]


def verify(mode, port):
    common = {"endpoint_url": aws.endpoint(port), "region": config.REGION}
    walls, tasks, floor_walls, floor_tasks, calls = [], [], [], [], None
    for i in range(mode.runs):
        wall, task, result = _adhoc(port, "tap.ebook_storage.storage_verify",
                                    {"stack_name": config.STACK, "fail_on_failed": False, **common},
                                    f"verify-{i + 1}")
        calls = result["api_calls"]
        walls.append(wall)
        tasks.append(task)
        f_wall, f_task, _ = _adhoc(port, "amazon.aws.aws_caller_info", common, f"caller-info-{i + 1}")
        floor_walls.append(f_wall)
        floor_tasks.append(f_task)
        measure.say(SECTION, f"{i + 1}/{mode.runs}: storage_verify {task:.2f} s ({calls['total']} API calls, "
                    f"{result['summary']['passed']} passed); aws_caller_info {f_task:.2f} s")
    per_call = (measure.median(tasks) - measure.median(floor_tasks)) / max(1, calls["total"] - 1)
    module = measure.figure(
        "verify.module", SECTION, "storage_verify, module run (task time)", tasks,
        "amazon.aws.aws_caller_info (1 API call): floor of an AWS module run", floor_tasks,
        api_calls=calls["total"], api_calls_by_operation=calls["by_operation"], seconds_per_extra_call=per_call)
    adhoc = measure.figure(
        "verify.adhoc", SECTION, "storage_verify via `ansible localhost -m` (wall)", walls,
        "aws_caller_info via `ansible localhost -m` (wall)", floor_walls)
    return module, adhoc
