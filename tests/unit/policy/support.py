"""The policy table (policy_table.yml) decided against files/TapStack.yml, resolved for one configuration.

``StackPolicies(table, name)`` resolves the template with the repository's resolver (cfn_stack.StackModel,
physical ids as CloudFormation would name the resources) and collects every policy document: the data and
log bucket policies, the stack roles' inline policies and trust policies, the key policy, the topic policy
and the topic's key. ``decide(table, row, name)`` then decides one row with
plugins/module_utils/policy_evaluation.py: the S3 (or SNS, KMS, CloudWatch, STS) request first, then, if
that is allowed, the KMS request that the service makes with the caller's permissions (kms:ViaService).
Anything the table or the evaluator cannot express raises: a row is never reported as decided when it was not.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_evaluation as pe
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackModel
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = ROOT / "files" / "TapStack.yml"
TABLE_PATH = Path(__file__).resolve().parent / "policy_table.yml"

ROW_KEYS = {
    "id",
    "gap",
    "principal",
    "action",
    "resource",
    "request",
    "kms",
    "expect",
    "by",
    "reason",
    "configs",
    "after_stack_deletion",
}
REQUEST_KEYS = {
    "secure",
    "tls",
    "sse",
    "kms_key",
    "sse_c",
    "source_arn",
    "source_account",
    "object_key",
    "disabled",
    "namespace",
}
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Events::Rule": "Name",
    "AWS::KMS::Alias": "AliasName",
}


class TableError(Exception):
    """The table asks for something this harness does not know."""


@functools.cache
def load_table():
    with open(TABLE_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.cache
def _template():
    return load_template(TEMPLATE_PATH.read_text(encoding="utf-8"))


def fill(value, table, env):
    """Replace {account}, {other_account}, {region} and {env} in every string of a value."""
    if isinstance(value, dict):
        return {fill(k, table, env): fill(v, table, env) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, table, env) for v in value]
    if isinstance(value, str):
        for name in ("account", "other_account", "region"):
            value = value.replace("{" + name + "}", str(table[name]))
        return value.replace("{env}", env)
    return value


class StackPolicies:
    """Every policy document of the template, resolved for one configuration of the table."""

    def __init__(self, table, name):
        self.table = table
        self.name = name
        config = table["configurations"][name]
        self.config = config
        self.account = str(table["account"])
        self.region = table["region"]
        template = copy.deepcopy(_template())
        self.template = template
        given = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in config["parameters"].items()]
        params = parameter_values(template, given)
        self.env = params["Environment"]
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": f"ebooks-storage-{self.env}",
            "AWS::URLSuffix": "amazonaws.com",
        }
        names = Resolver(template, params, pseudo)
        resources = []
        for lid, resource in template["Resources"].items():
            if not names.resource_active(lid):
                continue
            rtype = resource["Type"]
            if rtype == "AWS::KMS::Key":
                physical = config["key_id"]
            elif rtype == "AWS::SNS::Topic":
                topic = names.resolve(resource["Properties"]["TopicName"], lid)
                physical = f"arn:aws:sns:{self.region}:{self.account}:{topic}"
            elif rtype in NAME_PROPERTIES:
                physical = names.resolve(resource["Properties"][NAME_PROPERTIES[rtype]], lid)
            else:
                physical = f"{lid}-0123456789ab"
            resources.append({"LogicalResourceId": lid, "PhysicalResourceId": physical})
        stack = {
            "StackName": f"ebooks-storage-{self.env}",
            "StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/ebooks-storage-{self.env}/0",
            "Parameters": given,
        }
        self.model = StackModel(stack, template, resources)
        self.parameters = params

    # -- documents --------------------------------------------------------------------------------

    def _retained(self, lid):
        return self.template["Resources"][lid].get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")

    def _document(self, lid, prop, after_deletion):
        if not self.model.active(lid) or (after_deletion and not self._retained(lid)):
            return None
        return self.model.resolve_at(lid, prop)

    def bucket_policy(self, after_deletion=False):
        return self._document("EbooksS3BucketPolicy", "PolicyDocument", after_deletion)

    def logs_bucket_policy(self, after_deletion=False):
        return self._document("LoggingBucketPolicy", "PolicyDocument", after_deletion)

    def topic_policy(self):
        return self.model.resolve_at("SNSAlertTopicPolicy", "PolicyDocument")

    def trust_policy(self, lid):
        """(name, resolved AssumeRolePolicyDocument) of a role of the stack."""
        return (f"{lid}-trust", self.model.resolve_at(lid, "AssumeRolePolicyDocument"))

    def role_arn(self, lid):
        return f"arn:aws:iam::{self.account}:role/{self.model.physical_id(lid)}"

    def identity_policies(self, role_arn, after_deletion=False):
        found = []
        for lid in self.model.of_type("AWS::IAM::Policy"):
            if after_deletion and not self._retained(lid):
                continue
            roles = self.model.resolve_at(lid, "Roles") or []
            if any(f"arn:aws:iam::{self.account}:role/{r}" == role_arn for r in roles):
                found.append((f"{lid}", self.model.resolve_at(lid, "PolicyDocument")))
        return found

    # -- names ------------------------------------------------------------------------------------

    @property
    def data_bucket(self):
        return self.model.physical_id("EbooksS3Bucket")

    @property
    def logs_bucket(self):
        return self.model.physical_id("LoggingBucket")

    @property
    def topic_arn(self):
        return self.model.physical_id("SNSAlertTopic")

    def key_arn(self, key_id):
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"

    def keys(self):
        """name -> (key ARN, aliases, key policy) of every key a row may reach."""
        extra = self.table["keys"]
        default = fill(extra["default_key_policy"], self.table, self.env)
        data_policy = (
            self.model.resolve_at("EbooksKmsKey", "KeyPolicy") if self.model.active("EbooksKmsKey") else default
        )
        found = {
            "data_key": (self.key_arn(self.config["key_id"]), [self.config["alias"]], data_policy),
            "previous_key": (self.key_arn(extra["previous_key_id"]), [], default),
        }
        for alias, managed in extra["aws_managed"].items():
            found[alias] = (self.key_arn(managed["key_id"]), [alias], fill(managed["policy"], self.table, self.env))
        return found

    def spelling(self, name):
        """The header value a client sends for each spelling of a key."""
        key_id, alias = self.config["key_id"], self.config["alias"]
        prefix = f"arn:aws:kms:{self.region}:{self.account}:"
        spellings = {
            "key_arn": prefix + f"key/{key_id}",
            "key_id": key_id,
            "alias_arn": prefix + alias,
            "alias_name": alias,
            "other_key_arn": prefix + f"key/{self.table['keys']['other_key_id']}",
            "previous_key_arn": prefix + f"key/{self.table['keys']['previous_key_id']}",
            "aws_s3_alias_arn": prefix + "alias/aws/s3",
        }
        if name not in spellings:
            raise TableError(f"unknown key spelling {name!r}")
        return spellings[name]

    def key_named_by(self, reference):
        """The key a reference names (S3 and SNS resolve it in this account), or TableError."""
        keys = self.keys()
        for name, (arn, aliases, _policy) in keys.items():
            prefix = f"arn:aws:kms:{self.region}:{self.account}:"
            if (
                reference in (arn, arn.rsplit("/", 1)[1])
                or reference in aliases
                or reference in [prefix + a for a in aliases]
            ):
                return name
        raise TableError(f"no key of the table is named {reference!r}")

    def resource(self, text):
        if text == "*":
            return "*"
        if text == "topic":
            return self.topic_arn
        if text == "key":
            return self.keys()["data_key"][0]
        kind, _sep, key = text.partition(":")
        if kind == "role":
            if self.model.resource_type(key) != "AWS::IAM::Role" or not self.model.active(key):
                raise TableError(f"{text!r}: no active role {key!r} in the template")
            return self.role_arn(key)
        bucket = {"data": self.data_bucket, "logs": self.logs_bucket}.get(kind)
        if bucket is None:
            raise TableError(f"unknown resource {text!r}")
        return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


# -- one row ---------------------------------------------------------------------------------------------


def principal_of(table, name, env):
    spec = fill(table["principals"][name], table, env)
    principal = pe.Principal(spec["kind"], arn=spec.get("arn"), service=spec.get("service"),
                             role_arn=spec.get("role_arn"))
    return principal, spec


def _context(stack, row, action):
    request = row.get("request") or {}
    unknown = set(request) - REQUEST_KEYS
    if unknown:
        raise TableError(f"{row['id']}: unknown request keys {sorted(unknown)}")
    secure = request.get("secure", True)
    context = {"aws:SecureTransport": bool(secure)}
    service = action.split(":", 1)[0]
    if service == "s3":
        tls = request.get("tls", "1.2" if secure else None)
        if tls is not None:
            context["s3:TlsVersion"] = str(tls)
        if "sse" in request:
            context["s3:x-amz-server-side-encryption"] = request["sse"]
        if "kms_key" in request:
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = stack.spelling(request["kms_key"])
        if request.get("sse_c"):
            context["s3:x-amz-server-side-encryption-customer-algorithm"] = "AES256"
    if service == "cloudwatch" and "namespace" in request:  # PutMetricData's Namespace parameter
        context["cloudwatch:namespace"] = request["namespace"]
    if service == "kms":  # KMS sets these on every request for a key
        context["kms:ResourceAliases"] = stack.keys()["data_key"][1]
        context["kms:CallerAccount"] = stack.account
    named = {
        "data_bucket": f"arn:aws:s3:::{stack.data_bucket}",
        "account": stack.account,
        "other_account": str(stack.table["other_account"]),
    }
    if "source_arn" in request:
        context["aws:SourceArn"] = named.get(request["source_arn"], request["source_arn"])
    if "source_account" in request:
        context["aws:SourceAccount"] = named.get(request["source_account"], request["source_account"])
    return context


def _kms_step(stack, row, principal, identity, via):
    """The KMS request the service makes for the caller: (key name, Decision)."""
    request = row.get("request") or {}
    keys = stack.keys()
    action = row["action"]
    if action.startswith("sns:"):
        reference = stack.model.resolve_at("SNSAlertTopic", "KmsMasterKeyId")
        key = stack.key_named_by(reference)
    elif "object_key" in request:
        key = request["object_key"]
    elif request.get("sse") == "aws:kms" and "kms_key" in request:
        key = stack.key_named_by(stack.spelling(request["kms_key"]))
    else:
        key = "data_key"  # the bucket's default encryption
    arn, aliases, policy = keys[key]
    if key in (request.get("disabled") or []):
        return key, pe.Decision(pe.DENY, "key-disabled", [f"{key} is disabled"])
    context = {
        "kms:ViaService": f"{via}.{stack.region}.amazonaws.com",
        "kms:ResourceAliases": aliases,
        "aws:SecureTransport": True,
    }
    if principal.account:
        context["kms:CallerAccount"] = principal.account
    kms_request = pe.Request(principal, f"kms:{row['kms']}", arn, context)
    return key, pe.decide(kms_request, identity, resource_account=stack.account, key_policy=("key", policy))


def decide(table, row, config):
    """(effect, [what decided it]) of one row in one configuration."""
    unknown = set(row) - ROW_KEYS
    if unknown:
        raise TableError(f"{row['id']}: unknown row keys {sorted(unknown)}")
    stack = StackPolicies(table, config)
    after = bool(row.get("after_stack_deletion"))
    principal, spec = principal_of(table, row["principal"], stack.env)
    identity_spec = spec.get("identity")
    if identity_spec == "stack":  # a stack role, or a session of one: the role's inline policies
        identity = stack.identity_policies(principal.role_arn or principal.arn, after)
    elif identity_spec:
        identity = [(n, fill(table["identity_policies"][n], table, stack.env)) for n in identity_spec]
    else:
        identity = []
    action = row["action"]
    resource = stack.resource(row["resource"])
    request = pe.Request(principal, action, resource, _context(stack, row, action))
    service = action.split(":", 1)[0]
    if service == "s3":
        policy = stack.bucket_policy(after) if row["resource"].startswith("data") else stack.logs_bucket_policy(after)
        resource_policies = (
            [("bucket" if row["resource"].startswith("data") else "logs-bucket", policy)] if policy else []
        )
        first = pe.decide(request, identity, resource_policies, resource_account=stack.account)
        via = "s3"
    elif service == "sns":
        first = pe.decide(request, identity, [("topic", stack.topic_policy())], resource_account=stack.account)
        via = "sns"
    elif service == "kms":
        first = pe.decide(
            request, identity, resource_account=stack.account, key_policy=("key", stack.keys()["data_key"][2])
        )
        via = None
    elif service == "cloudwatch":
        first = pe.decide(request, identity, resource_account=stack.account)
        via = None
    elif service == "sts":  # assume a stack role: its trust policy decides (row resource role:<LogicalId>)
        if not row["resource"].startswith("role:"):
            raise TableError(f"{row['id']}: an sts request needs a resource role:<LogicalId>")
        trust = stack.trust_policy(row["resource"].partition(":")[2])
        first = pe.decide(request, identity, resource_account=stack.account, trust_policy=trust)
        via = None
    else:
        raise TableError(f"{row['id']}: requests to {service} are not modelled")
    if first.effect == pe.DENY:
        return pe.DENY, _labels(first, "")
    kms = row.get("kms", "none")
    if kms == "none":
        return pe.ALLOW, _labels(first, "")
    if via is None or kms not in ("GenerateDataKey", "Decrypt"):
        raise TableError(f"{row['id']}: kms {kms!r} after {action} is not modelled")
    _key, second = _kms_step(stack, row, principal, identity, via)
    return second.effect, _labels(second, "kms:")


def _labels(decision, prefix):
    if decision.reason == "implicit-deny":
        return [prefix + "implicit"]
    if decision.reason == "key-disabled":
        return [prefix + "disabled"]
    return [prefix + entry for entry in decision.by]


def decided_by(by, labels):
    """True when ``by`` (a Sid, "implicit", "kms:implicit", "kms:<Sid>") names one of the labels."""
    return any(
        label == by or label.endswith(":" + by) and label.startswith("kms:") == by.startswith("kms:")
        for label in labels
    )


def expected(row, config):
    value = row["expect"]
    return value[config] if isinstance(value, dict) else value


def expected_by(row, config):
    value = row.get("by")
    return value.get(config) if isinstance(value, dict) else value
