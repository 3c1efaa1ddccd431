"""Derived numbers: how much of deploy.yml is the fixed cost of starting Ansible modules."""

def _by_id(figures):
    return {f["id"]: f for f in figures}


def derive(figures):
    found = _by_id(figures)
    out = {}
    create = found.get("deploy.create")
    if create and create.get("module_overhead_s"):
        # Each module task counted up to the same run's pre-flight task (start-up of an AWS module + a few calls).
        per_module = create["module_floor_s"]
        startup = create["module_overhead_s"]
        out["deploy_module_startup"] = {
            "module_runs": create["module_runs"], "seconds_per_module_run": per_module,
            "estimated_s": startup, "share_of_create": startup / create["median"],
            "cloudformation_poll_sleep_s": 5.0,  # amazon.aws.cloudformation sleeps 5 s between polls
        }
    if create:
        parts = create["breakdown"]
        top = max(parts, key=parts.get)
        out["deploy_create_largest_task_group"] = {"name": top, "seconds": parts[top],
                                                   "share": parts[top] / create["median"]}
    monitors = [f for f in figures if f["id"].startswith("monitor.")]
    if monitors:  # what the monitor spends beyond one bare listing: mostly its HEADs of new objects
        out["monitor_beyond_listing_share"] = {str(f["objects"]): 1 - f["baseline"]["median"] / f["median"]
                                               for f in monitors}
    return out
