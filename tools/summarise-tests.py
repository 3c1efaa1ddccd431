"""Print one closing line for a `make test` run: tests passed and failed over
every pytest run (from their JUnit XML) and every Molecule scenario."""

import pathlib
import sys
import xml.etree.ElementTree as ET

results = pathlib.Path(sys.argv[1])
passed = failed = skipped = 0
for report in sorted(results.glob("*.xml")):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        total = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += total - bad - skip
        failed += bad
        skipped += skip
molecule = results / "molecule.txt"
if molecule.exists():
    for line in molecule.read_text().splitlines():
        name, outcome, seconds = line.split()
        print(f"molecule scenario {name}: {outcome} in {seconds} s")
        passed += outcome == "passed"
        failed += outcome != "passed"
print(f"summary: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
