# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""preflight: the IMPORT change set that adopts retained buckets, by CloudFormation's rules for resource import.

An import may only add the resources it imports (each with a DeletionPolicy) and every Ref, Fn::GetAtt and
condition in the template must resolve within it; the parameters are the deploy's for a new stack
(PreviousKmsKeyArns extended by the keys the stored e-books use) and the previous ones for an existing stack.
What a deleted stack leaves is built here with boto3 in moto: the data bucket (SSE-KMS under the stack's key,
access logs, its policy), the log bucket with its policy, the key, and the DELETE_COMPLETE stack itself.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import boto3
import pytest
from tap_moto_stack import REGION
from tap_moto_stack import DATA_BUCKET as DATA
from tap_moto_stack import LOG_BUCKET as LOGS
from tap_moto_stack import STACK
from tap_moto_stack import create_stack

from ansible_collections.tap.ebook_storage.plugins.module_utils import preflight_checks
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import outside_references
from ansible_collections.tap.ebook_storage.plugins.modules import preflight

DATA_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": [f"arn:aws:s3:::{DATA}", f"arn:aws:s3:::{DATA}/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
LOGS_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AllowS3ServerAccessLogDelivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
     "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{LOGS}/s3-access/*"}]}
# What the deleted stack looked like, as DescribeStacks answers for it by its id: its parameters and outputs.
DELETED_STACK = {
    "Parameters": {"PreviousKmsKeyArns": {"Type": "String", "Default": ""},
                   "ExternalKmsKeyArn": {"Type": "String", "Default": ""}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"KmsKeyArn": {"Value": "placeholder"}},
}
PARAMETERS = {"Environment": "dev", "EnableLogging": "true", "KmsKeyAlias": "",
              "NoncurrentVersionExpirationDays": "730"}


def kms():
    return boto3.client("kms", region_name=REGION)


def s3():
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def retained(moto):
    """What deleting the whole dev stack leaves behind; the keys: ``own`` (the deleted stack's), ``older``
    (one it kept in PreviousKmsKeyArns after a key change)."""
    own = kms().create_key(Description="the deleted stack's key")["KeyMetadata"]
    older = kms().create_key(Description="a key before that one")["KeyMetadata"]
    client = s3()
    client.create_bucket(Bucket=LOGS)
    client.put_bucket_policy(Bucket=LOGS, Policy=json.dumps(LOGS_POLICY))
    client.create_bucket(Bucket=DATA)
    client.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_encryption(Bucket=DATA, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": own["KeyId"]},
         "BucketKeyEnabled": True}]})
    client.put_bucket_logging(Bucket=DATA, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": LOGS, "TargetPrefix": "s3-access/"}})
    client.put_object(Bucket=DATA, Key="before/novel.pdf", Body=b"%PDF-1.7", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=own["Arn"])
    client.put_bucket_policy(Bucket=DATA, Policy=json.dumps(DATA_POLICY))
    cfn = boto3.client("cloudformation", region_name=REGION)
    template = copy.deepcopy(DELETED_STACK)
    template["Outputs"]["KmsKeyArn"]["Value"] = own["Arn"]
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": "PreviousKmsKeyArns", "ParameterValue": older["Arn"]}])
    cfn.delete_stack(StackName=STACK)
    return {"own": own, "older": older}


def adopt(run, template_text, parameters=None, **args):
    parameters = PARAMETERS if parameters is None else parameters
    result = run(preflight, dict({"stack_name": STACK, "template_body": template_text, "parameters": parameters},
                                 **args))
    assert result["failed"] is False, result
    return result["stack"]


def by_key(parameters):
    return {p["ParameterKey"]: p.get("ParameterValue", p.get("UsePreviousValue")) for p in parameters}


def cfn_lint(template, tmp_path):
    path = tmp_path / "adopt-retained-buckets.json"
    path.write_text(json.dumps(template, indent=2))
    tool = Path(sys.executable).parent / "cfn-lint"
    return subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=300, check=False)


