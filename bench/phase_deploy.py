"""Deploy figures: create, unchanged re-run, update (logging toggled), warm `make deploy`; against bare boto3."""

from bench import aws, cfn_bare, config, deploy_run, localstack_ctl, measure, procs
from tests.support.aws import describe_stack, stack_name

SECTION = "Deploy"


def create(mode, port):
    """Each round: reset, bare create; reset, deploy.yml create (the stack of the later phases)."""
    cf = aws.client("cloudformation", port)
    ensure_bare_stack(port)  # also warms LocalStack's CloudFormation, IAM, Lambda... up: no first-run penalty
    ansible_runs, bare = [], []
    for i in range(mode.heavy_runs):
        cfn_bare.reset(port, config.ENV)
        bare.append(cfn_bare.create(cf, config.ENV))
        measure.say(SECTION, f"create {i + 1}/{mode.heavy_runs}: bare create_stack {bare[-1]:.1f} s")
        cfn_bare.reset(port, config.ENV)
        ansible_runs.append(deploy_run.run(port, f"deploy-create-{i + 1}"))
        measure.say(SECTION, f"create {i + 1}/{mode.heavy_runs}: deploy.yml {ansible_runs[-1]['seconds']:.1f} s")
    return measure.figure(
        "deploy.create", SECTION, "create the stack: deploy.yml", [r["seconds"] for r in ansible_runs],
        "bare create_stack + describe_stacks every 0.5 s", bare,
        breakdown=deploy_run.median_breakdown(ansible_runs), module_runs=ansible_runs[-1]["module_runs"],
        module_floor_s=measure.median([r["module_floor_s"] for r in ansible_runs]),
        module_overhead_s=measure.median([r["module_overhead_s"] for r in ansible_runs]),
        note="same template and parameters; the bare create runs after a reset of the same environment")


def ensure_bare_stack(port):
    """The bare baselines' own stack (no-op and update), created once, logging on."""
    cf = aws.client("cloudformation", port)
    if describe_stack(cf, stack_name(config.BARE_ENV)) is None:
        cfn_bare.reset(port, config.BARE_ENV)
        cfn_bare.create(cf, config.BARE_ENV)


def unchanged_and_warm(mode, port):
    """Each run is `make deploy`'s steps on a warm machine: setup (up to date), LocalStack (answers), deploy.yml."""
    cf = aws.client("cloudformation", port)
    ensure_bare_stack(port)
    env = procs.ansible_env(None)
    runs, warm, bare = [], [], []
    for i in range(mode.heavy_runs):
        setup_s, _ = procs.run(["tools/setup-environments.sh"], f"setup-warm-{i + 1}", env=env)
        start_s = localstack_ctl.role_start(port, config.MAIN_STATE, name=f"localstack-noop-{i + 1}")
        runs.append(deploy_run.run(port, f"deploy-unchanged-{i + 1}"))
        if runs[-1]["changed"]:
            raise RuntimeError("an unchanged deploy.yml re-run reported a change")
        warm.append(setup_s + start_s + runs[-1]["seconds"])
        bare.append(cfn_bare.noop(cf, config.BARE_ENV))
        measure.say(SECTION, f"unchanged {i + 1}/{mode.heavy_runs}: setup {setup_s:.1f} s + LocalStack check "
                    f"{start_s:.1f} s + deploy.yml {runs[-1]['seconds']:.1f} s; bare no-op update {bare[-1]:.2f} s")
    unchanged = measure.figure(
        "deploy.unchanged", SECTION, "unchanged re-run: deploy.yml (changed=0)", [r["seconds"] for r in runs],
        "bare update_stack -> 'No updates are to be performed'", bare,
        breakdown=deploy_run.median_breakdown(runs))
    warm_figure = measure.figure(
        "setup.warm", "Setup", "warm `make deploy` (setup + LocalStack check + deploy.yml)", warm,
        "bare update_stack -> 'No updates'", bare,
        note="run as make deploy's steps against the bench LocalStack (make deploy itself targets :4566)")
    return unchanged, warm_figure


def update(mode, port):
    """Toggle EnableLogging off and on again: deploy.yml on dev, bare update_stack on the bare stack."""
    cf = aws.client("cloudformation", port)
    ensure_bare_stack(port)
    ansible_runs, bare = [], []
    runs = max(2, mode.heavy_runs + mode.heavy_runs % 2)  # even: the stack ends with logging on, as declared
    for i in range(runs):
        logging = i % 2 == 1
        bare.append(cfn_bare.update(cf, config.BARE_ENV, logging))
        ansible_runs.append(deploy_run.run(port, f"deploy-update-{i + 1}",
                                           [f"ebook_stack_enable_logging={str(logging).lower()}"]))
        measure.say(SECTION, f"update {i + 1}/{runs} (logging {'on' if logging else 'off'}): deploy.yml "
                    f"{ansible_runs[-1]['seconds']:.1f} s, bare update_stack {bare[-1]:.1f} s")
    return measure.figure(
        "deploy.update", SECTION, "update (EnableLogging toggled): deploy.yml", [r["seconds"] for r in ansible_runs],
        "bare update_stack + poll 0.5 s", bare, breakdown=deploy_run.median_breakdown(ansible_runs),
        note="runs alternate off/on; the bare stack is environment 'test'")
