"""bench/run: benchmarks on a LocalStack of our own. Ratios to baselines measured in the same run, no asserts."""

import argparse
import dataclasses
import shutil
import signal
import sys
import time
import traceback
from datetime import UTC, datetime

from bench import (about, analysis, aws, cleanup, config, deploy_run, extrapolate, localstack_ctl, measure,
                   phase_deploy, phase_inventory, phase_lambda, phase_make_test, phase_monitor, phase_setup,
                   phase_startup, phase_upload, phase_verify, report)
from tests.support.aws import describe_stack

PHASES = ("startup", "deploy", "verify", "lambda", "monitor", "upload", "inventory", "cold", "maketest")
# Phases that need no LocalStack of the bench's own.
NO_LOCALSTACK = {"maketest", "inventory"}
# Phases that take many minutes: only with --full or when named.
LONG_PHASES = {"cold", "maketest"}


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="regular check, 1k and 10k objects, ~6 min (default)")
    group.add_argument("--full", action="store_true", help="more runs, 100k objects, cold setup")
    parser.add_argument("--cold", action="store_true", help="also time a cold make deploy on a fresh clone")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold setups to time (default 1: minutes each)")
    parser.add_argument("--only", help=f"comma-separated phases out of {','.join(PHASES)}")
    parser.add_argument("--runs", type=int, help="override the run counts of the mode")
    args = parser.parse_args(argv)
    mode = config.FULL if args.full else config.QUICK
    if args.runs:
        mode = dataclasses.replace(mode, runs=args.runs, heavy_runs=args.runs, startup_runs=args.runs,
                                   upload_runs=args.runs)
    phases = set(args.only.split(",")) if args.only else set(PHASES) - (set() if mode.cold else LONG_PHASES)
    if args.cold:
        phases.add("cold")
    if unknown := phases - set(PHASES):
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    return mode, phases, args


def _ensure_stack(port):
    """Later phases need the dev stack: deploy it (untimed) when the deploy phase did not run."""
    if describe_stack(aws.client("cloudformation", port), config.STACK) is None:
        measure.say("Deploy", "deploying the dev stack for the later phases (not timed)")
        deploy_run.run(port, "deploy-fixture")


def _run_phases(mode, phases, args, results):
    port = config.MAIN_PORT
    figures, errors = results["figures"], results["errors"]

    def attempt(name, function, *fargs):
        try:
            return function(*fargs)
        except Exception as exc:  # one phase's failure must not lose the others' figures
            errors.append(f"{name}: {exc}")
            measure.say(name, f"FAILED: {exc}")
            (config.SCRATCH / "logs" / f"error-{name}.txt").write_text(traceback.format_exc())
            return None

    needs_localstack = bool(phases - NO_LOCALSTACK)
    if needs_localstack:
        measure.say("LocalStack", f"starting the bench LocalStack on :{port} (playbooks/localstack.yml)")
        main_start = localstack_ctl.role_start(port, config.MAIN_STATE, name="localstack-main")
        measure.say("LocalStack", f"healthy after {main_start:.1f} s")
    if "startup" in phases:
        figures.append(attempt("startup", phase_startup.startup, mode, main_start))
    warm = None
    if "deploy" in phases:
        figures.append(attempt("deploy", phase_deploy.create, mode, port))
        pair = attempt("deploy", phase_deploy.unchanged_and_warm, mode, port)
        if pair:
            figures.extend(pair)
            warm = pair[1]
        figures.append(attempt("deploy", phase_deploy.update, mode, port))
    if phases & {"verify", "lambda", "monitor", "upload"}:
        attempt("deploy", _ensure_stack, port)
    if "verify" in phases:
        figures.extend(attempt("verify", phase_verify.verify, mode, port) or [])
    if "lambda" in phases:
        figures.extend(attempt("lambda", phase_lambda.invocations, mode, port) or [])
    if "monitor" in phases:
        found = attempt("monitor", phase_monitor.monitor, mode, port)
        if found:
            figures.extend(found[0])
            results["monitor_projection"] = attempt("monitor", extrapolate.project, *found)
    if "upload" in phases:
        figures.extend(attempt("upload", phase_upload.upload, mode, port) or [])
    if "cold" in phases and warm is None:  # the cold setup's baseline: a warm make deploy of this run
        attempt("deploy", _ensure_stack, port)
        one = dataclasses.replace(mode, heavy_runs=1)
        warm = (attempt("deploy", phase_deploy.unchanged_and_warm, one, port) or [None, None])[1]
    if needs_localstack:
        measure.say("LocalStack", "stopping the bench LocalStack (playbooks/localstack.yml)")
        localstack_ctl.role_stop(port, config.MAIN_STATE, check=False)
    if "inventory" in phases:  # CPU-bound, on a quiet machine: after the LocalStack phases
        found = attempt("inventory", phase_inventory.inventory, mode, results.get("monitor_projection"))
        if found:
            figures.append(found[0])
            results["inventory"] = found[1]
    if "cold" in phases and warm:
        figures.append(attempt("cold", phase_setup.cold, args.cold_runs, warm))
    if "maketest" in phases:  # alone on the machine: the runner starts LocalStacks of its own
        figures.extend(attempt("maketest", phase_make_test.make_test, 1) or [])
    results["figures"] = [f for f in figures if f]
    results["analysis"] = analysis.derive(results["figures"])


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None):
    mode, phases, args = _arguments(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)  # bench/run forwards Ctrl-C as SIGTERM
    cleanup.stop_all(verbose=True)  # leftovers of an interrupted earlier run
    shutil.rmtree(config.SCRATCH / "logs", ignore_errors=True)
    config.SCRATCH.mkdir(parents=True, exist_ok=True)
    for port in (config.MAIN_PORT, config.STARTUP_PORT, config.CLONE_PORT):
        if localstack_ctl.port_in_use(port):
            sys.exit(f"bench: port {port} is in use (not by this benchmark); free it and run again")
    load_start = measure.load1()
    started = time.time()
    results = {"mode": mode.name, "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "settings": dataclasses.asdict(mode), "phases": sorted(phases), "figures": [], "errors": [],
               "monitor_projection": None, "inventory": None, "analysis": {}, "notes": report.NOTES,
               "machine": about.describe()}
    measure.say("bench", f"mode {mode.name}, phases {', '.join(p for p in PHASES if p in phases)}; "
                f"logs in {config.SCRATCH.relative_to(config.ROOT)}/logs")
    try:
        _run_phases(mode, phases, args, results)
    except KeyboardInterrupt:
        results["errors"].append("interrupted")
        measure.say("bench", "interrupted: stopping our LocalStacks, writing what was measured")
    finally:
        cleanup.stop_all(verbose=False)
        results["duration_s"] = time.time() - started
        results["machine"].update(about.load_summary(load_start))
        text, dated = report.write(results)
        print("\n" + text)
        print(f"results: {dated.relative_to(config.ROOT)} (and bench/results/latest.json, latest.md)")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
