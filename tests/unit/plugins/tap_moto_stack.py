# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stack of the real files/TapStack.yml in moto, completed to what AWS's CloudFormation would deploy.

``create_stack`` deploys the template through moto's CloudFormation (``moto_variant`` first removes
what moto cannot evaluate). ``complete_stack`` then applies what moto's CloudFormation leaves out, each
document taken from the template resolved for the deployed stack (its parameters and moto's physical
ids), so the unit tests check the modules against the template that is shipped, not against a copy.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from unittest import mock

import boto3

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackModel
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values
from tests.support.aws import bucket_names
from tests.support.aws import declared_tags
from tests.support.aws import names_of_type
from tests.support.aws import output_resource_name
from tests.support.aws import stack_name
from tests.support.aws import template_outputs

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TEMPLATE_PATH = os.path.join(COLLECTION_ROOT, "files", "TapStack.yml")

REGION = "us-east-1"
ACCOUNT = "123456789012"

# The names files/TapStack.yml gives for Environment=dev (read from it: tests/support/aws.py's names), and the
# stack's name (the role's default); the tests assert against them.
ENV = "dev"
STACK = stack_name(ENV)
DATA_BUCKET, LOG_BUCKET = bucket_names(ENV)
FUNCTION = template_outputs(ENV)["StorageMonitoringFunctionName"]
(LOG_GROUP,) = names_of_type(ENV, "AWS::Logs::LogGroup")
RULE = template_outputs(ENV)["StorageMonitoringScheduleName"]
(UPLOAD_RULE,) = set(names_of_type(ENV, "AWS::Events::Rule")) - {RULE}
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{output_resource_name(ENV, 'SNSTopicArn')}"
ACCESS_ROLE = output_resource_name(ENV, "S3AccessRoleArn")
MONITOR_ROLE = output_resource_name(ENV, "StorageMonitoringRoleArn")
TAGS = declared_tags(ENV, "AWS::S3::Bucket")


def template_text():
    with open(TEMPLATE_PATH, encoding="utf-8") as handle:
        return handle.read()


def _parsed(text):
    return copy.deepcopy(_parse(text))


@functools.cache
def _parse(text):
    # PyYAML's pure-Python parser takes about 0.3 s for files/TapStack.yml; every stack fixture needs it.
    return load_template(text)


def moto_variant(text, parameters=None):
    """The template as JSON, less what moto's CloudFormation mishandles.

    moto evaluates both branches of an Fn::If (a GetAtt of a resource whose condition is false then
    fails), so every Fn::If is replaced here by the branch its condition picks for the parameters, and
    an AWS::NoValue picked in a list or for a property is removed (moto keeps it in policy documents).

    moto stores an AWS::KMS::Key's KeyPolicy as a dict (its DescribeKey then crashes) and expects
    TagKey/TagValue in its Tags: the policy is replaced by an empty one and the tags dropped here;
    ``complete_stack`` puts both back.
    """
    return _moto_variant(text, tuple(sorted((parameters or {}).items())))


@functools.cache
def _moto_variant(text, parameters):
    template = _parsed(text)
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters]
    resolver = Resolver(template, parameter_values(template, given), {})

    no_value = {"Ref": "AWS::NoValue"}

    def pick(value):
        # AWS::NoValue removes the list item or property it is picked for, as CloudFormation does.
        if isinstance(value, dict):
            if list(value) == ["Fn::If"]:
                condition, when_true, when_false = value["Fn::If"]
                return pick(when_true if resolver.condition(condition) else when_false)
            picked = {k: pick(v) for k, v in value.items()}
            return {k: v for k, v in picked.items() if v != no_value}
        if isinstance(value, list):
            return [v for v in (pick(v) for v in value) if v != no_value]
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


def create_stack(text=None, parameters=None, name=STACK, raw=False):
    """Deploy ``text`` (default: files/TapStack.yml) in moto; returns the stack's outputs."""
    body = text if text is not None else template_text()
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


