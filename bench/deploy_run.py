"""One `ansible-playbook deploy.yml -i inventories/dev` run, timed, with its per-task breakdown."""

from bench import ansible_json, aws, config, measure, procs


def run(port, name, extra_vars=(), root=config.ROOT, outputs_dir=None):
    """Returns {seconds, breakdown, module_runs, changed, verify_api_calls}."""
    outputs_dir = outputs_dir or config.SCRATCH / "cfn-outputs"  # never the checkout's cfn-outputs/
    cmd = ["ansible-playbook", "deploy.yml", "-i", "inventories/dev", "-e", f"ebook_stack_outputs_dir={outputs_dir}"]
    for item in extra_vars:
        cmd += ["-e", item]
    seconds, stdout = procs.run(cmd, name, env=procs.ansible_env(aws.endpoint(port), root), cwd=root)
    tasks = ansible_json.tasks(stdout)
    deploy = ansible_json.result_of(stdout, "amazon.aws.cloudformation")
    verify = ansible_json.result_of(stdout, "post_deploy")
    caller = ansible_json.result_of(stdout, ".preflight")  # near the floor of an AWS module run, in-run
    return {
        "seconds": seconds,
        "breakdown": ansible_json.breakdown(tasks, seconds),
        "module_runs": ansible_json.module_runs(tasks),
        "module_floor_s": caller["seconds"] if caller else None,
        "module_overhead_s": ansible_json.module_overhead(tasks, caller["seconds"] if caller else None),
        "changed": bool(deploy and deploy["result"].get("changed")),
        "verify_api_calls": (verify["result"].get("api_calls") or {}).get("total") if verify else None,
    }


def median_breakdown(runs):
    keys = runs[0]["breakdown"].keys()
    return {k: measure.median([r["breakdown"][k] for r in runs]) for k in keys}
