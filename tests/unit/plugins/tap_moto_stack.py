# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Helpers of the plugin unit tests: run modules in-process, build a fixture-template stack in moto.

Imported by conftest.py (which first makes the collection importable) and by the tests.
"""

from __future__ import annotations

import json
import os
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

REGION = "us-east-1"
ACCOUNT = "123456789012"


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    kwargs["failed"] = False
    raise AnsibleExitJson(kwargs)


def _fail_json(self, **kwargs):
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


def run_module(module, args, check_mode=False, drop_region=False):
    """Run a module's main() in-process; returns its result (``failed`` tells how it ended).

    AWS modules get the test region unless ``drop_region`` (modules without AWS options).
    """
    args = dict(args)
    if not drop_region:
        args.setdefault("region", REGION)
    if check_mode:
        args["_ansible_check_mode"] = True
    exit_patch = mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json)
    fail_patch = mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json)
    with patch_module_args(args), exit_patch, fail_patch:
        try:
            module.main()
        except (AnsibleExitJson, AnsibleFailJson) as e:
            return json.loads(json.dumps(e.args[0], default=str))
    raise AssertionError("module returned without exit_json or fail_json")


def fixture_text(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def real_template_text():
    path = os.path.join(COLLECTION_ROOT, "files", "TapStack.yml")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read()


# -- a stack of the fixture template in moto -----------------------------------------------

STACK = "ebooks-storage-dev"
DATA_BUCKET = f"ebooks-storage-dev-{ACCOUNT}"
LOG_BUCKET = f"ebooks-storage-logs-dev-{ACCOUNT}"
FUNCTION = "eBook-StorageMonitoring-dev"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:ebooks-storage-alerts-dev"
ACCESS_ROLE = "ebooks-storage-access-dev"
MONITOR_ROLE = "ebooks-storage-monitoring-dev"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
TAGS = {"iac-rlhf-amazon": "true", "Environment": "dev", "Project": "ebook-storage", "ManagedBy": "cloudformation"}


def moto_variant(template_text, parameters=None):
    """The fixture template as JSON, less what moto's CloudFormation mishandles.

    moto evaluates both branches of an Fn::If (a GetAtt of a resource whose
    condition is false then fails), so every Fn::If is replaced here by the
    branch its condition picks for the given parameters.

    moto stores an AWS::KMS::Key's KeyPolicy as a dict (its DescribeKey then
    crashes) and expects TagKey/TagValue in its Tags: the policy is replaced
    by an empty JSON text and the tags dropped here; ``complete_fixture_stack``
    puts both back.
    """
    from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
    from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
    from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values

    template = load_template(template_text)
    resolver = Resolver(
        template,
        parameter_values(template, [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]),
        {},
    )

    def pick(value):
        if isinstance(value, dict):
            if list(value) == ["Fn::If"]:
                condition, when_true, when_false = value["Fn::If"]
                return pick(when_true if resolver.condition(condition) else when_false)
            return {k: pick(v) for k, v in value.items()}
        if isinstance(value, list):
            return [pick(v) for v in value]
        return value

    for section in ("Resources", "Outputs"):
        for name in [n for n, v in template.get(section, {}).items() if "Condition" in v]:
            if not resolver.condition(template[section][name]["Condition"]):
                del template[section][name]
    template = pick(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key":
            resource["Properties"]["KeyPolicy"] = json.dumps({"Version": "2012-10-17", "Statement": []})
            resource["Properties"].pop("Tags", None)
    return json.dumps(template)


def create_stack(template_text=None, parameters=None, name=STACK, raw=False):
    import boto3

    body = template_text or fixture_text("tap_stack_small.yml")
    cfn = boto3.client("cloudformation", region_name=REGION)
    with mock.patch("warnings.warn"):
        cfn.create_stack(
            StackName=name,
            TemplateBody=body if raw else moto_variant(body, parameters),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Tags=[{"Key": "Project", "Value": "ebook-storage"}],
        )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _fix_moto_inline_policies(iam, role):
    """moto's CloudFormation stores a role's inline policies as str(dict): store them as JSON."""
    import ast

    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = ast.literal_eval(document)
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def data_bucket_policy(key_arn):
    bucket_arn = f"arn:aws:s3:::{DATA_BUCKET}"
    both = [bucket_arn, f"{bucket_arn}/*"]
    objects = f"{bucket_arn}/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": both,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": both,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
            {
                "Sid": "DenyWrongEncryptionHeader",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                },
            },
            {
                "Sid": "DenyWrongKmsKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                },
            },
            {
                "Sid": "DenySseC",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
            },
            {
                "Sid": "DenyUnauthorisedWriters",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": objects,
                "Condition": {
                    "ArnNotLike": {
                        "aws:PrincipalArn": [
                            f"arn:aws:iam::{ACCOUNT}:role/{ACCESS_ROLE}",
                            f"arn:aws:iam::{ACCOUNT}:role/{MONITOR_ROLE}",
                            ROOT,
                            f"arn:aws:iam::{ACCOUNT}:role/Admin*",
                        ]
                    }
                },
            },
        ],
    }


def log_bucket_policy():
    bucket_arn = f"arn:aws:s3:::{LOG_BUCKET}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowS3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


PAB_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def apply_fixture_bucket_settings(key_arn, logging=True):
    """What AWS's CloudFormation would have applied to both buckets (and moto does not)."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (DATA_BUCKET, LOG_BUCKET) if logging else (DATA_BUCKET,):
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PAB_ON)
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
    s3.put_bucket_encryption(
        Bucket=DATA_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=DATA_BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "NoncurrentVersions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}],
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 365},
                },
                {
                    "ID": "AbortIncompleteUploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                },
            ]
        },
    )
    if not logging:
        return
    s3.put_bucket_lifecycle_configuration(
        Bucket=LOG_BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "ExpireAccessLogs", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 365}}
            ]
        },
    )
    s3.put_bucket_logging(
        Bucket=DATA_BUCKET,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": LOG_BUCKET, "TargetPrefix": "ebooks-access-logs/"}},
    )


