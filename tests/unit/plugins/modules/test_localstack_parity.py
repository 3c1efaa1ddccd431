# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from tap_moto_stack import DATA_BUCKET
from tap_moto_stack import LOG_BUCKET
from tap_moto_stack import LOG_GROUP
from tap_moto_stack import REGION
from tap_moto_stack import RULE
from tap_moto_stack import STACK
from tap_moto_stack import TAGS
from tap_moto_stack import UPLOAD_RULE
from tap_moto_stack import create_complete_stack

from ansible_collections.tap.ebook_storage.plugins.module_utils.monitor_parity import SCHEDULED_TAG
from ansible_collections.tap.ebook_storage.plugins.modules import localstack_parity
from ansible_collections.tap.ebook_storage.plugins.modules import storage_verify

BUCKET_CHECKS = ["bucket", "logging_bucket"]


def s3():
    return boto3.client("s3", region_name=REGION)


def parity(run, template_text, check_mode=False):
    return run(localstack_parity, {"stack_name": STACK, "template_body": template_text}, check_mode=check_mode)


def bucket_failures(run, template_text):
    result = run(
        storage_verify,
        {"stack_name": STACK, "template_body": template_text, "checks": BUCKET_CHECKS, "fail_on_failed": False},
    )
    return result["failed_checks"]


def incomplete_stack():
    """A stack as moto's CloudFormation leaves it: bucket settings partly missing, like LocalStack's."""
    return create_complete_stack(bucket_settings=False)