def test_a_deleted_stack_is_adopted_with_its_buckets_policies_and_keys(retained, run, template_text, tmp_path):
    stack = adopt(run, template_text)
    own, older = retained["own"]["Arn"], retained["older"]["Arn"]
    assert stack["import_warnings"] == []
    assert stack["resources_to_import"] == [
        {"ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "LoggingBucket",
         "ResourceIdentifier": {"BucketName": LOGS}},
        {"ResourceType": "AWS::S3::BucketPolicy", "LogicalResourceId": "LoggingBucketPolicy",
         "ResourceIdentifier": {"Bucket": LOGS}},
        {"ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "EbooksS3Bucket",
         "ResourceIdentifier": {"BucketName": DATA}},
        {"ResourceType": "AWS::S3::BucketPolicy", "LogicalResourceId": "EbooksS3BucketPolicy",
         "ResourceIdentifier": {"Bucket": DATA}},
    ]

    template = stack["import_template"]
    source = load_template(template_text)
    # Only what is imported; every parameter of the template (the stack carries the deploy's values); no
    # outputs (an import may not add any); nothing it refers to is missing.
    assert set(template["Resources"]) == {r["LogicalResourceId"] for r in stack["resources_to_import"]}
    assert template["Parameters"] == source["Parameters"]
    assert "Outputs" not in template
    assert outside_references(template) == []
    for logical_id, resource in template["Resources"].items():
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain", logical_id
        assert "Condition" not in resource, logical_id

    data = template["Resources"]["EbooksS3Bucket"]["Properties"]
    # The identifiers as the template writes them (the deploy after the import sees no change in them), and
    # they resolve, with the import's parameters, to the buckets being imported.
    imported = {r["LogicalResourceId"]: next(iter(r["ResourceIdentifier"].values()))
                for r in stack["resources_to_import"]}
    resolver = Resolver(template, parameter_values(template, stack["import_parameters"]), {}, physical_ids=imported)
    for resource in stack["resources_to_import"]:
        (prop, value), = resource["ResourceIdentifier"].items()
        declared = template["Resources"][resource["LogicalResourceId"]]["Properties"][prop]
        assert declared == source["Resources"][resource["LogicalResourceId"]]["Properties"][prop]
        assert resolver.resolve(declared, prop) == value, resource
    # The key and the log bucket are not in the import: the live values stand in for the references.
    assert data["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": own},
         "BucketKeyEnabled": True}]}
    assert data["LoggingConfiguration"] == {"DestinationBucketName": LOGS, "LogFilePrefix": "s3-access/"}
    # The rest as the template declares it, references to parameters included.
    declared = source["Resources"]["EbooksS3Bucket"]["Properties"]
    assert data["LifecycleConfiguration"] == declared["LifecycleConfiguration"]
    assert data["Tags"] == declared["Tags"]
    policies = {k: v["Properties"] for k, v in template["Resources"].items() if k.endswith("Policy")}
    assert policies == {
        "EbooksS3BucketPolicy": {"Bucket": {"Ref": "EbooksS3Bucket"}, "PolicyDocument": DATA_POLICY},
        "LoggingBucketPolicy": {"Bucket": {"Ref": "LoggingBucket"}, "PolicyDocument": LOGS_POLICY}}

    # The deploy's parameters, PreviousKmsKeyArns with the bucket's key and the key the deleted stack kept.
    assert by_key(stack["import_parameters"]) == dict(PARAMETERS, PreviousKmsKeyArns=f"{own},{older}")
    assert stack["retained_key_arns"] == [own, older]

    lint = cfn_lint(template, tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_keys_already_kept_are_not_repeated(retained, run, template_text):
    own = retained["own"]["Arn"]
    stack = adopt(run, template_text, dict(PARAMETERS, PreviousKmsKeyArns=own))
    assert by_key(stack["import_parameters"])["PreviousKmsKeyArns"] == f"{own},{retained['older']['Arn']}"


def test_an_external_key_is_passed_and_not_kept_as_previous(retained, run, template_text):
    # The deleted stack used the external key (the bucket names it by its alias ARN), and so does this deploy.
    external = retained["older"]
    kms().create_alias(AliasName="alias/ebooks-external", TargetKeyId=external["KeyId"])
    s3().put_bucket_encryption(Bucket=DATA, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": f"arn:aws:kms:{REGION}:123456789012:alias/ebooks-external"},
         "BucketKeyEnabled": True}]})
    stack = adopt(run, template_text, dict(PARAMETERS, KmsKeyAlias="alias/ebooks-external"),
                  kms_key_alias="alias/ebooks-external")
    encryption = stack["import_template"]["Resources"]["EbooksS3Bucket"]["Properties"]["BucketEncryption"]
    assert encryption["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == \
        external["Arn"]
    parameters = by_key(stack["import_parameters"])
    assert parameters["ExternalKmsKeyArn"] == external["Arn"]
    assert parameters["PreviousKmsKeyArns"] == retained["own"]["Arn"]  # the deleted stack's own key, kept
    assert stack["retained_key_arns"] == [retained["own"]["Arn"]]


def test_a_key_pending_deletion_is_named_with_the_commands_that_save_it(retained, run, template_text):
    own = retained["own"]["Arn"]
    kms().schedule_key_deletion(KeyId=retained["own"]["KeyId"], PendingWindowInDays=7)
    stack = adopt(run, template_text)
    assert by_key(stack["import_parameters"])["PreviousKmsKeyArns"].split(",")[0] == own
    warning = next(w for w in stack["import_warnings"] if own in w)
    assert "PendingDeletion" in warning
    assert f"aws kms cancel-key-deletion --key-id {own}" in warning and f"aws kms enable-key --key-id {own}" in warning


def test_a_bucket_without_logging_or_policy_imports_without_them(retained, run, template_text):
    client = s3()
    client.put_bucket_logging(Bucket=DATA, BucketLoggingStatus={})
    client.delete_bucket_policy(Bucket=DATA)
    stack = adopt(run, template_text)
    resources = stack["import_template"]["Resources"]
    assert "LoggingConfiguration" not in resources["EbooksS3Bucket"]["Properties"]
    assert "EbooksS3BucketPolicy" not in resources  # the deploy creates it: no policy is there
    assert outside_references(stack["import_template"]) == []


def test_settings_that_cannot_be_read_are_dropped_and_named(retained, run, template_text):
    real = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call

    def deny(client, operation, params):
        from botocore.exceptions import ClientError
        if operation in ("GetBucketEncryption", "GetBucketPolicy") and params.get("Bucket") == DATA:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, operation)
        return real(client, operation, params)

    with mock.patch("botocore.client.BaseClient._make_api_call", deny):
        stack = adopt(run, template_text)
    data = stack["import_template"]["Resources"]["EbooksS3Bucket"]["Properties"]
    assert "BucketEncryption" not in data  # it names the stack's key, which the import does not hold
    assert "EbooksS3BucketPolicy" not in stack["import_template"]["Resources"]
    assert outside_references(stack["import_template"]) == []
    assert any(f"default encryption of {DATA} cannot be read" in w for w in stack["import_warnings"])
    assert any(f"policy of {DATA} cannot be read" in w for w in stack["import_warnings"])
    # The key the deleted stack kept still comes from its parameters and outputs.
    assert stack["retained_key_arns"] == [retained["own"]["Arn"], retained["older"]["Arn"]]


