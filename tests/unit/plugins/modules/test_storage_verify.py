# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import re
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from tap_moto_stack import ACCESS_ROLE
from tap_moto_stack import ACCOUNT
from tap_moto_stack import DATA_BUCKET
from tap_moto_stack import FUNCTION
from tap_moto_stack import LOG_BUCKET
from tap_moto_stack import LOG_GROUP
from tap_moto_stack import MONITOR_ROLE
from tap_moto_stack import REGION
from tap_moto_stack import RULE
from tap_moto_stack import STACK
from tap_moto_stack import TAGS
from tap_moto_stack import TOPIC_ARN
from tap_moto_stack import UPLOAD_RULE
from tap_moto_stack import create_complete_stack
from tap_moto_stack import create_stack
from tap_moto_stack import queue_monitor_report

from ansible_collections.tap.ebook_storage.plugins.modules import storage_verify


def verify(run, template_text, **options):
    args = {"stack_name": STACK, "template_body": template_text, "fail_on_failed": False}
    args.update(options)
    return run(storage_verify, args)


def by_id(result):
    return {c["id"]: c for c in result["checks"]}


def failed_ids(result):
    return sorted(c["id"] for c in result["checks"] if c["status"] == "failed")


def test_every_check_passes_on_a_complete_stack(stack, run, template_text):
    result = verify(run, template_text, fail_on_failed=True)
    assert result["failed"] is False, [c for c in result["checks"] if c["status"] == "failed"]
    assert result["changed"] is False
    assert result["summary"]["failed"] == 0
    assert result["summary"]["skipped"] == 2  # the functional checks
    assert result["summary"]["total"] == len(result["checks"]) == result["summary"]["passed"] + 2
    ids = set(by_id(result))
    for expected in (
        "stack.status",
        "bucket.encryption",
        "bucket.bucket_key",
        "bucket.versioning",
        "bucket.public_access_block",
        "bucket.ownership",
        "bucket.acl",
        "bucket.logging",
        "bucket.lifecycle",
        "bucket.tags",
        "logging_bucket.lifecycle",
        "bucket.inventory",
        "bucket.notifications",
        "logging_bucket.inventory",
        "logging_bucket.notifications",
        "logging_bucket_policy.AllowS3InventoryDelivery",
        "events.upload_check.rule",
        "events.upload_check.pattern",
        "events.upload_check.target",
        "events.upload_check.tags",
        "bucket_policy.DenyInsecureTransport",
        "bucket_policy.DenyOutdatedTls",
        "bucket_policy.DenyWrongEncryptionHeader",
        "bucket_policy.DenyWrongKmsKey",
        "bucket_policy.DenySseC",
        "bucket_policy.DenyUnauthorisedWriters",
        "bucket_policy.DenyAwsManagedKey",
        "bucket_policy.DenyUnauthorisedReaders",
        "bucket_policy.no_public_allow",
        "logging_bucket_policy.AllowS3ServerAccessLogDelivery",
        "kms.enabled",
        "kms.rotation",
        "kms.alias",
        "kms.key_policy",
        "iam.S3AccessRole.inline_only",
        "iam.StorageMonitoringRole.trust_policy",
        "lambda.runtime",
        "lambda.environment",
        "lambda.log_group",
        "lambda.on_failure_destination",
        "lambda.permission",
        "events.rule",
        "events.target",
        "sns.encryption",
        "sns.policy",
        "functional.probe_object",
        "functional.monitor_invoke",
    ):
        assert expected in ids
    check = by_id(result)["bucket.encryption"]
    assert check["resource"] == f"arn:aws:s3:::{DATA_BUCKET}"
    assert check["expected"]["SSEAlgorithm"] == "aws:kms"
    assert check["observed"]["key_arn"] == check["expected"]["key_arn"]
    assert by_id(result)["events.rule"]["expected"] == {"State": "ENABLED", "ScheduleExpression": "cron(0 6 * * ? *)"}
    assert by_id(result)["events.upload_check.pattern"]["observed"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [DATA_BUCKET]}},
    }
    permission = by_id(result)["lambda.permission"]
    assert sorted(p["SourceArn"].rsplit("/", 1)[1] for p in permission["observed"]) == [RULE, UPLOAD_RULE]
    assert by_id(result)["bucket.inventory"]["expected"]["daily"]["bucket"] == f"arn:aws:s3:::{LOG_BUCKET}"