def test_applies_what_the_template_declares_then_is_idempotent(moto, run, template_text):
    outputs = incomplete_stack()
    assert bucket_failures(run, template_text)  # verification fails before parity

    first = parity(run, template_text)
    assert first["failed"] is False, first
    assert first["changed"] is True
    assert first["applied"] == [
        "logging_bucket.ownership",
        "logging_bucket.public_access_block",
        "logging_bucket.versioning",
        "logging_bucket.lifecycle",
        "data_bucket.ownership",
        "data_bucket.public_access_block",
        "data_bucket.encryption",
        "data_bucket.versioning",
        "data_bucket.lifecycle",
        "data_bucket.logging",
        "data_bucket.inventory",
        "data_bucket.notifications",
    ]
    data = first["desired"]["data_bucket"]
    assert data["settings"]["notifications"] == {"EventBridgeConfiguration": {}}
    (inventory,) = data["settings"]["inventory"]
    assert inventory["Destination"]["S3BucketDestination"] == {
        "Bucket": f"arn:aws:s3:::{LOG_BUCKET}",
        "Format": "CSV",
        "Prefix": "inventory",
    }
    assert s3().get_bucket_notification_configuration(Bucket=DATA_BUCKET).get("EventBridgeConfiguration") == {}
    listed = s3().list_bucket_inventory_configurations(Bucket=DATA_BUCKET)["InventoryConfigurationList"]
    assert [(c["Id"], c["IncludedObjectVersions"], c["Schedule"]["Frequency"]) for c in listed] == [
        ("daily", "All", "Daily")
    ]
    assert sorted(listed[0]["OptionalFields"]) == ["BucketKeyStatus", "EncryptionStatus", "LastModifiedDate", "Size"]
    assert data["bucket"] == DATA_BUCKET
    rule = data["settings"]["encryption"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == outputs["KmsKeyArn"]
    assert rule["BucketKeyEnabled"] is True
    assert data["settings"]["logging"] == {"TargetBucket": LOG_BUCKET, "TargetPrefix": "s3-access/"}

    assert bucket_failures(run, template_text) == []

    second = parity(run, template_text)
    assert second["changed"] is False
    assert second["applied"] == []
    writes = [op for op in second["api_calls"]["by_operation"] if ":Put" in op or ":Delete" in op]
    assert writes == []


def test_check_mode_reports_and_writes_nothing(moto, run, template_text):
    incomplete_stack()
    result = parity(run, template_text, check_mode=True)
    assert result["changed"] is True
    assert "data_bucket.encryption" in result["applied"]
    assert not [op for op in result["api_calls"]["by_operation"] if ":Put" in op]
    assert s3().get_bucket_versioning(Bucket=DATA_BUCKET).get("Status") is None


def test_public_acl_is_replaced_before_ownership_is_enforced(moto, run, template_text):
    """LocalStack creates buckets with a public-read ACL when AccessControl is left out."""
    incomplete_stack()
    s3().put_bucket_acl(Bucket=DATA_BUCKET, ACL="public-read")
    result = parity(run, template_text)
    applied = result["applied"]
    assert applied.index("data_bucket.acl") < applied.index("data_bucket.ownership")
    grants = s3().get_bucket_acl(Bucket=DATA_BUCKET)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert parity(run, template_text)["changed"] is False


def test_acl_when_ownership_is_already_enforced(moto, run, template_text):
    """If ACL calls are refused because BucketOwnerEnforced is on, ownership is relaxed for the call."""
    incomplete_stack()
    s3().put_bucket_acl(Bucket=DATA_BUCKET, ACL="public-read")
    original = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call
    state = {"refused": 0}

    def refuse_once(self, operation_name, api_params):
        if operation_name == "PutBucketAcl" and state["refused"] == 0:
            state["refused"] += 1
            raise ClientError(
                {"Error": {"Code": "AccessControlListNotSupported", "Message": "acl off"}}, operation_name
            )
        return original(self, operation_name, api_params)

    with mock.patch("botocore.client.BaseClient._make_api_call", refuse_once):
        result = parity(run, template_text)
    assert result["failed"] is False, result
    assert result["notes"] and "ObjectWriter" in result["notes"][0]
    ownership = s3().get_bucket_ownership_controls(Bucket=DATA_BUCKET)["OwnershipControls"]["Rules"][0]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"


def test_wrong_key_and_undeclared_lifecycle_are_corrected(moto, run, template_text):
    outputs = create_complete_stack()
    other = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    s3().put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    # the key given as its id is the same key as the declared ARN: no change for that
    s3().put_bucket_encryption(
        Bucket=LOG_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
        },
    )
    # s3-access/: the prefix the log bucket's policy lets S3 deliver to (moto checks it)
    s3().put_bucket_logging(
        Bucket=LOG_BUCKET,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": LOG_BUCKET, "TargetPrefix": "s3-access/"}},
    )
    result = parity(run, template_text)
    assert result["applied"] == ["logging_bucket.logging", "data_bucket.encryption"]
    assert s3().get_bucket_logging(Bucket=LOG_BUCKET).get("LoggingEnabled") is None
    key = s3().get_bucket_encryption(Bucket=DATA_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert key["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == outputs["KmsKeyArn"]


def test_same_key_by_id_is_not_rewritten(moto, run, template_text):
    outputs = create_complete_stack()
    s3().put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": outputs["KmsKeyId"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    result = parity(run, template_text)
    assert result["changed"] is False, result["applied"]


def test_logging_disabled_stack_has_only_the_data_bucket(moto, run, template_text):
    create_complete_stack(parameters={"EnableLogging": "false"}, bucket_settings=False)
    result = parity(run, template_text)
    assert list(result["desired"]) == ["data_bucket"]
    assert "data_bucket.logging" not in result["applied"]
    assert result["desired"]["data_bucket"]["settings"]["logging"] is None


def test_deployed_template_is_used_by_default(moto, run):
    incomplete_stack()
    result = run(localstack_parity, {"stack_name": STACK})
    assert result["failed"] is False
    assert result["api_calls"]["by_operation"]["cloudformation:GetTemplate"] == 1
    assert "data_bucket.versioning" in result["applied"]


def test_missing_stack(moto, run):
    result = run(localstack_parity, {"stack_name": "absent"})
    assert result["failed"] is True
    assert result["msg"] == "stack absent does not exist in region us-east-1 (endpoint the default AWS endpoint)"


def test_write_errors_name_the_bucket(moto, run, template_text):
    incomplete_stack()
    original = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call

    def deny(self, operation_name, api_params):
        # the data bucket's only: the log bucket, written first, has versioning declared too
        if operation_name == "PutBucketVersioning" and api_params["Bucket"] == DATA_BUCKET:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation_name)
        return original(self, operation_name, api_params)

    with mock.patch("botocore.client.BaseClient._make_api_call", deny):
        result = parity(run, template_text)
    assert result["failed"] is True
    assert result["msg"].startswith(f"cannot apply versioning to bucket {DATA_BUCKET}")
    assert "data_bucket.encryption" in result["applied"]


def test_log_group_retention_is_applied(moto, run, template_text):
    create_complete_stack()
    logs = boto3.client("logs", region_name=REGION)
    logs.delete_retention_policy(logGroupName=LOG_GROUP)
    result = parity(run, template_text)
    assert result["applied"] == ["log_group.retention"]
    group = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"][0]
    assert group["retentionInDays"] == 90
    assert parity(run, template_text)["changed"] is False


def test_schedule_rule_tags_are_applied(moto, run, template_text):
    create_complete_stack()
    events = boto3.client("events", region_name=REGION)
    arn = events.describe_rule(Name=RULE)["Arn"]
    # deployed without the rule's tags (moto's CloudFormation applies them; a provider may not)
    events.untag_resource(ResourceARN=arn, TagKeys=list(TAGS))

    def keys():
        return {t["Key"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]}

    assert keys() == {SCHEDULED_TAG}
    result = parity(run, template_text, check_mode=True)
    assert result["applied"] == ["schedule_rule.tags"]
    assert keys() == {SCHEDULED_TAG}
    parity(run, template_text)
    tags = events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags if t["Key"] != SCHEDULED_TAG} == TAGS
    assert "schedule_rule.tags" not in parity(run, template_text)["applied"]


