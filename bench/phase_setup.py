"""Cold setup: `make deploy`'s steps on a fresh clone with pip's cache off, its LocalStack on a spare port."""

import os
import shutil
import tempfile
from pathlib import Path

from bench import cleanup, config, deploy_run, localstack_ctl, measure, procs

SECTION = "Setup"


def _clean_env():
    env = dict(os.environ)
    env["PIP_NO_CACHE_DIR"] = "1"  # every package is downloaded again
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if not p.startswith(str(config.ROOT)))
    env.pop("VIRTUAL_ENV", None)
    env.pop("LOCALSTACK_ENDPOINT", None)
    return env


def _per_environment(lines, total):
    """Seconds per environment from setup's '[setup] creating DIR ...' lines; the rest is 'other'."""
    marks = [(t, text.split()[2]) for t, text in lines if text.startswith("[setup] creating ")]
    out = {}
    for (start, name), (end, _) in zip(marks, [*marks[1:], (total, None)], strict=True):
        out[name] = end - start
    out["other"] = total - sum(out.values())
    return out


def cold_once(run):
    clone = Path(tempfile.mkdtemp(prefix="bench-clone-"))
    cleanup.CLONE_RECORD.parent.mkdir(parents=True, exist_ok=True)
    cleanup.CLONE_RECORD.write_text(str(clone))
    port, state = config.CLONE_PORT, clone / ".localstack"
    steps = {}
    try:
        steps["git clone"], _ = procs.run(["git", "clone", "-q", str(config.ROOT), str(clone)], f"cold-clone-{run}")
        measure.say(SECTION, f"cold {run}: git clone {steps['git clone']:.1f} s; setup (pip cache off) ...")
        setup_s, lines = procs.run_stamped(["tools/setup-environments.sh"], f"cold-setup-{run}",
                                           env=_clean_env(), cwd=clone)
        per_env = _per_environment(lines, setup_s)
        steps.update({f"setup: {k}": v for k, v in per_env.items()})
        measure.say(SECTION, f"cold {run}: setup {setup_s:.0f} s ("
                    + ", ".join(f"{k} {v:.0f} s" for k, v in per_env.items()) + f"); starting LocalStack on :{port}")
        steps["LocalStack start"] = localstack_ctl.role_start(port, state, root=clone, name=f"cold-localstack-{run}")
        result = deploy_run.run(port, f"cold-deploy-{run}", root=clone, outputs_dir=clone / "cfn-outputs")
        steps["deploy.yml (create)"] = result["seconds"]
        measure.say(SECTION, f"cold {run}: LocalStack {steps['LocalStack start']:.1f} s, deploy.yml "
                    f"{result['seconds']:.1f} s")
    finally:
        localstack_ctl.role_stop(port, state, root=clone, check=False)
        localstack_ctl.raw_stop(state)  # in case the clone's controller could not run the stop
        shutil.rmtree(clone, ignore_errors=True)
        cleanup.CLONE_RECORD.unlink(missing_ok=True)
    return sum(steps.values()), steps


def cold(runs, warm_figure):
    totals, steps = [], []
    for run in range(1, runs + 1):
        total, parts = cold_once(run)
        totals.append(total)
        steps.append(parts)
    return measure.figure(
        "setup.cold", SECTION, "cold `make deploy` on a fresh clone (pip cache off)", totals,
        "warm `make deploy` (this run)", warm_figure["runs"],
        steps={k: measure.median([s[k] for s in steps]) for k in steps[0]},
        note="git clone of the committed tree; setup + LocalStack start on a spare port + deploy.yml create")