def deployed_model(text=None, name=STACK):
    """The template resolved for the deployed stack: its parameters and moto's physical ids."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return StackModel(stack, _parsed(text if text is not None else template_text()), resources)


def create_complete_stack(text=None, parameters=None, bucket_settings=True):
    outputs = create_stack(text, parameters)
    complete_stack(text, bucket_settings=bucket_settings)
    return outputs


# -- what moto's CloudFormation leaves out ---------------------------------------------------------


def complete_stack(text=None, name=STACK, bucket_settings=True):
    """Apply, from the resolved template, what moto's CloudFormation skipped or stored differently.

    ``bucket_settings=False`` leaves the buckets as moto (and LocalStack) create them, for
    localstack_parity to fix. A resource type that is in neither list below fails: the template has
    grown something the fixture must learn to complete.
    """
    model = deployed_model(text, name)
    by_type = {}
    for lid in model.resources:
        if model.active(lid):
            by_type.setdefault(model.resource_type(lid), []).append(lid)
    unknown = set(by_type) - set(_COMPLETERS) - MOTO_DEPLOYS_AS_DECLARED
    assert not unknown, f"does moto's CloudFormation deploy {sorted(unknown)} as declared? Tell tap_moto_stack"
    if not bucket_settings:
        by_type.pop("AWS::S3::Bucket", None)
    for rtype, complete in _COMPLETERS.items():  # in order: the log bucket's policy before PutBucketLogging
        for lid in by_type.get(rtype, []):
            complete(model, lid, model.properties(lid))


def _kms_key(model, lid, props):
    kms = boto3.client("kms", region_name=REGION)
    key_id = model.physical_id(lid)
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(props["KeyPolicy"]))
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]])
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_id)


def _bucket_policy(model, lid, props):
    boto3.client("s3", region_name=REGION).put_bucket_policy(
        Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
    )


def _bucket(model, lid, props):
    """The S3 calls that give a bucket its declared properties.

    moto's CloudFormation applies the tags, and the encryption without its bucket key, nothing else.
    """
    s3 = boto3.client("s3", region_name=REGION)
    name = model.physical_id(lid)
    for key, value in props.items():
        if key in ("BucketName", "Tags"):
            continue
        if key == "BucketEncryption":
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
                }
                for rule in value["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        elif key == "VersioningConfiguration":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": value["Status"]})
        elif key == "PublicAccessBlockConfiguration":
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=value)
        elif key == "OwnershipControls":
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=value)
        elif key == "LoggingConfiguration":
            target = {"TargetBucket": value.get("DestinationBucketName", name)}
            target["TargetPrefix"] = value.get("LogFilePrefix", "")
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": target})
        elif key == "LifecycleConfiguration":
            rules = [_lifecycle_rule(rule) for rule in value["Rules"]]
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        elif key == "InventoryConfigurations":
            for config in value:
                s3.put_bucket_inventory_configuration(
                    Bucket=name, Id=config["Id"], InventoryConfiguration=_inventory_configuration(config)
                )
        elif key == "NotificationConfiguration":
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=_notifications(value))
        else:
            raise AssertionError(f"tap_moto_stack does not know how AWS applies AWS::S3::Bucket {key}: add it")


def _lifecycle_rule(rule):
    """A CloudFormation lifecycle rule in the form of PutBucketLifecycleConfiguration."""
    api = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    for key, value in rule.items():
        if key in ("Id", "Status", "Prefix"):
            continue
        if key == "ExpirationInDays":
            api.setdefault("Expiration", {})["Days"] = int(value)
        elif key == "ExpiredObjectDeleteMarker":
            api.setdefault("Expiration", {})["ExpiredObjectDeleteMarker"] = bool(value)
        elif key == "NoncurrentVersionTransitions":
            api[key] = [{"NoncurrentDays": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
                        for t in value]
        elif key == "NoncurrentVersionExpiration":
            api[key] = {"NoncurrentDays": int(value["NoncurrentDays"])}
        elif key == "AbortIncompleteMultipartUpload":
            api[key] = {"DaysAfterInitiation": int(value["DaysAfterInitiation"])}
        else:
            raise AssertionError(f"tap_moto_stack does not know the lifecycle rule property {key}: add it")
    return api


def _inventory_configuration(config):
    """A CloudFormation InventoryConfiguration in the form of PutBucketInventoryConfiguration."""
    known = {"Id", "Enabled", "Destination", "IncludedObjectVersions", "OptionalFields", "ScheduleFrequency"}
    unknown = set(config) - known
    assert not unknown, f"tap_moto_stack does not know the inventory property {sorted(unknown)}: add it"
    dest = config["Destination"]
    return {
        "Id": config["Id"],
        "IsEnabled": bool(config["Enabled"]),
        "Destination": {
            "S3BucketDestination": {"Bucket": dest["BucketArn"], "Format": dest["Format"], "Prefix": dest["Prefix"]}
        },
        "IncludedObjectVersions": config["IncludedObjectVersions"],
        "OptionalFields": config.get("OptionalFields", []),
        "Schedule": {"Frequency": config["ScheduleFrequency"]},
    }


def _notifications(config):
    """A CloudFormation NotificationConfiguration in the form of PutBucketNotificationConfiguration."""
    unknown = set(config) - {"EventBridgeConfiguration"}
    assert not unknown, f"tap_moto_stack does not know the notification kinds {sorted(unknown)}: add them"
    return {"EventBridgeConfiguration": {}} if config["EventBridgeConfiguration"]["EventBridgeEnabled"] else {}


def _topic_policy(model, lid, props):
    sns = boto3.client("sns", region_name=REGION)
    policy = json.dumps(props["PolicyDocument"])
    for topic in props["Topics"]:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)


def _topic(model, lid, props):
    boto3.client("sns", region_name=REGION).tag_resource(
        ResourceArn=model.physical_id(lid), Tags=[{"Key": t["Key"], "Value": t["Value"]} for t in props["Tags"]]
    )


def _event_invoke_config(model, lid, props):
    settings = {k: v for k, v in props.items() if k != "FunctionName"}
    boto3.client("lambda", region_name=REGION).put_function_event_invoke_config(
        FunctionName=props["FunctionName"], **settings
    )


def _function_tags(model, lid, props):
    lam = boto3.client("lambda", region_name=REGION)
    arn = lam.get_function(FunctionName=props["FunctionName"])["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={t["Key"]: t["Value"] for t in props["Tags"]})


def _log_group(model, lid, props):
    """moto's CloudFormation leaves KmsKeyId out and moto has no AssociateKmsKey: create the group again."""
    if "KmsKeyId" not in props:
        return
    logs = boto3.client("logs", region_name=REGION)
    name = props["LogGroupName"]
    logs.delete_log_group(logGroupName=name)
    logs.create_log_group(
        logGroupName=name, kmsKeyId=props["KmsKeyId"], tags={t["Key"]: t["Value"] for t in props.get("Tags", [])}
    )
    logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))