def test_a_bucket_of_another_account_is_named_not_imported(moto, run, template_text):
    s3().create_bucket(Bucket=DATA)
    real = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call

    def forbidden(client, operation, params):
        from botocore.exceptions import ClientError
        if operation == "HeadBucket" and params.get("Bucket") == DATA:
            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, operation)
        return real(client, operation, params)

    with mock.patch("botocore.client.BaseClient._make_api_call", forbidden):
        stack = adopt(run, template_text)
    assert stack["unowned_buckets"] == [{"logical_id": "EbooksS3Bucket", "bucket": DATA, "owner": "unknown"}]
    assert stack["resources_to_import"] == [] and stack["import_template"]["Resources"] == {}
    assert any("cannot be imported" in w for w in stack["import_warnings"])


def test_an_existing_stack_gets_its_deployed_template_plus_the_log_bucket(moto, run, template_text):
    """EnableLogging turned off left the log bucket (and its policy); turning it on again imports both."""
    create_stack(parameters={"EnableLogging": "false"})
    client = s3()
    client.create_bucket(Bucket=LOGS)
    client.put_bucket_policy(Bucket=LOGS, Policy=json.dumps(LOGS_POLICY))
    stack = adopt(run, template_text, {"Environment": "dev", "EnableLogging": "true"})
    cfn = boto3.client("cloudformation", region_name=REGION)
    deployed = load_template(cfn.get_template(StackName=STACK)["TemplateBody"])
    template = stack["import_template"]

    assert [r["LogicalResourceId"] for r in stack["resources_to_import"]] == ["LoggingBucket", "LoggingBucketPolicy"]
    assert set(template["Resources"]) - set(deployed["Resources"]) == {"LoggingBucket", "LoggingBucketPolicy"}
    for logical_id, resource in deployed["Resources"].items():
        assert template["Resources"][logical_id] == resource, f"{logical_id} changed: an import may only add"
    for section in ("Parameters", "Conditions", "Outputs"):
        assert template.get(section) == deployed.get(section), section
    logs = template["Resources"]["LoggingBucket"]
    assert logs["DeletionPolicy"] == "Retain" and "Condition" not in logs
    # The bucket's name as the template writes it, not a literal: the next deploy must not read a replacement.
    declared = load_template(template_text)["Resources"]["LoggingBucket"]["Properties"]["BucketName"]
    assert logs["Properties"]["BucketName"] == declared and isinstance(declared, dict)
    assert template["Resources"]["LoggingBucketPolicy"]["Properties"] == {"Bucket": {"Ref": "LoggingBucket"},
                                                                          "PolicyDocument": LOGS_POLICY}
    assert outside_references(template) == []
    # An import may not change the other resources: every parameter keeps its value.
    assert stack["import_parameters"] == [{"ParameterKey": k, "UsePreviousValue": True} for k in deployed["Parameters"]]
    assert stack["retained_key_arns"] == [] and stack["import_warnings"] == []


