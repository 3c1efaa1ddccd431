"""tools/summarise-tests.py: the closing line of `make test` never hides a failure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("summarise_tests", ROOT / "tools" / "summarise-tests.py")
summarise = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(summarise)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}"/>
</testsuites>"""


def record(results, *stages):
    (results / "stages.raw").write_text("".join(f"{name}\t{outcome}\t{seconds}\n" for name, outcome, seconds in stages))


def test_counts_pytest_stages_by_test_and_other_stages_as_one(tmp_path, capsys):
    record(tmp_path, ("ruff", "passed", 1), ("unit", "passed", 90), ("molecule-default", "failed", 300))
    (tmp_path / "unit.xml").write_text(JUNIT.format(tests=10, failures=1, errors=1, skipped=2))
    assert summarise.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "summary: 7 passed, 3 failed, 2 skipped"
    rows = (tmp_path / "stages.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["stage", "status", "seconds", "passed", "failed", "skipped"]
    assert rows[2].split("\t") == ["unit", "passed", "90", "6", "2", "2"]


def test_a_failed_command_counts_as_a_failure_even_when_its_report_shows_none(tmp_path, capsys):
    # pytest exits non-zero on a collection error or when no test ran (exit 5); its XML may say 0 failures.
    record(tmp_path, ("localstack-suites", "failed", 12))
    (tmp_path / "localstack-suites.xml").write_text(JUNIT.format(tests=0, failures=0, errors=0, skipped=0))
    assert summarise.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "summary: 0 passed, 1 failed, 0 skipped"


def test_no_stage_at_all_is_a_failure(tmp_path, capsys):
    assert summarise.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "summary: 0 passed, 1 failed, 0 skipped"


def test_all_passed_exits_zero(tmp_path, capsys):
    record(tmp_path, ("yamllint", "passed", 2), ("unit", "passed", 60))
    (tmp_path / "unit.xml").write_text(JUNIT.format(tests=5, failures=0, errors=0, skipped=0))
    assert summarise.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "summary: 6 passed, 0 failed, 0 skipped"
