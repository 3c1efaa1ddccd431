"""Every row of policy_table.yml, decided against files/TapStack.yml for every configuration of the table.

The rows state Allow or Deny and what decides it; the policies are the template's, resolved with the
repository's resolver. A row the evaluator cannot decide fails (PolicyEvaluationError / TableError): nothing
is skipped. See docs/template.md, "The policy table".
"""

from __future__ import annotations

import pytest

from .support import decide, decided_by, expected, expected_by, load_table

TABLE = load_table()
CASES = [
    pytest.param(row, config, id=f"{config}:{row['id']}")
    for row in TABLE["rows"]
    for config in TABLE["configurations"]
    if config in row.get("configs", TABLE["configurations"])
]
GAPS = (
    "1-managed-key-bypass",
    "2-reads",
    "3-key-spellings",
    "4-retained-policies",
    "5-alert-path",
    "6-key-change",
    "7-writes",
    "7-monitor-permissions",
    "8-publishers",
    "9-inventory",
)


@pytest.mark.parametrize(("row", "config"), CASES)
def test_row(row, config):
    effect, labels = decide(TABLE, row, config)
    want = expected(row, config)
    assert effect == want, f"{row['id']} ({config}): {effect} by {labels}, the table says {want}: {row['reason']}"
    by = expected_by(row, config)
    if by:
        assert decided_by(by, labels), f"{row['id']} ({config}): decided by {labels}, the table says {by}"
    elif want == "Deny":
        pytest.fail(f"{row['id']} ({config}): a Deny row must say what decides it (by:)")


def test_table_size_and_gaps():
    rows = TABLE["rows"]
    assert len(rows) >= 40
    assert len({r["id"] for r in rows}) == len(rows), "row ids must be unique"
    for gap in GAPS:
        assert any(str(r["gap"]).startswith(gap) for r in rows), f"no row proves gap {gap}"
    assert len(TABLE["configurations"]) >= 2


def test_every_principal_kind_is_covered():
    used = {r["principal"] for r in TABLE["rows"]}
    assert used == set(TABLE["principals"]), set(TABLE["principals"]) - used
