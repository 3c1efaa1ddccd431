"""`make test` per stage: tools/run-tests.sh all in this checkout, environments already built.

The runner records each stage's seconds and test counts in .build/test-results/stages.tsv; this phase
reads them back. The whole run is set beside the recorded run before the suite was consolidated
(bench/results/make-test-before.json: the sequential runner, its stages and their seconds); its stages
were cut differently, so they are listed, not paired with today's.
"""

import json
import os
import resource
import time

from bench import config, measure, procs

SECTION = "make test"
STAGES_FILE = config.ROOT / ".build" / "test-results" / "stages.tsv"
BEFORE_FILE = config.RESULTS / "make-test-before.json"


def _stages():
    lines = STAGES_FILE.read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    for row in rows:
        for key in ("seconds", "passed", "failed", "skipped"):
            row[key] = int(row[key])
    return rows


def _before():
    if not BEFORE_FILE.exists():
        return {"total_s": None, "stages": {}, "source": "none recorded"}
    return json.loads(BEFORE_FILE.read_text())


def make_test(runs):
    """Figures: the whole run's wall time and CPU, then one per stage (all from the last run)."""
    env = dict(os.environ)
    env.pop("LOCALSTACK_ENDPOINT", None)  # the runner starts its own LocalStack, as for a user
    walls, cpus, stages = [], [], []
    for run in range(1, runs + 1):
        measure.say(SECTION, f"run {run}/{runs}: tools/run-tests.sh all (about 10 min) ...")
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        seconds, _out = procs.run(["tools/run-tests.sh", "all"], f"make-test-{run}", env=env, check=False)
        walls.append(time.perf_counter() - started)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime))
        stages = _stages()
        counts = [sum(s[k] for s in stages) for k in ("passed", "failed", "skipped")]
        measure.say(SECTION, f"run {run}: {seconds:.0f} s wall, {cpus[-1]:.0f} CPU-s; "
                    f"{counts[0]} passed, {counts[1]} failed, {counts[2]} skipped")
    before = _before()
    before_total = [before["total_s"]] if before.get("total_s") else []
    label = f"before ({before.get('source', '')})"
    figures = [measure.figure("make_test.total", SECTION, "make test, all stages (wall)", walls, label,
                              before_total, note="environments built; LocalStack started by the runner",
                              cpu_s=measure.median(cpus),
                              counts=dict(zip(("passed", "failed", "skipped"), counts, strict=True)))]
    for stage in stages:
        figures.append(measure.figure(
            f"make_test.{stage['stage']}", SECTION, f"stage {stage['stage']} ({stage['passed']} passed, "
            f"{stage['failed']} failed)", [stage["seconds"]], "-", []))
    for name, seconds in before.get("stages", {}).items():
        figures.append(measure.figure(f"make_test.before.{name}", SECTION, f"before: stage {name}", [seconds],
                                      "-", []))
    return figures
