"""The closing lines of a `make test` run, from what tools/run-tests.sh recorded.

    summarise-tests.py RESULTS_DIR            table of stages, stages.tsv, then the summary line
    summarise-tests.py --counts RESULTS_DIR STAGE   " - N passed, N failed, N skipped" of one stage

A pytest stage counts its tests (from its JUnit XML); any other stage
(a linter, a Molecule scenario) counts as one test. A stage whose command
failed counts at least one failure, even when its XML shows none (a
collection error, or pytest's exit 5 when no test ran): a failure is never
hidden behind a count.
"""

from __future__ import annotations

import pathlib
import sys
import xml.etree.ElementTree as ET


def junit_counts(report: pathlib.Path) -> tuple[int, int, int] | None:
    if not report.exists():
        return None
    try:
        root = ET.parse(report).getroot()
    except ET.ParseError:
        return None
    passed = failed = skipped = 0
    for suite in root.iter("testsuite"):
        total = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += total - bad - skip
        failed += bad
        skipped += skip
    return passed, failed, skipped


def stage_counts(results: pathlib.Path, name: str, outcome: str) -> tuple[int, int, int]:
    counts = junit_counts(results / f"{name}.xml")
    if counts is None:
        return (1, 0, 0) if outcome == "passed" else (0, 1, 0)
    passed, failed, skipped = counts
    if outcome != "passed" and failed == 0:
        failed = 1
    return passed, failed, skipped


def recorded_stages(results: pathlib.Path) -> list[tuple[str, str, int]]:
    raw = results / "stages.raw"
    if not raw.exists():
        return []
    stages = []
    for line in raw.read_text().splitlines():
        name, outcome, seconds = line.split("\t")
        stages.append((name, outcome, int(seconds)))
    return stages


def main(argv: list[str]) -> int:
    if argv[:1] == ["--counts"]:
        results, name = pathlib.Path(argv[1]), argv[2]
        outcome = next((o for n, o, _s in recorded_stages(results) if n == name), "failed")
        passed, failed, skipped = stage_counts(results, name, outcome)
        print(f" - {passed} passed, {failed} failed, {skipped} skipped")
        return 0
    results = pathlib.Path(argv[0])
    stages = recorded_stages(results)
    rows = []
    totals = [0, 0, 0]
    for name, outcome, seconds in stages:
        counts = stage_counts(results, name, outcome)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        rows.append((name, outcome, seconds, *counts))
    (results / "stages.tsv").write_text(
        "stage\tstatus\tseconds\tpassed\tfailed\tskipped\n"
        + "".join("\t".join(str(value) for value in row) + "\n" for row in rows))
    width = max([len(row[0]) for row in rows] + [5])
    print(f"\n{'stage':<{width}}  status  seconds  passed  failed  skipped")
    for name, outcome, seconds, passed, failed, skipped in rows:
        print(f"{name:<{width}}  {outcome:<6}  {seconds:>7}  {passed:>6}  {failed:>6}  {skipped:>7}")
    if not rows:
        totals[1] += 1
        print("no stage ran")
    passed, failed, skipped = totals
    print(f"summary: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