# Resource types of the template that moto's CloudFormation deploys as declared: nothing to complete.
MOTO_DEPLOYS_AS_DECLARED = {
    "AWS::KMS::Alias",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Lambda::Permission",
    "AWS::SNS::Subscription",
}


def _scheduled_rule(model, lid, props):
    """As the parity step leaves a rule it has created (LocalStack schedules a rule only on create)."""
    from ansible_collections.tap.ebook_storage.plugins.module_utils.monitor_parity import SCHEDULED_TAG

    if "ScheduleExpression" not in props:
        return  # a rule of an event pattern: moto's CloudFormation deploys it as declared
    events = boto3.client("events", region_name=REGION)
    arn = events.describe_rule(Name=model.physical_id(lid))["Arn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": SCHEDULED_TAG, "Value": props["ScheduleExpression"]}])


_COMPLETERS = {
    "AWS::KMS::Key": _kms_key,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::S3::Bucket": _bucket,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::Lambda::Function": _function_tags,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Events::Rule": _scheduled_rule,
}


def queue_monitor_report(report):
    """Make moto's stand-in Lambda answer the next invocation with ``report``."""
    from moto.awslambda_simple.models import lambda_simple_backends

    text = report if isinstance(report, str) else json.dumps(report)
    lambda_simple_backends[ACCOUNT][REGION].lambda_simple_results_queue.append(text)


# -- what moto's S3 answers wrongly ----------------------------------------------------------------


def _notification_with_eventbridge(original):
    """moto 5.2.5 stores EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration."""

    def get_bucket_notification(self):
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original(self)
        topics, queues, functions = config.topic, config.queue, config.cloud_function
        config.topic = config.queue = config.cloud_function = []
        try:
            if topics or queues or functions:
                raise AssertionError("tap_moto_stack: EventBridge beside other notification kinds is not patched")
            from moto.s3.responses import ActionResult

            self.data["Action"] = "GetBucketNotificationConfiguration"
            return self.serialized(ActionResult({"EventBridgeConfiguration": {}}))
        finally:
            config.topic, config.queue, config.cloud_function = topics, queues, functions

    return get_bucket_notification


def _inventory_list_with_fields(original):
    """moto 5.2.5 lists an inventory's OptionalFields as ["Field"] (the keys of what it parsed)."""

    def list_bucket_inventory_configurations(self):
        configs = self.backend.list_bucket_inventory_configurations(bucket_name=self.bucket_name)
        saved = [c.optional_fields for c in configs]
        for config in configs:
            if isinstance(config.optional_fields, dict):
                fields = config.optional_fields.get("Field", [])
                config.optional_fields = [fields] if isinstance(fields, str) else fields
        try:
            return original(self)
        finally:
            for config, fields in zip(configs, saved, strict=True):
                config.optional_fields = fields

    return list_bucket_inventory_configurations


def _delete_of_inventory(original):
    """moto 5.2.5 has no DeleteBucketInventoryConfiguration: the DELETE falls through to DeleteBucket."""

    def bucket_response_delete(self, bucket_name, querystring):
        if "inventory" not in querystring:
            return original(self, bucket_name, querystring)
        configs = self.backend.get_bucket(bucket_name).inventory_configs
        config_id = querystring["id"][0]
        if config_id not in configs:
            from moto.s3.exceptions import MissingInventoryConfig

            raise MissingInventoryConfig()
        del configs[config_id]
        return 204, {}, ""

    return bucket_response_delete


def moto_s3_fixes():
    """Patches of moto's S3 so that it answers inventory and notification calls as S3 does."""
    from moto.s3.responses import S3Response

    return (
        mock.patch.object(
            S3Response, "_bucket_response_delete", _delete_of_inventory(S3Response._bucket_response_delete)
        ),
        mock.patch.object(
            S3Response, "get_bucket_notification", _notification_with_eventbridge(S3Response.get_bucket_notification)
        ),
        mock.patch.object(
            S3Response,
            "list_bucket_inventory_configurations",
            _inventory_list_with_fields(S3Response.list_bucket_inventory_configurations),
        ),
    )
