"""LocalStack start-up, start to healthy, on a spare port: through the role against the bare process."""

from bench import config, localstack_ctl, measure

SECTION = "LocalStack"


def startup(mode, main_start_s):
    port, state = config.STARTUP_PORT, config.STARTUP_STATE
    role, raw = [main_start_s], []
    for i in range(mode.startup_runs):
        steps = [("role", role), ("raw", raw)] if i % 2 == 0 else [("raw", raw), ("role", role)]
        for how, into in steps:
            if how == "role":
                into.append(localstack_ctl.role_start(port, state, name=f"localstack-startup-{i + 1}"))
                localstack_ctl.role_stop(port, state)
            else:
                into.append(localstack_ctl.raw_start(port, state))
                localstack_ctl.raw_stop(state)
        measure.say(SECTION, f"start-up {i + 1}/{mode.startup_runs}: role {role[-1]:.1f} s, bare {raw[-1]:.1f} s")
    return measure.figure(
        "localstack.startup", SECTION, "start to healthy via playbooks/localstack.yml", role,
        "bare `python -m localstack.runtime.main`, health polled every 0.1 s", raw,
        note="the first role sample is the bench's own LocalStack; the role polls health once a second")