def complete_fixture_stack(outputs, bucket_settings=True, logging=True):
    """Put in place what moto's CloudFormation skipped, as AWS would have deployed the fixture template."""
    import boto3

    key_arn = outputs["KmsKeyArn"]
    key_id = outputs["KmsKeyId"]
    kms = boto3.client("kms", region_name=REGION)
    kms.put_key_policy(
        KeyId=key_id,
        PolicyName="default",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllowAccountAdministration",
                        "Effect": "Allow",
                        "Principal": {"AWS": ROOT},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()])
    kms.enable_key_rotation(KeyId=key_id)

    iam = boto3.client("iam")
    for role in (ACCESS_ROLE, MONITOR_ROLE):
        _fix_moto_inline_policies(iam, role)

    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_policy(Bucket=DATA_BUCKET, Policy=json.dumps(data_bucket_policy(key_arn)))
    if logging:
        s3.put_bucket_policy(Bucket=LOG_BUCKET, Policy=json.dumps(log_bucket_policy()))
    if bucket_settings:
        apply_fixture_bucket_settings(key_arn, logging)

    sns = boto3.client("sns", region_name=REGION)
    function_arn = outputs["StorageMonitoringFunctionArn"]
    sns.set_topic_attributes(
        TopicArn=TOPIC_ARN,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllowMonitoringPublish",
                        "Effect": "Allow",
                        "Principal": {"AWS": outputs["StorageMonitoringRoleArn"]},
                        "Action": "sns:Publish",
                        "Resource": TOPIC_ARN,
                    },
                    {
                        "Sid": "AllowLambdaDestination",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": TOPIC_ARN,
                        "Condition": {"ArnEquals": {"aws:SourceArn": function_arn}},
                    },
                ],
            }
        ),
    )
    sns.tag_resource(ResourceArn=TOPIC_ARN, Tags=[{"Key": k, "Value": v} for k, v in TAGS.items()])

    lam = boto3.client("lambda", region_name=REGION)
    lam.put_function_event_invoke_config(
        FunctionName=FUNCTION, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": TOPIC_ARN}}
    )
    lam.tag_resource(Resource=function_arn, Tags=TAGS)


def queue_monitor_report(report):
    """Make moto's stand-in Lambda answer the next invocation with ``report``."""
    from moto.awslambda_simple.models import lambda_simple_backends

    text = report if isinstance(report, str) else json.dumps(report)
    lambda_simple_backends[ACCOUNT][REGION].lambda_simple_results_queue.append(text)
