"""Changes to prod as an operator makes them, on a prod-like stack: the prod inventory pointed at LocalStack.

The prod inventory keeps e-book versions for 730 days and the monitor's logs for 365. An ``-e`` of
``ebook_stack_parameters`` replaces that whole dictionary (Ansible does not merge extra vars), which would put
both back to the template's defaults and expire versions for good. What is proven here:

* such a deploy stops before any change and lists each data-deleting change, with the fix;
* review mode shows every parameter's old and new value and marks the data-deleting ones, and changes nothing;
* ``ebook_stack_parameter_overrides`` changes only what it names; the inventory's other values stay;
* an intended shorter expiry is applied only with ``ebook_stack_confirm_data_loss=true``.

LocalStack enforces nothing of this: every refusal is the role's, before the first API call that writes.
"""

from __future__ import annotations

import pytest

from tests.support.aws import describe_stack, force_cleanup, stack_name, stack_parameters, stack_snapshot
from tests.support.environment import DUMMY_CREDENTIALS

PROD = stack_name("prod")


@pytest.fixture(scope="module")
def prod_like(localstack_endpoint, run_playbook, aws):
    """deploy(extra_vars=None, review=False) -> PlaybookResult of deploy.yml -i inventories/prod on LocalStack."""

    def deploy(extra_vars=None, review=False):
        extra = {"ebook_stack_endpoint_url": localstack_endpoint, "ebook_stack_aws_env": DUMMY_CREDENTIALS}
        extra.update(extra_vars or {})
        if review:
            extra["ebook_stack_review"] = True
        return run_playbook("deploy.yml", "inventories/prod", extra_vars=extra)

    first = deploy()
    assert first.rc == 0, first.describe()
    yield deploy
    force_cleanup(aws, "prod")


def parameters(aws):
    return stack_parameters(describe_stack(aws("cloudformation"), PROD))


def review_lines(result):
    return [line for r in result.find(name="Show what would change") for line in r.get("msg") or []]


def test_a_replaced_parameters_dict_stops_before_any_change(prod_like, aws):
    before = stack_snapshot(aws("cloudformation"), envs=("prod",))
    result = prod_like({"ebook_stack_parameters": {"ExpectedDailyUploads": 3500}})
    assert result.rc != 0, result.describe()
    message = "\n".join(result.failures())
    assert "can delete stored data. Nothing was changed." in message, message
    assert "NoncurrentVersionExpirationDays 730 -> 365" in message, message
    assert "LogRetentionDays 365 -> 90" in message, message
    assert "ebook_stack_parameter_overrides" in message and "ebook_stack_confirm_data_loss=true" in message, message
    assert stack_snapshot(aws("cloudformation"), envs=("prod",)) == before


def test_review_shows_old_and_new_values_and_marks_data_loss(prod_like, aws):
    before = stack_snapshot(aws("cloudformation"), envs=("prod",))
    result = prod_like({"ebook_stack_parameter_overrides": {"ExpectedDailyUploads": 4000,
                                                            "NoncurrentVersionExpirationDays": 400}}, review=True)
    assert result.rc == 0, result.describe()
    lines = review_lines(result)
    assert any(line.startswith("   ExpectedDailyUploads") and line.endswith("3000 -> 4000") for line in lines), lines
    assert any(line.startswith("!! NoncurrentVersionExpirationDays") and line.endswith("730 -> 400")
               for line in lines), lines
    assert "In prod it is applied only with -e ebook_stack_confirm_data_loss=true." in lines, lines
    assert result.recap["changed"] == 0, result.describe()
    assert stack_snapshot(aws("cloudformation"), envs=("prod",)) == before


def test_overrides_change_only_what_they_name(prod_like, aws):
    result = prod_like({"ebook_stack_parameter_overrides": {"ExpectedDailyUploads": 3500}})
    assert result.rc == 0, result.describe()
    assert not [line for line in review_lines(result) if line.startswith("!!")], review_lines(result)
    values = parameters(aws)
    assert values["ExpectedDailyUploads"] == "3500"
    assert values["NoncurrentVersionExpirationDays"] == "730"
    assert values["LogRetentionDays"] == "365"


def test_a_confirmed_shorter_expiry_is_applied(prod_like, aws):
    refused = prod_like({"ebook_stack_parameter_overrides": {"NoncurrentVersionExpirationDays": 700}})
    assert refused.rc != 0 and parameters(aws)["NoncurrentVersionExpirationDays"] == "730", refused.describe()

    result = prod_like({"ebook_stack_parameter_overrides": {"NoncurrentVersionExpirationDays": 700},
                        "ebook_stack_confirm_data_loss": True})
    assert result.rc == 0, result.describe()
    assert parameters(aws)["NoncurrentVersionExpirationDays"] == "700"
    rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=PROD)["Rules"]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules if "NoncurrentVersionExpiration" in r] \
        == [700], rules