def _rule(events):
    rule = events.describe_rule(Name=RULE)
    tags = {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}
    return rule, tags, events.list_targets_by_rule(Rule=RULE)["Targets"]


@pytest.mark.parametrize("how", ["changed by an update", "never scheduled by the parity step"])
def test_a_rule_whose_schedule_may_not_fire_is_created_again(moto, run, template_text, how):
    """LocalStack schedules a rule only on create: a changed expression is put in place by a new rule."""
    create_complete_stack()
    events = boto3.client("events", region_name=REGION)
    before, tags, targets = _rule(events)
    if how == "changed by an update":
        # What LocalStack's UpdateStack leaves: the new expression read back, the old one scheduled.
        events.put_rule(Name=RULE, ScheduleExpression="rate(1 minute)", State="ENABLED")
    else:
        events.untag_resource(ResourceARN=before["Arn"], TagKeys=[SCHEDULED_TAG])
    checked = parity(run, template_text, check_mode=True)
    assert checked["applied"] == ["schedule_rule.schedule"]
    result = parity(run, template_text)
    assert result["applied"] == ["schedule_rule.schedule"]
    after, after_tags, after_targets = _rule(events)
    assert after["ScheduleExpression"] == before["ScheduleExpression"]
    assert after["Arn"] == before["Arn"] and after["State"] == before["State"]
    assert after_targets == targets
    assert after_tags == dict(tags, **{SCHEDULED_TAG: before["ScheduleExpression"]})
    assert parity(run, template_text)["changed"] is False


def test_upload_check_rule_tags_are_applied(moto, run, template_text):
    """LocalStack keeps the upload check rule's pattern and target but drops its tags, like the schedule's."""
    create_complete_stack()
    events = boto3.client("events", region_name=REGION)
    arn = events.describe_rule(Name=UPLOAD_RULE)["Arn"]
    events.untag_resource(ResourceARN=arn, TagKeys=list(TAGS))
    assert parity(run, template_text, check_mode=True)["applied"] == ["upload_rule.tags"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    assert parity(run, template_text)["applied"] == ["upload_rule.tags"]
    assert {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]} == TAGS
    assert parity(run, template_text)["changed"] is False


def test_inventory_and_notifications_are_put_back_and_undeclared_ones_removed(moto, run, template_text):
    create_complete_stack()
    s3().delete_bucket_inventory_configuration(Bucket=DATA_BUCKET, Id="daily")
    s3().put_bucket_notification_configuration(Bucket=DATA_BUCKET, NotificationConfiguration={})
    undeclared = {
        "Id": "extra",
        "IsEnabled": True,
        "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{DATA_BUCKET}", "Format": "CSV"}},
        "IncludedObjectVersions": "Current",
        "Schedule": {"Frequency": "Weekly"},
    }
    s3().put_bucket_inventory_configuration(Bucket=LOG_BUCKET, Id="extra", InventoryConfiguration=undeclared)
    result = parity(run, template_text)
    assert result["applied"] == ["logging_bucket.inventory", "data_bucket.inventory", "data_bucket.notifications"]
    assert s3().list_bucket_inventory_configurations(Bucket=LOG_BUCKET).get("InventoryConfigurationList", []) == []
    listed = s3().list_bucket_inventory_configurations(Bucket=DATA_BUCKET)["InventoryConfigurationList"]
    assert [c["Id"] for c in listed] == ["daily"]
    assert s3().get_bucket_notification_configuration(Bucket=DATA_BUCKET).get("EventBridgeConfiguration") == {}
    assert bucket_failures(run, template_text) == []
    assert parity(run, template_text)["changed"] is False


def test_logging_disabled_stack_declares_no_inventory(moto, run, template_text):
    create_complete_stack(parameters={"EnableLogging": "false"}, bucket_settings=False)
    result = parity(run, template_text)
    settings = result["desired"]["data_bucket"]["settings"]
    assert settings["inventory"] is None
    assert settings["notifications"] == {"EventBridgeConfiguration": {}}
    assert "data_bucket.inventory" not in result["applied"]
    assert "data_bucket.notifications" in result["applied"]
