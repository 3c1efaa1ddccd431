"""LocalStack start-up, start to healthy, on a spare port: through the role against the bare process."""

from bench import config, localstack_ctl, measure

SECTION = "LocalStack"


def startup(mode, main_start_s):
    """The bench's own start is the first role sample; then rounds of bare start (+ role start) on a spare port."""
    port, state = config.STARTUP_PORT, config.STARTUP_STATE
    role, raw = [main_start_s], []
    rounds = mode.startup_runs + 1
    for i in range(rounds):
        raw.append(localstack_ctl.raw_start(port, state))
        localstack_ctl.raw_stop(state)
        text = f"start-up {i + 1}/{rounds}: bare {raw[-1]:.1f} s"
        if i < mode.startup_runs:
            role.append(localstack_ctl.role_start(port, state, name=f"localstack-startup-{i + 1}"))
            localstack_ctl.role_stop(port, state)
            text += f", role {role[-1]:.1f} s"
        measure.say(SECTION, text)
    return measure.figure(
        "localstack.startup", SECTION, "start to healthy via playbooks/localstack.yml", role,
        "the role's command without Ansible, health polled every 0.1 s", raw,
        note="the first role sample is the bench's own LocalStack; the role polls health once a second")