def test_a_template_over_the_body_limit_is_named(retained, run, template_text, monkeypatch):
    monkeypatch.setattr(preflight_checks, "TEMPLATE_BODY_LIMIT", 1000)
    stack = adopt(run, template_text)
    assert any("upload it to S3 and pass --template-url" in w for w in stack["import_warnings"])


def test_outside_references_finds_what_a_template_does_not_declare():
    template = {
        "Parameters": {"Environment": {"Type": "String"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}},
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Condition": "Missing", "Properties": {
                "BucketName": {"Fn::Sub": "b-${Environment}-${AWS::Region}"},
                "BucketEncryption": {"Fn::If": ["IsProd", {"Ref": "Key"}, {"Ref": "AWS::NoValue"}]},
                "LoggingConfiguration": {"DestinationBucketName": {"Fn::Sub": ["${X}", {"X": {"Ref": "Logs"}}]}},
                "Tags": [{"Key": "a", "Value": {"Fn::Sub": "${Topic.Arn}/${!Literal}"}}]}},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
                "Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Resource": {"Fn::GetAtt": ["Role", "Arn"]}}}},
        },
        "Outputs": {"Out": {"Condition": "Other", "Value": {"Fn::GetAtt": "Function.Arn"}}},
    }
    assert outside_references(template) == ["Function", "Key", "Logs", "Role", "Topic", "condition Missing",
                                            "condition Other"]
