"""Bad input stops deploy.yml before any change, with a message that names the input.

Each case: exit code != 0, the message names the input (and what is wrong with it), and no stack was created
or changed: dev is deployed while they run (its status, update time and parameters must stay as they were)
and test must not appear. The runs are independent and fail early, so they run a few at a time; the
unreachable-endpoint case runs alone because its duration is part of what it checks.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.aws import delete_alias, retire_key, stack_name, stack_snapshot

SUFFIX = uuid.uuid4().hex[:8]
MISSING_ALIAS = f"alias/itest-missing-{SUFFIX}"
DISABLED_ALIAS = f"alias/itest-disabled-{SUFFIX}"
PENDING_ALIAS = f"alias/itest-pending-{SUFFIX}"

# id: (inventory, extra vars, texts the message must contain)
CASES = {
    "environment-not-allowed": (
        "inventories/dev", {"ebook_stack_environment": "qa"},
        ["ebook_stack_environment", "qa", "dev, test, prod"]),
    "environment-not-the-inventory": (
        "inventories/dev", {"ebook_stack_environment": "test"},
        ["ebook_stack_environment=test", "inventory is for dev"]),
    "logging-not-a-boolean": (
        "inventories/dev", {"ebook_stack_enable_logging": "maybe"},
        ["ebook_stack_enable_logging", "maybe"]),
    "log-retention-negative": (
        "inventories/dev", {"ebook_stack_parameters": {"LogRetentionDays": -5}},
        ["ebook_stack_parameters.LogRetentionDays", "-5"]),
    "override-retention-negative": (
        "inventories/dev", {"ebook_stack_parameter_overrides": {"LogRetentionDays": -5}},
        ["ebook_stack_parameter_overrides.LogRetentionDays", "-5"]),
    "expiration-not-after-transition": (
        "inventories/dev", {"ebook_stack_parameter_overrides": {"NoncurrentVersionTransitionDays": 400}},
        ["NoncurrentVersionExpirationDays=365 (the template's default) must be above "
         "ebook_stack_parameter_overrides.NoncurrentVersionTransitionDays=400"]),
    "override-of-a-dedicated-input": (
        "inventories/dev", {"ebook_stack_parameter_overrides": {"KmsKeyAlias": "alias/x"}},
        ["ebook_stack_parameter_overrides sets KmsKeyAlias", "ebook_stack_kms_key_alias"]),
    "schedule-not-an-expression": (
        "inventories/dev", {"ebook_stack_parameters": {"MonitoringSchedule": "every day"}},
        ["ebook_stack_parameters.MonitoringSchedule", "every day"]),
    "alert-email-not-an-address": (
        "inventories/dev", {"ebook_stack_parameters": {"AlertEmail": "not-an-email"}},
        ["ebook_stack_parameters.AlertEmail", "not-an-email"]),
    "endpoint-malformed": (
        "inventories/dev", {"ebook_stack_endpoint_url": "htp:/x"},
        ["ebook_stack_endpoint_url=htp:/x"]),
    "kms-alias-missing": (
        "inventories/dev", {"ebook_stack_kms_key_alias": MISSING_ALIAS},
        [f"ebook_stack_kms_key_alias={MISSING_ALIAS}", "no key has this alias"]),
    "kms-alias-disabled-key": (
        "inventories/dev", {"ebook_stack_kms_key_alias": DISABLED_ALIAS},
        [f"ebook_stack_kms_key_alias={DISABLED_ALIAS}", "Disabled"]),
    "kms-alias-key-pending-deletion": (
        "inventories/test", {"ebook_stack_kms_key_alias": PENDING_ALIAS},
        [f"ebook_stack_kms_key_alias={PENDING_ALIAS}", "PendingDeletion"]),
}
UNREACHABLE = "http://127.0.0.1:9"
UNREACHABLE_LIMIT_S = 15


@pytest.fixture(scope="module")
def bad_keys(aws):
    """A disabled key and a key pending deletion, each behind an alias; removed afterwards."""
    kms = aws("kms")
    disabled = kms.create_key(Description="itest: disabled key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=DISABLED_ALIAS, TargetKeyId=disabled)
    kms.disable_key(KeyId=disabled)
    pending = kms.create_key(Description="itest: key pending deletion")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=PENDING_ALIAS, TargetKeyId=pending)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    yield
    for alias in (DISABLED_ALIAS, PENDING_ALIAS):
        delete_alias(kms, alias)
    retire_key(kms, disabled)


@pytest.fixture(scope="module")
def runs(run_playbook, aws, bad_keys, deployments):
    """Every case's result, and the stacks before and after all of them (dev deployed, test absent)."""
    deployments.ensure("dev")
    cfn = aws("cloudformation")
    before = stack_snapshot(cfn)
    assert stack_name("dev") in before and stack_name("test") not in before, before
    unreachable = run_playbook("deploy.yml", "inventories/dev", extra_vars={"ebook_stack_endpoint_url": UNREACHABLE})
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {case: pool.submit(run_playbook, "deploy.yml", inv, extra_vars=extra)
                   for case, (inv, extra, _texts) in CASES.items()}
        results = {case: future.result() for case, future in futures.items()}
    results["endpoint-does-not-answer"] = unreachable
    return results, before, stack_snapshot(cfn)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_stops_before_any_change(case, runs):
    results, before, after = runs
    result = results[case]
    _inv, _extra, texts = CASES[case]
    assert result.rc != 0, f"accepted bad input:\n{result.describe()}"
    assert result.recap is not None and result.recap["failed"] >= 1 and result.recap["changed"] == 0, result.describe()
    message = result.text()
    for text in texts:
        assert text in message, f"the message does not name {text!r}:\n{result.describe()}"
    assert not [n for n in result.task_names() if "Create or update" in n], "a stack change was attempted"
    assert after == before, f"stacks changed: before {before}, after {after}"


def test_endpoint_that_does_not_answer_fails_fast(runs):
    results, before, after = runs
    result = results["endpoint-does-not-answer"]
    assert result.rc != 0, result.describe()
    assert result.recap["changed"] == 0, result.describe()
    assert UNREACHABLE in "\n".join(result.failures()), result.describe()
    assert "does not answer" in result.text(), result.describe()
    assert result.seconds <= UNREACHABLE_LIMIT_S, (
        f"took {result.seconds:.1f} s (play {result.play_seconds():.1f} s), more than {UNREACHABLE_LIMIT_S} s")
    assert after == before
