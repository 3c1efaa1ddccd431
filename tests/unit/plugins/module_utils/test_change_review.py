"""change_review: which changes of a deploy can delete stored data, read from the real template."""

from __future__ import annotations

import pytest
from tap_moto_stack import TEMPLATE_PATH

from ansible_collections.tap.ebook_storage.plugins.module_utils import change_review as cr
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import given_parameter_values
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template

with open(TEMPLATE_PATH, encoding="utf-8") as _handle:
    BODY = _handle.read()
TEMPLATE = load_template(BODY)
PROD = given_parameter_values(
    TEMPLATE, {"Environment": "prod", "NoncurrentVersionExpirationDays": "730", "LogRetentionDays": "365"}
)


def resource_change(logical_id, kind, action="Modify", replacement="False"):
    return {"Type": "Resource", "ResourceChange": {"Action": action, "LogicalResourceId": logical_id,
                                                   "ResourceType": kind, "Replacement": replacement}}


def test_the_expiry_parameters_are_read_from_the_template():
    found = cr.expiry_parameters(TEMPLATE)
    assert set(found) == {"NoncurrentVersionExpirationDays", "AccessLogRetentionDays", "LogRetentionDays"}
    assert found["LogRetentionDays"] == ["StorageMonitoringLogGroup.RetentionInDays"]
    # A transition moves data, it deletes nothing.
    assert "NoncurrentVersionTransitionDays" not in found


def test_a_replaced_parameters_dict_shows_every_default_it_falls_back_to():
    review = cr.review(BODY, PROD, {"Environment": "prod", "ExpectedDailyUploads": "3500"}, [], True)
    rows = {p["parameter"]: p for p in review["parameters"]}
    assert set(rows) == {"ExpectedDailyUploads", "NoncurrentVersionExpirationDays", "LogRetentionDays"}
    assert (rows["ExpectedDailyUploads"]["old"], rows["ExpectedDailyUploads"]["new"]) == ("3000", "3500")
    assert rows["ExpectedDailyUploads"]["data_loss"] is None
    assert rows["NoncurrentVersionExpirationDays"]["new"] == "365"
    assert len(review["data_loss"]) == 2
    assert "!! NoncurrentVersionExpirationDays    730 -> 365" in review["table"]


@pytest.mark.parametrize(("name", "new", "loses"), [
    ("NoncurrentVersionExpirationDays", "731", False),  # longer keeps more
    ("NoncurrentVersionExpirationDays", "729", True),
    ("AccessLogRetentionDays", "30", True),
    ("LogRetentionDays", "3653", False),
    ("NoncurrentVersionTransitionDays", "60", False),
    ("StorageAlertThresholdGB", "1", False),
])
def test_only_a_shorter_expiry_deletes_data(name, new, loses):
    given = dict(PROD, **{name: new})
    review = cr.review(BODY, PROD, given, [], True)
    assert [p["parameter"] for p in review["parameters"]] == [name]
    assert bool(review["data_loss"]) is loses


def test_numbers_compare_as_numbers():
    given = dict(PROD, NoncurrentVersionExpirationDays="730.0")
    assert cr.review(BODY, PROD, given, [], True)["parameters"] == []


@pytest.mark.parametrize(("change", "loses"), [
    (resource_change("EbooksS3Bucket", "AWS::S3::Bucket"), False),
    (resource_change("EbooksS3Bucket", "AWS::S3::Bucket", replacement="True"), True),
    (resource_change("EbooksKmsKey", "AWS::KMS::Key", action="Remove", replacement="None"), True),
    (resource_change("StorageMonitoringLogGroup", "AWS::Logs::LogGroup", replacement="Conditional"), True),
    (resource_change("StorageMonitoringFunction", "AWS::Lambda::Function", replacement="True"), False),
    (resource_change("EbooksKmsKeyAlias", "AWS::KMS::Alias", action="Remove"), False),
])
def test_a_data_resource_replaced_or_removed_is_marked(change, loses):
    review = cr.review(BODY, PROD, PROD, [change], True)
    assert bool(review["data_loss"]) is loses
    marked = [line for line in review["table"] if line.startswith("!!")]
    assert bool(marked) is loses


def test_a_new_stack_has_no_parameter_changes():
    review = cr.review(BODY, {}, {"Environment": "prod"}, [], False)
    assert review["parameters"] == [] and review["data_loss"] == []
    assert review["table"][0].startswith("The stack does not exist")


def test_the_module_reads_the_template_file(run):
    from ansible_collections.tap.ebook_storage.plugins.modules import change_review

    result = run(change_review, {"template_path": TEMPLATE_PATH, "stack_parameters": PROD,
                                 "parameters": dict(PROD, LogRetentionDays="90"),
                                 "changes": "No changes"})
    assert result["changed"] is False
    assert [p["parameter"] for p in result["parameters"]] == ["LogRetentionDays"]
    assert result["resources"] == []