def test_deployed_template_is_the_default_reference(moto, run):
    """Without template_body the module reads the template with GetTemplate."""
    create_complete_stack()
    result = run(storage_verify, {"stack_name": STACK, "checks": ["bucket", "lambda", "events"]})
    assert result["failed"] is False, failed_ids(result)
    assert result["api_calls"]["by_operation"]["cloudformation:GetTemplate"] == 1
    # moto's CloudFormation skipped the bucket key and others; completion put them back, so all pass


def test_yaml_template_from_get_template(moto, run):
    """A template deployed as YAML comes back from GetTemplate as text with short tags."""
    body = "\n".join(
        [
            "Resources:",
            "  Books:",
            "    Type: AWS::S3::Bucket",
            "    Properties:",
            "      BucketName: !Sub 'books-${AWS::Region}'",
            "      VersioningConfiguration: {Status: Enabled}",
            "Outputs:",
            "  EbooksBucketName:",
            "    Value: !Ref Books",
        ]
    )
    create_stack(body, name="tiny", raw=True)
    result = run(storage_verify, {"stack_name": "tiny", "checks": ["bucket.versioning"], "fail_on_failed": False})
    check = by_id(result)["bucket.versioning"]
    assert check["status"] == "failed"
    assert check["observed"] is None
    boto3.client("s3").put_bucket_versioning(Bucket="books-us-east-1", VersioningConfiguration={"Status": "Enabled"})
    result = run(storage_verify, {"stack_name": "tiny", "checks": ["bucket.versioning"]})
    assert result["failed"] is False
    assert by_id(result)["bucket.versioning"]["status"] == "passed"


def _other_key():
    return boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]


def _s3():
    return boto3.client("s3", region_name=REGION)


def _deployed_policy():
    """The data bucket's policy as the stack fixture deployed it from the template."""
    return json.loads(_s3().get_bucket_policy(Bucket=DATA_BUCKET)["Policy"])


def _put_policy_without(sid):
    policy = _deployed_policy()
    assert sid in [s["Sid"] for s in policy["Statement"]]
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != sid]
    _s3().put_bucket_policy(Bucket=DATA_BUCKET, Policy=json.dumps(policy))


def _put_policy_changed(outputs):
    policy = _deployed_policy()
    (tls,) = [s for s in policy["Statement"] if s["Sid"] == "DenyOutdatedTls"]
    tls["Condition"] = {"NumericLessThan": {"s3:TlsVersion": "1.1"}}
    _s3().put_bucket_policy(Bucket=DATA_BUCKET, Policy=json.dumps(policy))


