# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The modules against files/TapStack.yml itself: every value resolves, parity makes moto's stack pass."""

from __future__ import annotations

import json

import boto3
import pytest
from tap_moto_stack import ACCOUNT
from tap_moto_stack import REGION
from tap_moto_stack import STACK
from tap_moto_stack import create_stack
from tap_moto_stack import deployed_model
from tap_moto_stack import template_text

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackModel
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_resources import StackParts
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.bucket_policy import CONTRACT_SIDS
from ansible_collections.tap.ebook_storage.plugins.modules import localstack_parity
from ansible_collections.tap.ebook_storage.plugins.modules import storage_verify

TEXT = template_text()

PARAMETER_SETS = [
    {},
    {"KmsKeyAlias": "alias/external-books", "EnableLogging": "false", "AlertEmail": "ops@example.com"},
    {"Environment": "prod", "EnableLogging": "true"},
]


def fake_model(parameters):
    """A StackModel with made-up physical ids: resolution needs no AWS."""
    template = load_template(TEXT)
    stack = {
        "StackName": STACK,
        "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0000",
        "StackStatus": "CREATE_COMPLETE",
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Outputs": [],
    }
    model = StackModel(stack, template, [])
    physical = {}
    for logical_id, resource in template["Resources"].items():
        if not model.active(logical_id):
            continue
        rtype = resource["Type"]
        if rtype == "AWS::SNS::Topic":
            physical[logical_id] = f"arn:aws:sns:{REGION}:{ACCOUNT}:{logical_id}"
        elif rtype == "AWS::KMS::Key":
            physical[logical_id] = "1234abcd-12ab-34cd-56ef-1234567890ab"
        else:
            physical[logical_id] = f"{logical_id.lower()}-physical"
    resources = [{"LogicalResourceId": k, "PhysicalResourceId": v, "ResourceType": "x"} for k, v in physical.items()]
    return StackModel(stack, template, resources)


@pytest.mark.parametrize("parameters", PARAMETER_SETS, ids=["defaults", "external-key-no-logging", "prod"])
def test_every_resource_and_output_resolves(parameters):
    model = fake_model(parameters)
    for logical_id in model.resources:
        if model.active(logical_id):
            json.dumps(model.properties(logical_id))
    for key, output in (model.template.get("Outputs") or {}).items():
        if model.resolver.output_active(key):
            assert model.resolve(output["Value"], f"Outputs.{key}.Value")
    parts = StackParts(model)
    assert parts.data_bucket and parts.topic and parts.function and parts.rule and parts.data_bucket_policy
    assert len(parts.roles) == 2
    assert parts.invoke_configs and parts.permissions and parts.topic_policy
    assert bool(parts.logging_bucket) == (parameters.get("EnableLogging", "true") == "true")
    assert bool(parts.kms_key) == (not parameters.get("KmsKeyAlias"))
    declared_sids = {s.get("Sid") for s in model.resolve_at(parts.data_bucket_policy, "PolicyDocument")["Statement"]}
    assert set(CONTRACT_SIDS) <= declared_sids
    for role in parts.roles:
        assert parts.inline_policies_of_role(role), f"{role} has no inline policy in the template"


def test_parity_then_bucket_checks_pass_in_moto(moto, run):
    """moto's CloudFormation, like LocalStack's, leaves bucket settings out; parity puts them in."""
    outputs = create_stack(TEXT)
    # moto skips AWS::S3::BucketPolicy; the log bucket's policy lets S3 deliver logs (PutBucketLogging checks it)
    model = deployed_model(TEXT)
    document = model.resolve_at(StackParts(model).logging_bucket_policy, "PolicyDocument")
    assert document["Statement"][0]["Resource"] == f"arn:aws:s3:::{outputs['LoggingBucketName']}/s3-access/*"
    boto3.client("s3", region_name=REGION).put_bucket_policy(
        Bucket=outputs["LoggingBucketName"], Policy=json.dumps(document)
    )

    checks = ["bucket", "logging_bucket", "lambda", "events", "sns.encryption"]
    before = run(storage_verify, {"stack_name": STACK, "checks": checks, "fail_on_failed": False})
    assert "bucket.versioning" in before["failed_checks"]
    # moto's CloudFormation (like LocalStack's) leaves the log group's KmsKeyId out
    assert "lambda.log_group_encryption" in before["failed_checks"]

    first = run(localstack_parity, {"stack_name": STACK})
    assert first["failed"] is False, first.get("msg")
    assert "data_bucket.encryption" in first["applied"]
    # given by creating the log group again (moto, like LocalStack, has no AssociateKmsKey)
    assert "log_group.encryption" in first["applied"]
    assert run(localstack_parity, {"stack_name": STACK})["changed"] is False

    # moto skips the bucket and topic policies and the event invoke config (the fixture tests cover them)
    skip = ["lambda.on_failure_destination", "lambda.tags"]
    result = run(storage_verify, {"stack_name": STACK, "checks": checks, "skip": skip})
    assert result["failed"] is False, [c for c in result["checks"] if c["status"] == "failed"]
