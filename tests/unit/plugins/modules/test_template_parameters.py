"""template_parameters checks values against the real template's constraints,
names the input each bad value came from, and makes no API call."""

from __future__ import annotations

import pytest
from tap_moto_stack import TEMPLATE_PATH as TEMPLATE

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.modules import template_parameters

INPUT_NAMES = {"Environment": "ebook_stack_environment", "EnableLogging": "ebook_stack_enable_logging"}


@pytest.fixture
def check(run):
    def check_parameters(parameters):
        args = {
            "template_path": TEMPLATE,
            "parameters": parameters,
            "input_names": INPUT_NAMES,
            "input_prefix": "ebook_stack_parameters.",
        }
        return run(template_parameters, args)

    return check_parameters


def test_good_values_come_back_as_strings(check):
    result = check({"Environment": "dev", "EnableLogging": True, "LogRetentionDays": 30, "AlertEmail": ""})
    assert not result.get("failed"), result
    assert result["parameters"] == {
        "Environment": "dev", "EnableLogging": "true", "LogRetentionDays": "30", "AlertEmail": "",
    }
    assert result["changed"] is False


@pytest.mark.parametrize("logging", [True, False])
def test_names_are_the_templates_for_the_environment_with_or_without_logging(check, logging):
    """What a teardown deletes when no stack is left to say it: the template's names, the log bucket's too
    (a retained one keeps its name after EnableLogging is turned off)."""
    from tests.support.aws import bucket_names

    result = check({"Environment": "test", "EnableLogging": logging})
    data, logs = bucket_names("test")
    assert result["names"]["EbooksBucketName"] == data
    assert result["names"]["LoggingBucketName"] == logs
    assert result["names"]["EnvironmentName"] == "test"
    assert result["names"]["StorageMonitoringFunctionName"].endswith("-test")


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"Environment": "qa"}, "ebook_stack_environment='qa' is not one of dev, test, prod"),
        ({"EnableLogging": "maybe"}, "ebook_stack_enable_logging='maybe' is not one of"),
        ({"LogRetentionDays": -5}, "ebook_stack_parameters.LogRetentionDays='-5' is not one of"),
        ({"MonitoringSchedule": "every day"}, "ebook_stack_parameters.MonitoringSchedule='every day' does not match"),
        ({"AlertEmail": "not-an-email"}, "ebook_stack_parameters.AlertEmail='not-an-email' does not match"),
        ({"ExpectedDailyUploads": 0}, "ebook_stack_parameters.ExpectedDailyUploads='0' is below the minimum"),
        ({"ExpectedDailyUploads": "many"}, "ebook_stack_parameters.ExpectedDailyUploads='many' is not a number"),
        ({"Bogus": 1}, "ebook_stack_parameters.Bogus: the template has no parameter Bogus"),
    ],
)
def test_a_bad_value_fails_naming_the_input_and_what_is_allowed(check, parameters, expected):
    result = check(parameters)
    assert result["failed"] is True
    assert result["msg"].startswith("Bad stack parameters, nothing was changed: ")
    assert expected in result["msg"]


def test_every_bad_value_is_reported_at_once(check):
    result = check({"Environment": "qa", "LogRetentionDays": -5})
    assert len(result["errors"]) == 2


def test_the_constraint_description_tells_what_is_allowed(check):
    result = check({"MonitoringSchedule": "every day"})
    with open(TEMPLATE, encoding="utf-8") as handle:
        template = load_template(handle.read())
    description = template["Parameters"]["MonitoringSchedule"]["ConstraintDescription"]
    assert description in result["msg"]


def test_a_missing_template_is_a_clear_failure(run, tmp_path):
    args = {"template_path": str(tmp_path / "nope.yml"), "parameters": {}}
    result = run(template_parameters, args)
    assert result["failed"] is True
    assert "Could not read the template" in result["msg"] and "nope.yml" in result["msg"]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # The inventory's prod values and the template's transition default: fine.
        ({"NoncurrentVersionExpirationDays": 730}, None),
        # Expiration at the transition day, with the transition's default (30).
        ({"NoncurrentVersionExpirationDays": 31, "NoncurrentVersionTransitionDays": 31},
         "ebook_stack_parameters.NoncurrentVersionExpirationDays=31 must be above "
         "ebook_stack_parameters.NoncurrentVersionTransitionDays=31"),
        # A later transition than the expiration's default (365).
        ({"NoncurrentVersionTransitionDays": 400},
         "NoncurrentVersionExpirationDays=365 (the template's default) must be above "
         "ebook_stack_parameters.NoncurrentVersionTransitionDays=400"),
    ],
)
def test_an_expiration_must_stay_above_its_transition(check, parameters, expected):
    """S3 refuses such a lifecycle rule; the pair is read from the template's rule, defaults filled in."""
    result = check(parameters)
    if expected is None:
        assert not result.get("failed"), result
    else:
        assert result.get("failed") is True, result
        assert result["msg"].startswith("Bad stack parameters, nothing was changed: " + expected), result["msg"]
        assert "EbooksS3Bucket" in result["msg"]