def _put_policy_public(outputs):
    policy = _deployed_policy()
    policy["Statement"].append(
        {
            "Sid": "Open",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{DATA_BUCKET}/*",
        }
    )
    _s3().put_bucket_policy(Bucket=DATA_BUCKET, Policy=json.dumps(policy))


def _encrypt_with_other_key(outputs):
    _s3().put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _other_key()},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )


def _encrypt_without_bucket_key(outputs):
    _s3().put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": outputs["KmsKeyId"],
                    },
                    "BucketKeyEnabled": False,
                }
            ]
        },
    )


def _public_acl(outputs):
    _s3().put_bucket_ownership_controls(
        Bucket=DATA_BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    _s3().put_bucket_acl(Bucket=DATA_BUCKET, ACL="public-read")


def _lambda():
    return boto3.client("lambda", region_name=REGION)


def _remove_permission_of(rule):
    """Drop the function's resource policy statement for one rule (as if the permission were deleted)."""
    policy = json.loads(_lambda().get_policy(FunctionName=FUNCTION)["Policy"])
    (sid,) = [s["Sid"] for s in policy["Statement"] if json.dumps(s.get("Condition", {})).find(f"rule/{rule}") >= 0]
    _lambda().remove_permission(FunctionName=FUNCTION, StatementId=sid)


def _inventory(**changes):
    s3 = _s3()
    config = s3.get_bucket_inventory_configuration(Bucket=DATA_BUCKET, Id="daily")["InventoryConfiguration"]
    config.update(changes)
    s3.put_bucket_inventory_configuration(Bucket=DATA_BUCKET, Id=config["Id"], InventoryConfiguration=config)


def _iam():
    return boto3.client("iam")


def _sns():
    return boto3.client("sns", region_name=REGION)


def _kms():
    return boto3.client("kms", region_name=REGION)


def _events():
    return boto3.client("events", region_name=REGION)


ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})

BREAKERS = {
    "bucket.encryption": lambda o: _s3().put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    ),
    "bucket.encryption/other-key": _encrypt_with_other_key,
    "bucket.bucket_key": _encrypt_without_bucket_key,
    "bucket.versioning": lambda o: _s3().put_bucket_versioning(
        Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"}
    ),
    "bucket.public_access_block": lambda o: _s3().put_public_access_block(
        Bucket=DATA_BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    ),
    "bucket.ownership": lambda o: _s3().put_bucket_ownership_controls(
        Bucket=DATA_BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    ),
    "bucket.acl": _public_acl,
    "bucket.logging": lambda o: _s3().put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={}),
    "bucket.lifecycle": lambda o: _s3().delete_bucket_lifecycle(Bucket=DATA_BUCKET),
    "bucket.tags": lambda o: _s3().put_bucket_tagging(
        Bucket=DATA_BUCKET, Tagging={"TagSet": [{"Key": "Project", "Value": "other"}]}
    ),
    "logging_bucket.lifecycle": lambda o: _s3().delete_bucket_lifecycle(Bucket=LOG_BUCKET),
    # s3-access/: the prefix the log bucket's policy lets S3 deliver to (moto checks it)
    "logging_bucket.logging": lambda o: _s3().put_bucket_logging(
        Bucket=LOG_BUCKET,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": LOG_BUCKET, "TargetPrefix": "s3-access/"}},
    ),
    "bucket_policy.DenySseC": lambda o: _put_policy_without("DenySseC"),
    "bucket_policy.DenyOutdatedTls": _put_policy_changed,
    "bucket_policy.no_public_allow": _put_policy_public,
    "logging_bucket_policy.AllowS3ServerAccessLogDelivery": lambda o: _s3().delete_bucket_policy(Bucket=LOG_BUCKET),
    "kms.enabled": lambda o: _kms().disable_key(KeyId=o["KmsKeyId"]),
    "kms.rotation": lambda o: _kms().disable_key_rotation(KeyId=o["KmsKeyId"]),
    "kms.alias": lambda o: _kms().delete_alias(AliasName="alias/ebooks-storage-dev"),
    "kms.key_policy": lambda o: _kms().put_key_policy(
        KeyId=o["KmsKeyId"],
        PolicyName="default",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}],
            }
        ),
    ),
    "kms.tags": lambda o: _kms().untag_resource(KeyId=o["KmsKeyId"], TagKeys=["Project"]),
    "iam.S3AccessRole.trust_policy": lambda o: _iam().update_assume_role_policy(
        RoleName=ACCESS_ROLE,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    ),
    "iam.S3AccessRole.inline_only": lambda o: _iam().attach_role_policy(
        RoleName=ACCESS_ROLE,
        PolicyArn=_iam().create_policy(PolicyName="managed", PolicyDocument=ALLOW_ALL)["Policy"]["Arn"],
    ),
    "iam.StorageMonitoringRole.inline_policies": lambda o: _iam().put_role_policy(
        RoleName=MONITOR_ROLE,
        PolicyName="storage-monitoring",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    ),
    "iam.StorageMonitoringRole.no_admin": lambda o: _iam().put_role_policy(
        RoleName=MONITOR_ROLE, PolicyName="Extra", PolicyDocument=ALLOW_ALL
    ),
    "iam.S3AccessRole.tags": lambda o: _iam().untag_role(RoleName=ACCESS_ROLE, TagKeys=["Environment"]),
    "lambda.runtime": lambda o: _lambda().update_function_configuration(FunctionName=FUNCTION, Runtime="python3.12"),
    "lambda.handler": lambda o: _lambda().update_function_configuration(FunctionName=FUNCTION, Handler="other.handler"),
    "lambda.timeout": lambda o: _lambda().update_function_configuration(FunctionName=FUNCTION, Timeout=30),
    "lambda.memory_size": lambda o: _lambda().update_function_configuration(FunctionName=FUNCTION, MemorySize=512),
    "lambda.role": lambda o: _lambda().update_function_configuration(FunctionName=FUNCTION, Role=o["S3AccessRoleArn"]),
    "lambda.environment": lambda o: _lambda().update_function_configuration(
        FunctionName=FUNCTION,
        Environment={
            "Variables": {"ENVIRONMENT": "dev", "BUCKET_NAME": "someone-elses-bucket", "SNS_TOPIC_ARN": TOPIC_ARN}
        },
    ),
    "lambda.log_group": lambda o: boto3.client("logs", region_name=REGION).delete_log_group(
        logGroupName=LOG_GROUP
    ),
    "lambda.log_group/retention": lambda o: boto3.client("logs", region_name=REGION).put_retention_policy(
        logGroupName=LOG_GROUP, retentionInDays=7
    ),
    "lambda.on_failure_destination": lambda o: (
        _lambda().delete_function_event_invoke_config(FunctionName=FUNCTION),
        _lambda().put_function_event_invoke_config(
            FunctionName=FUNCTION,
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sns:{REGION}:{ACCOUNT}:other"}},
        ),
    ),
    "lambda.on_failure_destination/none": lambda o: _lambda().delete_function_event_invoke_config(
        FunctionName=FUNCTION
    ),
    "lambda.permission": lambda o: _lambda().add_permission(
        FunctionName=FUNCTION,
        StatementId="other-rule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/other",
    ),
    "lambda.tags": lambda o: _lambda().untag_resource(Resource=o["StorageMonitoringFunctionArn"], TagKeys=["Project"]),
    "events.rule": lambda o: _events().disable_rule(Name=RULE),
    "events.rule/schedule": lambda o: _events().put_rule(
        Name=RULE, ScheduleExpression="rate(1 minute)", State="ENABLED"
    ),
    "events.target": lambda o: _events().remove_targets(Rule=RULE, Ids=["StorageMonitoringFunction"]),
    "events.upload_check.rule": lambda o: _events().disable_rule(Name=UPLOAD_RULE),
    "events.upload_check.pattern": lambda o: _events().put_rule(
        Name=UPLOAD_RULE,
        EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"]}),
        State="ENABLED",
    ),
    "events.upload_check.target": lambda o: _events().remove_targets(
        Rule=UPLOAD_RULE, Ids=["StorageMonitoringFunction"]
    ),
    "events.upload_check.tags": lambda o: _events().untag_resource(
        ResourceARN=_events().describe_rule(Name=UPLOAD_RULE)["Arn"], TagKeys=["Environment"]
    ),
    "lambda.permission/upload-rule": lambda o: _remove_permission_of(UPLOAD_RULE),
    "bucket.inventory": lambda o: _s3().delete_bucket_inventory_configuration(Bucket=DATA_BUCKET, Id="daily"),
    "bucket.inventory/weekly": lambda o: _inventory(Schedule={"Frequency": "Weekly"}),
    "bucket.inventory/other-id": lambda o: _inventory(Id="extra"),
    "bucket.notifications": lambda o: _s3().put_bucket_notification_configuration(
        Bucket=DATA_BUCKET, NotificationConfiguration={}
    ),
    "logging_bucket.notifications": lambda o: _s3().put_bucket_notification_configuration(
        Bucket=LOG_BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    ),
    "sns.encryption": lambda o: _sns().set_topic_attributes(
        TopicArn=TOPIC_ARN, AttributeName="KmsMasterKeyId", AttributeValue=_other_key()
    ),
    "sns.encryption/none": lambda o: _sns().set_topic_attributes(
        TopicArn=TOPIC_ARN, AttributeName="KmsMasterKeyId", AttributeValue=""
    ),
    "sns.policy": lambda o: _sns().set_topic_attributes(
        TopicArn=TOPIC_ARN,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC_ARN}],
            }
        ),
    ),
    "sns.tags": lambda o: _sns().untag_resource(ResourceArn=TOPIC_ARN, TagKeys=["ManagedBy"]),
}


@pytest.mark.parametrize("case", sorted(BREAKERS))
def test_each_check_fails_on_broken_state(stack, run, template_text, case):
    check_id = case.split("/")[0]
    BREAKERS[case](stack)
    result = verify(run, template_text)
    check = by_id(result)[check_id]
    assert check["status"] == "failed", check
    assert check["message"]
    assert result["failed"] is False  # fail_on_failed: false
    assert check_id in result["failed_checks"]


def test_fail_on_failed_fails_the_task_with_the_checks(stack, run, template_text):
    BREAKERS["bucket.versioning"](stack)
    BREAKERS["sns.tags"](stack)
    result = verify(run, template_text, fail_on_failed=True)
    assert result["failed"] is True
    assert result["failed_checks"] == ["bucket.versioning", "sns.tags"]
    assert "bucket.versioning, sns.tags" in result["msg"]
    assert result["summary"]["failed"] == 2
    assert len(result["checks"]) == result["summary"]["total"]


def test_access_denied_fails_the_check_not_the_module(stack, run, template_text):
    original = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call

    def deny(self, operation_name, api_params):
        if operation_name == "GetBucketEncryption":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation_name)
        return original(self, operation_name, api_params)

    with mock.patch("botocore.client.BaseClient._make_api_call", deny):
        result = verify(run, template_text)
    checks = by_id(result)
    assert checks["bucket.encryption"]["status"] == "failed"
    assert checks["bucket.encryption"]["observed"]["error"] == "AccessDenied"
    assert "GetBucketEncryption" in checks["bucket.encryption"]["message"]
    assert checks["bucket.bucket_key"]["status"] == "failed"
    assert checks["bucket.versioning"]["status"] == "passed"
    assert failed_ids(result) == [
        "bucket.bucket_key",
        "bucket.encryption",
        "logging_bucket.bucket_key",
        "logging_bucket.encryption",
    ]


def test_missing_stack(moto, run, template_text):
    result = run(storage_verify, {"stack_name": "absent"})
    assert result["failed"] is True
    assert result["msg"] == "stack absent does not exist in region us-east-1 (endpoint the default AWS endpoint)"


def test_selection_and_skip(stack, run, template_text):
    result = verify(run, template_text, checks=["bucket", "kms.enabled", "iam.*.trust_policy"], skip=["bucket.tags"])
    statuses = {c["id"]: c["status"] for c in result["checks"]}
    assert statuses["bucket.encryption"] == "passed"
    assert statuses["kms.enabled"] == "passed"
    assert statuses["iam.S3AccessRole.trust_policy"] == "passed"
    assert statuses["bucket.tags"] == "skipped"
    assert statuses["sns.policy"] == "skipped"
    assert statuses["logging_bucket.encryption"] == "skipped"
    assert by_id(result)["bucket.tags"]["message"] == "skipped on request"
    ops = result["api_calls"]["by_operation"]
    assert "sns:GetTopicAttributes" not in ops
    assert "lambda:GetFunctionConfiguration" not in ops


def test_unknown_selection_fails(stack, run, template_text):
    result = verify(run, template_text, checks=["no.such.check"])
    assert result["failed"] is True
    assert "none of the checks" in result["msg"]
    assert "bucket.encryption" in result["available_checks"]


def test_api_calls_are_counted(stack, run, template_text):
    result = verify(run, template_text)
    calls = result["api_calls"]
    assert calls["total"] == sum(calls["by_operation"].values())
    assert calls["by_operation"]["cloudformation:DescribeStacks"] == 1
    assert "cloudformation:GetTemplate" not in calls["by_operation"]  # template_body given
    # reads are shared between checks: one GetBucketPolicy per bucket
    assert calls["by_operation"]["s3:GetBucketPolicy"] == 2


def test_functional_round_trips(stack, run, template_text):
    # The bucket policy denies writes by anyone but the stack roles and administrators; moto's
    # caller (user/moto) is neither, so first show that, then run as if allowed.
    queue_monitor_report({"environment": "dev", "bucket": DATA_BUCKET})
    result = verify(run, template_text, checks=["functional"], functional=True)
    probe = by_id(result)["functional.probe_object"]
    assert probe["status"] == "failed"
    assert probe["observed"]["error"] in ("AccessDenied", "403")
    assert by_id(result)["functional.monitor_invoke"]["status"] == "passed"

    _s3().delete_bucket_policy(Bucket=DATA_BUCKET)
    queue_monitor_report(json.dumps({"statusCode": 200, "body": json.dumps({"Environment": "dev"})}))
    result = verify(run, template_text, checks=["functional"], functional=True, fail_on_failed=True)
    assert result["failed"] is False, result["checks"]
    probe = by_id(result)["functional.probe_object"]
    assert probe["observed"]["ServerSideEncryption"] == "aws:kms"
    assert probe["observed"]["key_arn"] == stack["KmsKeyArn"]
    assert probe["observed"]["Key"].startswith("_verify-probe/") and probe["observed"]["Key"].endswith(".pdf")
    assert probe["observed"]["left_behind"] == []
    versions = _s3().list_object_versions(Bucket=DATA_BUCKET, Prefix="_verify-probe/")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert result["changed"] is False


def test_functional_monitor_report_must_name_the_environment(stack, run, template_text):
    queue_monitor_report({"environment": "prod"})
    result = verify(run, template_text, checks=["functional.monitor_invoke"], functional=True)
    assert by_id(result)["functional.monitor_invoke"]["status"] == "failed"
    queue_monitor_report("not json")
    result = verify(run, template_text, checks=["functional.monitor_invoke"], functional=True)
    assert by_id(result)["functional.monitor_invoke"]["message"] == "the monitor's answer is not JSON"


def test_functional_checks_are_skipped_in_check_mode(stack, run, template_text):
    args = {
        "stack_name": STACK,
        "template_body": template_text,
        "functional": True,
        "checks": ["functional"],
        "fail_on_failed": False,
    }
    result = run(storage_verify, args, check_mode=True)
    assert {c["status"] for c in result["checks"]} == {"skipped"}
    assert "s3:PutObject" not in result["api_calls"]["by_operation"]


def test_unresolvable_template_value_fails_that_check(stack, run, template_text):
    broken = template_text.replace(
        "TransitionInDays: !Ref NoncurrentVersionTransitionDays", "TransitionInDays: !Ref NoSuchParameter"
    )
    result = verify(run, broken, checks=["bucket.lifecycle"])
    check = by_id(result)["bucket.lifecycle"]
    assert check["status"] == "failed"
    assert "Resources.EbooksS3Bucket.Properties.LifecycleConfiguration.Rules[0]" in check["message"]
    assert "NoSuchParameter" in check["message"]


def test_template_that_is_not_a_template_fails_clearly(stack, run):
    result = run(storage_verify, {"stack_name": STACK, "template_body": "- a\n- b\n"})
    assert result["failed"] is True
    assert result["msg"].startswith(f"cannot read the template of stack {STACK}")


def test_logging_disabled_stack(moto, run, template_text):
    create_complete_stack(parameters={"EnableLogging": "false"})
    result = verify(run, template_text)
    checks = by_id(result)
    assert not [c for c in checks if c.startswith("logging_bucket")]
    assert checks["bucket.logging"]["status"] == "passed"
    assert checks["bucket.logging"]["expected"] == "disabled"
    _s3().create_bucket(Bucket="somewhere", ACL="log-delivery-write")
    _s3().put_bucket_logging(
        Bucket=DATA_BUCKET, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "somewhere", "TargetPrefix": ""}}
    )
    result = verify(run, template_text, checks=["bucket.logging"])
    assert by_id(result)["bucket.logging"]["status"] == "failed"


def test_external_key(moto, run, template_text):
    kms = _kms()
    key = kms.create_key(Description="external")["KeyMetadata"]
    kms.create_alias(AliasName="alias/external-books", TargetKeyId=key["KeyId"])
    create_stack(parameters={"KmsKeyAlias": "alias/external-books"})
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/external-books"
    _s3().put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    result = verify(run, template_text, checks=["kms", "bucket.encryption", "sns.encryption"])
    checks = by_id(result)
    assert checks["kms.enabled"]["status"] == "passed"
    assert checks["kms.enabled"]["resource"] == alias_arn
    assert checks["kms.alias"]["observed"] == key["Arn"]
    assert checks["kms.rotation"]["status"] == "skipped"
    assert checks["kms.key_policy"]["status"] == "skipped"
    # declared as the alias ARN, deployed as the key ARN: the same key
    assert checks["bucket.encryption"]["status"] == "passed", checks["bucket.encryption"]
    assert checks["bucket.encryption"]["expected"]["KMSMasterKeyID"] == alias_arn
    # the topic is declared with the alias name and moto keeps it as given
    assert checks["sns.encryption"]["status"] == "passed", checks["sns.encryption"]

    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    result = verify(run, template_text, checks=["kms.enabled"])
    assert by_id(result)["kms.enabled"]["status"] == "failed"
    assert by_id(result)["kms.enabled"]["message"] == "the external key is pending deletion"


def test_tags_check_uses_template_tags_only(stack, run, template_text):
    _s3().put_bucket_tagging(
        Bucket=DATA_BUCKET, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in dict(TAGS, Extra="yes").items()]}
    )
    result = verify(run, template_text, checks=["bucket.tags"])
    assert by_id(result)["bucket.tags"]["status"] == "passed"


def test_resources_are_found_by_contract_outputs_not_logical_ids(moto, run, template_text):
    text = re.sub(r"EbooksS3Bucket(?![A-Za-z])", "BooksBucketRenamed", template_text)
    assert "EbooksBucketName:" in text and "!Ref BooksBucketRenamed" in text and "EbooksS3Bucket:" not in text
    create_complete_stack(text)
    result = run(storage_verify, {"stack_name": STACK, "template_body": text, "checks": ["bucket", "bucket_policy"]})
    assert result["failed"] is False, failed_ids(result)
    assert by_id(result)["bucket.versioning"]["resource"] == f"arn:aws:s3:::{DATA_BUCKET}"
