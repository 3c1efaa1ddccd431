"""Static tests of files/TapStack.yml (no AWS, no LocalStack).

The tools (cfn-lint, checkov) are called from the bin directory of the
interpreter that runs pytest, so the versions pinned in
requirements/controller.lock are the ones that judge the template.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import importlib.util
import pytest
from cfnlint.decode.cfn_yaml import load as cfn_load

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_names import output_names
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_names import resource_names

# The data bucket policy's contract is defined once, where storage_verify checks it; here the template must declare it.
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.bucket_policy import CONTRACT_SIDS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "files" / "TapStack.yml"
BIN_DIR = Path(sys.executable).parent  # not resolved: keep the venv's bin


def _embed_tool():
    path = ROOT / "tools" / "embed_monitor.py"
    spec = importlib.util.spec_from_file_location("embed_monitor_for_template_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAX_TEMPLATE_BYTES = 51_200  # CloudFormation --template-body limit
# Reserved for the embedded monitor: the bytes of the ZipFile block as it stands in the template (the
# wrapper and the compressed, base85-encoded code that tools/embed_monitor.py writes, plus 10 spaces of
# indentation a line). The tool refuses a block over the same number, so the two budgets cannot drift apart.
# Figures when it was set (issue 15: inventory, upload check, upload metrics; the block compressed):
#   the template without the monitor   31,339 bytes, limit 51,200 - 16,000 = 35,200 (3,861 bytes of room)
#   the embedded monitor               14,628 bytes (98 lines; the code without comments and docstrings is
#                                      31,802 bytes, the readable source 39,343), budget 16,000
#   the whole template                 45,967 bytes of 51,200 (5,233 bytes free)
# Before, the monitor was embedded as text without comments (22,123 bytes, budget 22,700) and the whole
# template stood at 50,290 bytes: no room for the inventory and upload checks.
MONITOR_BUDGET_BYTES = _embed_tool().EMBEDDED_BUDGET
ZIPFILE_MARKER = "      Code:\n        ZipFile: |\n"

ENVIRONMENTS = ("dev", "test", "prod")
REQUIRED_TAGS = {
    "iac-rlhf-amazon": "true",
    "Environment": {"Ref": "Environment"},
    "Project": "ebook-storage",
    "ManagedBy": "cloudformation",
}
REQUIRED_RESOURCES = {
    "EbooksS3Bucket": "AWS::S3::Bucket",
    "LoggingBucket": "AWS::S3::Bucket",
    "LoggingBucketPolicy": "AWS::S3::BucketPolicy",
    "EbooksKmsKey": "AWS::KMS::Key",
    "EbooksKmsKeyAlias": "AWS::KMS::Alias",
    "EbooksS3BucketPolicy": "AWS::S3::BucketPolicy",
    "S3AccessRole": "AWS::IAM::Role",
    "StorageMonitoringRole": "AWS::IAM::Role",
    "StorageMonitoringFunction": "AWS::Lambda::Function",
    "StorageMonitoringLogGroup": "AWS::Logs::LogGroup",
    "StorageMonitoringEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
    "SNSAlertTopic": "AWS::SNS::Topic",
    "SNSAlertTopicPolicy": "AWS::SNS::TopicPolicy",
    "AlertEmailSubscription": "AWS::SNS::Subscription",
    "StorageMonitoringSchedule": "AWS::Events::Rule",
    "StorageMonitoringPermission": "AWS::Lambda::Permission",
    "UploadCheckRule": "AWS::Events::Rule",
    "UploadCheckPermission": "AWS::Lambda::Permission",
}
CONDITIONAL_RESOURCES = {
    "LoggingBucket": "EnableLoggingCondition",
    "LoggingBucketPolicy": "EnableLoggingCondition",
    "EbooksKmsKey": "CreateKmsKey",
    "EbooksKmsKeyAlias": "CreateKmsKey",
    "AlertEmailSubscription": "HasAlertEmail",
}
REQUIRED_PARAMETERS = {
    "Environment": "dev",
    "KmsKeyAlias": "",
    "EnableLogging": "true",
    "MonitoringSchedule": "cron(0 6 * * ? *)",
    "ExpectedDailyUploads": 3000,
    "UploadDeviationPercent": 50,
    "StorageAlertThresholdGB": 5000,
    "NoncurrentVersionTransitionDays": 30,
    "NoncurrentVersionExpirationDays": 365,
    "AccessLogRetentionDays": 365,
    "LogRetentionDays": 90,
    "AlertEmail": "",
    "ExternalKmsKeyArn": "",
    "PreviousKmsKeyArns": "",
    "AdministratorRoleArnPatterns": (
        "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_AdministratorAccess_*"
    ),
    "PublisherPrincipalArns": "",
}
OUTPUTS = {
    "EbooksBucketName": None,
    "EbooksBucketArn": None,
    "EbooksBucketDomainName": None,
    "LoggingBucketName": "EnableLoggingCondition",
    "S3AccessRoleArn": None,
    "StorageMonitoringRoleArn": None,
    "KmsKeyId": "HasKeyId",  # a created key, or an external one whose ARN the deploy resolved
    "KmsKeyArn": "CreateKmsKey",
    "EncryptionKeyArn": None,
    "SNSTopicArn": None,
    "StorageMonitoringFunctionArn": None,
    "StorageMonitoringFunctionName": None,
    "StorageMonitoringScheduleName": None,
    "EnvironmentName": None,
}
LAMBDA_ENV_VARS = {
    "ENVIRONMENT",
    "BUCKET_NAME",
    "SNS_TOPIC_ARN",
    "EXPECTED_KMS_KEY",
    "EXPECTED_DAILY_UPLOADS",
    "UPLOAD_DEVIATION_PERCENT",
    "STORAGE_ALERT_THRESHOLD_GB",
    "LOGGING_BUCKET",
}
PHYSICAL_NAMES = {
    ("EbooksS3Bucket", "BucketName"): "ebooks-storage-{env}",
    ("LoggingBucket", "BucketName"): "ebooks-storage-logs-{env}",
    ("StorageMonitoringFunction", "FunctionName"): "eBook-StorageMonitoring-{env}",
    ("SNSAlertTopic", "TopicName"): "eBook-Alerts-{env}",
    ("StorageMonitoringSchedule", "Name"): "eBook-StorageMonitoring-Schedule-{env}",
    ("UploadCheckRule", "Name"): "eBook-UploadCheck-{env}",
    ("S3AccessRole", "RoleName"): "eBook-S3Access-{env}",
    ("StorageMonitoringRole", "RoleName"): "eBook-StorageMonitoring-{env}",
    ("EbooksKmsKeyAlias", "AliasName"): "alias/ebooks-storage-{env}",
    ("StorageMonitoringLogGroup", "LogGroupName"): "/aws/lambda/eBook-StorageMonitoring-{env}",
}


# --------------------------------------------------------------------------- helpers


def _plain(node: Any) -> Any:
    """cfn-lint's node classes -> plain dict/list/str (for comparisons and json)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


@pytest.fixture(scope="module")
def template_text() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def template() -> dict:
    return _plain(cfn_load(str(TEMPLATE_PATH)))


@pytest.fixture(scope="module")
def resources(template: dict) -> dict:
    return template["Resources"]


def _tool(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"{name} is not installed beside {sys.executable}; run tools/setup-environments.sh")
    return str(path)


def _walk(node: Any, path: tuple = ()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statements(doc: dict) -> list[dict]:
    """Statements of a policy document; Fn::If alternatives are both returned."""
    out = []
    for st in doc["Statement"]:
        if isinstance(st, dict) and "Fn::If" in st:
            out.extend(s for s in st["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
        else:
            out.append(st)
    return out


def _policy_documents(resources: dict):
    """(logical id, kind, document) of every policy document in the template."""
    for lid, res in resources.items():
        props = res.get("Properties", {})
        rtype = res["Type"]
        if rtype == "AWS::IAM::Role":
            yield lid, "trust", props["AssumeRolePolicyDocument"]
            for pol in props.get("Policies", []):
                yield lid, "iam", pol["PolicyDocument"]
        elif rtype == "AWS::IAM::Policy":
            yield lid, "iam", props["PolicyDocument"]
        elif rtype == "AWS::KMS::Key":
            yield lid, "key", props["KeyPolicy"]
        elif rtype in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
            yield lid, "resource", props["PolicyDocument"]


def _is_taggable(resource_type: str) -> bool:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    return "Tags" in schema.get("properties", {})


def check_parameter(definition: dict, value: Any) -> bool:
    """Evaluate CloudFormation's parameter constraints for one value."""
    text = str(value)
    ptype = definition.get("Type", "String")
    if ptype == "Number":
        try:
            number = float(text)
        except ValueError:
            return False
        if "MinValue" in definition and number < float(definition["MinValue"]):
            return False
        if "MaxValue" in definition and number > float(definition["MaxValue"]):
            return False
        allowed = {float(v) for v in definition.get("AllowedValues", [])}
        return not allowed or number in allowed
    if "AllowedValues" in definition and text not in {str(v) for v in definition["AllowedValues"]}:
        return False
    if "AllowedPattern" in definition and not re.fullmatch(definition["AllowedPattern"], text):
        return False
    if "MinLength" in definition and len(text) < int(definition["MinLength"]):
        return False
    return "MaxLength" not in definition or len(text) <= int(definition["MaxLength"])


# --------------------------------------------------------------------------- tools


def test_cfn_lint_is_clean():
    proc = subprocess.run(
        [_tool("cfn-lint"), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_has_no_failed_check():
    proc = subprocess.run(
        [
            _tool("checkov"),
            "-f",
            str(TEMPLATE_PATH),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        (c["check_id"], c["resource"], c["check_name"])
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, failed
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 20, "checkov ran suspiciously few checks"


def test_checkov_skips_are_justified(resources: dict):
    for lid, res in resources.items():
        skips = res.get("Metadata", {}).get("checkov", {}).get("skip", [])
        for skip in skips:
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip.get("id", "")), (lid, skip)
            assert len(skip.get("comment", "")) >= 30, f"{lid}: {skip['id']} needs a real reason"


# --------------------------------------------------------------------------- size and layout


def test_template_fits_the_template_body_limit(template_text: str):
    assert len(template_text.encode("utf-8")) < MAX_TEMPLATE_BYTES


def test_template_leaves_room_for_the_monitor_source(template_text: str):
    """Without the ZipFile body, the template must leave room for the embedded monitor."""
    start = template_text.index(ZIPFILE_MARKER) + len(ZIPFILE_MARKER)
    end = start
    lines = template_text[start:].split("\n")
    for line in lines:
        if line.strip() and not line.startswith("          "):
            break
        end += len(line) + 1
    without_code = template_text[:start] + template_text[end:]
    assert len(without_code.encode("utf-8")) <= MAX_TEMPLATE_BYTES - MONITOR_BUDGET_BYTES


def test_zipfile_block_is_replaceable(template_text: str, resources: dict):
    assert template_text.count(ZIPFILE_MARKER) == 1
    code = resources["StorageMonitoringFunction"]["Properties"]["Code"]
    assert set(code) == {"ZipFile"}
    code = _embed_tool().unwrap(code["ZipFile"].splitlines())  # the monitor's code as the runtime decodes it
    assert code is not None and "def handler(event, context)" in code


# --------------------------------------------------------------------------- inventory


def test_required_resources_exist_with_types(resources: dict):
    for lid, rtype in REQUIRED_RESOURCES.items():
        assert lid in resources, lid
        assert resources[lid]["Type"] == rtype, lid


def test_conditional_resources(resources: dict):
    for lid, condition in CONDITIONAL_RESOURCES.items():
        assert resources[lid].get("Condition") == condition, lid
    for lid in ("EbooksS3Bucket", "StorageMonitoringFunction", "SNSAlertTopic"):
        assert "Condition" not in resources[lid]


def test_conditions(template: dict):
    conditions = template["Conditions"]
    assert conditions["CreateKmsKey"] == {"Fn::Equals": [{"Ref": "KmsKeyAlias"}, ""]}
    assert conditions["EnableLoggingCondition"] == {"Fn::Equals": [{"Ref": "EnableLogging"}, "true"]}
    assert "HasAlertEmail" in conditions


def test_parameters_and_defaults(template: dict):
    params = template["Parameters"]
    assert set(REQUIRED_PARAMETERS) <= set(params)
    for name, default in REQUIRED_PARAMETERS.items():
        assert str(params[name]["Default"]) == str(default), name
        assert check_parameter(params[name], params[name]["Default"]), name
        has_constraint = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue"} & set(params[name])
        assert has_constraint, f"{name} has no constraint"
        assert params[name].get("ConstraintDescription"), f"{name} has no ConstraintDescription"


def test_outputs_and_exports(template: dict):
    outputs = template["Outputs"]
    assert set(OUTPUTS) <= set(outputs)
    for key, condition in OUTPUTS.items():
        out = outputs[key]
        assert out.get("Condition") == condition, key
        assert out["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + key}, key


@pytest.mark.parametrize(("parameters", "expected"), [
    ({}, "1234abcd-created"),  # the created key: Ref of AWS::KMS::Key is its id
    ({"KmsKeyAlias": "alias/team/ebooks",
      "ExternalKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201"},
     "0f0e0d0c-0b0a-4909-8807-060504030201"),
    ({"KmsKeyAlias": "alias/team/ebooks",
      "ExternalKmsKeyArn": "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
     "mrk-1234abcd12ab34cd56ef1234567890ab"),
    ({"KmsKeyAlias": "alias/team/ebooks"}, None),  # the alias alone (no key ARN resolved): no key id to give
])
def test_kms_key_id_output_names_the_key_in_use(parameters, expected):
    """KmsKeyId: the created key's id, or the part after key/ of ExternalKmsKeyArn (KmsKeyArn stays own-key only)."""
    from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
    from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values

    template = load_template(TEMPLATE_PATH.read_text(encoding="utf-8"))
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in {"Environment": "prod", **parameters}.items()]
    pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
              "AWS::StackName": "ebooks-storage-prod", "AWS::URLSuffix": "amazonaws.com"}
    resolver = Resolver(template, parameter_values(template, given), pseudo, {"EbooksKmsKey": "1234abcd-created"})
    assert resolver.output_active("KmsKeyArn") is (not parameters)
    if expected is None:
        assert resolver.output_active("KmsKeyId") is False
        return
    assert resolver.output_active("KmsKeyId") is True
    assert resolver.resolve(template["Outputs"]["KmsKeyId"]["Value"], "Outputs.KmsKeyId") == expected


def test_kms_key_id_of_an_external_key_also_resolves_with_the_parameter_empty(template: dict):
    """LocalStack evaluates the Fn::Select of the external branch even when ExternalKmsKeyArn is empty (a
    created key, or an alias without its ARN) and, on an update, then drops every output of the stack. The
    appended "key/" keeps a second element there; a key id never contains "key/"."""
    branch = template["Outputs"]["KmsKeyId"]["Value"]["Fn::If"]
    assert branch[:2] == ["CreateKmsKey", {"Ref": "EbooksKmsKey"}]
    assert branch[2] == {"Fn::Select": [1, {"Fn::Split": ["key/", {"Fn::Sub": "${ExternalKmsKeyArn}key/"}]}]}
    for arn, key_id in (("", ""), (GOOD_VALUES["ExternalKmsKeyArn"][1], "1234abcd-12ab-34cd-56ef-1234567890ab")):
        assert (arn + "key/").split("key/")[1] == key_id
    assert template["Conditions"]["HasKeyId"] == {
        "Fn::Or": [{"Condition": "CreateKmsKey"}, {"Condition": "HasExternalKeyArn"}]
    }


def test_publishers_may_assume_the_access_role(template: dict, resources: dict):
    parameter = template["Parameters"]["PublisherPrincipalArns"]
    # A String split in the template: LocalStack cannot update a stack that joins a CommaDelimitedList.
    assert parameter["Type"] == "String" and parameter["Default"] == ""
    assert template["Conditions"]["HasPublishers"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PublisherPrincipalArns"}, ""]}]
    }
    statements = resources["S3AccessRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statements[0] == {
        "Effect": "Allow",
        "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
        "Action": "sts:AssumeRole",
    }
    condition, publishers, absent = statements[1]["Fn::If"]
    assert (condition, absent) == ("HasPublishers", {"Ref": "AWS::NoValue"})
    assert publishers == {
        "Sid": "AllowPublisherPrincipals",
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Split": [",", {"Ref": "PublisherPrincipalArns"}]}},
        "Action": "sts:AssumeRole",
    }
    # Only the access role trusts the publishers.
    monitor = resources["StorageMonitoringRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "PublisherPrincipalArns" not in json.dumps(monitor)


def test_encryption_key_output_matches_monitor_environment(template: dict, resources: dict):
    env = resources["StorageMonitoringFunction"]["Properties"]["Environment"]["Variables"]
    assert env["EXPECTED_KMS_KEY"] == template["Outputs"]["EncryptionKeyArn"]["Value"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_physical_names(resources: dict, env: str):
    # The names as the checks, fixtures and tests read them (stack_names), and the property that sets each.
    names = resource_names(load_template(TEMPLATE_PATH.read_text(encoding="utf-8")), {"Environment": env})
    assert {lid: names.get(lid) for lid, _prop in PHYSICAL_NAMES} == {
        lid: pattern.format(env=env) for (lid, _prop), pattern in PHYSICAL_NAMES.items()
    }
    for lid, prop in PHYSICAL_NAMES:
        assert prop in resources[lid]["Properties"], lid


def test_names_whatever_the_conditions():
    """A retained log bucket keeps its name after logging is turned off: the names (and the outputs the template
    alone decides) do not depend on a resource's or an output's condition."""
    template = load_template(TEMPLATE_PATH.read_text(encoding="utf-8"))
    on, off = ({"Environment": "test", "EnableLogging": flag} for flag in ("true", "false"))
    assert resource_names(template, off) == resource_names(template, on)
    assert output_names(template, off) == output_names(template, on)
    assert output_names(template, on)["LoggingBucketName"] == resource_names(template, on)["LoggingBucket"]
    assert output_names(template, on)["EnvironmentName"] == "test"
    assert "KmsKeyArn" not in output_names(template, on)  # needs the key's physical id


def test_no_account_id_in_physical_names(resources: dict):
    name_props = {"BucketName", "RoleName", "FunctionName", "TopicName", "Name", "LogGroupName", "AliasName"}
    for lid, res in resources.items():
        for prop in name_props & set(res.get("Properties", {})):
            assert "AWS::AccountId" not in json.dumps(res["Properties"][prop]), lid


def test_tags_on_every_taggable_resource(resources: dict):
    checked = 0
    for lid, res in resources.items():
        if not _is_taggable(res["Type"]):
            continue
        tags = {t["Key"]: t["Value"] for t in res["Properties"].get("Tags", [])}
        for key, value in REQUIRED_TAGS.items():
            assert tags.get(key) == value, f"{lid} tag {key}"
        checked += 1
    assert checked >= 9


# --------------------------------------------------------------------------- security


def test_retain_policies(resources: dict):
    # The bucket policies too: a deleted stack must not leave the retained buckets without their Denies.
    for lid in ("EbooksS3Bucket", "LoggingBucket", "EbooksKmsKey", "EbooksS3BucketPolicy", "LoggingBucketPolicy"):
        assert resources[lid].get("DeletionPolicy") == "Retain", lid
        assert resources[lid].get("UpdateReplacePolicy") == "Retain", lid


def test_no_managed_policies(resources: dict):
    for lid, res in resources.items():
        assert res["Type"] != "AWS::IAM::ManagedPolicy", lid
        assert "ManagedPolicyArns" not in res.get("Properties", {}), lid


def test_no_wildcard_actions(resources: dict):
    for lid, kind, doc in _policy_documents(resources):
        for st in _statements(doc):
            actions = _as_list(st.get("Action", []))
            assert "*" not in actions, (lid, st.get("Sid"))
            if kind == "iam":
                assert st["Effect"] == "Allow", (lid, st.get("Sid"))
                assert not any(a.endswith(":*") for a in actions), (lid, st.get("Sid"))
                if st.get("Resource") == "*":  # CloudWatch metrics have no resource ARN
                    assert all(a.startswith("cloudwatch:") for a in actions), (lid, st["Sid"])
                if "cloudwatch:PutMetricData" in actions:  # only into the stack's own namespace
                    assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "eBookStorage"}}
            if kind == "key" and "kms:*" in actions:
                assert st["Sid"] == "EnableRootAccountAdministration"


def test_data_bucket_configuration(resources: dict):
    props = resources["EbooksS3Bucket"]["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(
        props["PublicAccessBlockConfiguration"][k] is True
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    )
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # ACLs are disabled by BucketOwnerEnforced; a canned ACL must not be set.
    assert "AccessControl" not in props
    logging = props["LoggingConfiguration"]["Fn::If"]
    assert logging[0] == "EnableLoggingCondition"
    assert logging[1]["DestinationBucketName"] == {"Ref": "LoggingBucket"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    noncurrent = next(r for r in rules.values() if "NoncurrentVersionExpiration" in r)
    assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] == {"Ref": "NoncurrentVersionExpirationDays"}
    assert noncurrent["NoncurrentVersionTransitions"][0]["TransitionInDays"] == {
        "Ref": "NoncurrentVersionTransitionDays"
    }
    assert any("AbortIncompleteMultipartUpload" in r for r in rules.values())


def test_logging_bucket_configuration(resources: dict):
    props = resources["LoggingBucket"]["Properties"]
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "AES256"}  # the only default encryption a log target supports
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert any(
        r.get("ExpirationInDays") == {"Ref": "AccessLogRetentionDays"} for r in props["LifecycleConfiguration"]["Rules"]
    )
    statements = resources["LoggingBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allow = {s["Sid"]: s for s in statements if s["Effect"] == "Allow"}
    assert set(allow) == {"AllowS3ServerAccessLogDelivery", "AllowS3InventoryDelivery"}
    assert allow["AllowS3ServerAccessLogDelivery"]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    inventory = allow["AllowS3InventoryDelivery"]
    assert inventory["Principal"] == {"Service": "s3.amazonaws.com"}
    assert inventory["Action"] == "s3:PutObject"
    assert inventory["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::ebooks-storage-logs-${Environment}/inventory/*"
    }
    for statement in allow.values():  # confused deputy: only the data bucket of this account
        assert {"aws:SourceArn", "aws:SourceAccount"} <= {k for c in statement["Condition"].values() for k in c}
    expire = [r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Id") == "expire-inventory-reports"]
    assert expire == [
        {"Id": "expire-inventory-reports", "Status": "Enabled", "Prefix": "inventory/", "ExpirationInDays": 7}
    ]
    assert {s["Sid"] for s in statements} >= {"DenyInsecureTransport"}


def test_bucket_policy_statements(resources: dict):
    statements = resources["EbooksS3BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) >= set(CONTRACT_SIDS)
    assert all(s["Effect"] == "Deny" for s in statements)
    # Negated header checks only apply when the header is sent (default encryption keeps working).
    for sid in ("DenyWrongEncryptionHeader", "DenyWrongKmsKey"):
        cond = by_sid[sid]["Condition"]
        assert "StringNotEquals" in cond and "Null" in cond, sid
        assert set(cond["StringNotEquals"]) == set(cond["Null"]), sid
    # aws:kms without a key id would use the AWS managed key aws/s3.
    managed = by_sid["DenyAwsManagedKey"]["Condition"]
    assert managed["StringEquals"] == {"s3:x-amz-server-side-encryption": "aws:kms"}
    assert managed["Null"] == {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"}
    # Exempted principals: [the roles and root, joined with the administrator patterns] (Fn::Split of Fn::Sub).
    for sid, roles in (
        ("DenyUnauthorisedWriters", ["S3AccessRole"]),
        ("DenyUnauthorisedReaders", ["S3AccessRole", "StorageMonitoringRole"]),
    ):
        split = by_sid[sid]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::Split"]
        # A String parameter substituted whole: LocalStack cannot update a stack that joins a CommaDelimitedList.
        assert split[0] == ","
        assert split[1]["Fn::Sub"].split(",") == [f"${{{r}.Arn}}" for r in roles] + [
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:root",
            "${AdministratorRoleArnPatterns}",
        ], sid
    writes = set(by_sid["DenyUnauthorisedWriters"]["Action"])
    assert {"s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject"} <= writes
    assert "s3:GetObject*" in by_sid["DenyUnauthorisedReaders"]["Action"]


def test_kms_key(resources: dict):
    props = resources["EbooksKmsKey"]["Properties"]
    assert props["EnableKeyRotation"] is True
    assert "PendingWindowInDays" in props
    sids = {s["Sid"]: s for s in props["KeyPolicy"]["Statement"]}
    assert "EnableRootAccountAdministration" in sids
    roles_allow = sids["AllowAccessRoleViaS3"]
    via_s3 = {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    assert roles_allow["Condition"]["StringEquals"] == via_s3
    assert sids["DenyStackRolesOutsideS3"]["Effect"] == "Deny"


def test_s3_access_role_writes_only_ebook_formats(resources: dict):
    doc = resources["S3AccessPolicy"]["Properties"]["PolicyDocument"]
    for st in _statements(doc):
        actions = _as_list(st["Action"])
        if any(a in ("s3:PutObject", "s3:DeleteObject") for a in actions):
            suffixes = {_as_list(r)[0]["Fn::Sub"].rsplit("/", 1)[1] for r in _as_list(st["Resource"])}
            assert suffixes == {"*.pdf", "*.epub", "*.mobi"}
        assert "s3:DeleteObject" not in actions


def test_monitoring_role_is_read_only_on_storage(resources: dict):
    doc = resources["StorageMonitoringPolicy"]["Properties"]["PolicyDocument"]
    actions = {a for st in _statements(doc) for a in _as_list(st["Action"])}
    s3_actions = {a for a in actions if a.startswith("s3:")}
    assert all(a.startswith(("s3:Get", "s3:List")) for a in s3_actions), s3_actions
    assert "sns:Publish" in actions
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= actions
    assert "kms:DescribeKey" in actions
    # Only what files/lambda/storage_monitor.py calls (s3:ListBucket: HeadObject of a missing key answers 404).
    assert s3_actions == {
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetBucketVersioning",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketLogging",
        "s3:GetObject",
        "s3:GetObjectVersion",  # the upload check's HeadObject/GetObject name the uploaded version
    }
    assert not {a for a in actions if a.startswith(("kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncrypt"))}
    by_sid = {st.get("Sid"): st for st in _statements(doc) if isinstance(st, dict)}
    # kms:Decrypt through S3 only, and only with the key in use: the created key by ARN, or the key the
    # external alias names (one statement per alternative of CreateKmsKey).
    created, external = [st for st in _statements(doc) if st.get("Sid") == "DecryptObjectsViaS3"]
    for decrypt in (created, external):
        assert decrypt["Action"] == "kms:Decrypt"
        assert decrypt["Condition"]["StringEquals"] == {
            "kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    assert "EbooksKmsKey" in str(created["Resource"]) and "*" not in str(created["Resource"])
    assert external["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": {"Ref": "KmsKeyAlias"}}
    cloudwatch = {a for a in actions if a.startswith("cloudwatch:")}
    assert cloudwatch == {"cloudwatch:PutMetricData", "cloudwatch:GetMetricData"}
    assert set(_as_list(by_sid["ReadInventoryReports"]["Action"])) == {"s3:ListBucket", "s3:GetObject"}


def test_sns_topic_encrypted_and_restricted(resources: dict):
    # Not the data key: KMS_KEY_NOT_ENABLED must still be publishable when that key is disabled.
    assert resources["SNSAlertTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    statements = resources["SNSAlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sids = {s["Sid"] for s in statements}
    assert {"AllowMonitorPublish", "DenyPublishByOthers", "DenyInsecureTransport"} <= sids


def test_lambda_function(resources: dict):
    props = resources["StorageMonitoringFunction"]["Properties"]
    assert props["Runtime"] == "python3.11"
    assert props["Handler"] == "index.handler"
    assert props["Timeout"] == 300
    assert props["MemorySize"] == 256
    assert set(props["Environment"]["Variables"]) == LAMBDA_ENV_VARS
    invoke = resources["StorageMonitoringEventInvokeConfig"]["Properties"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Ref": "SNSAlertTopic"}
    assert invoke["MaximumRetryAttempts"] in (0, 1, 2)
    permission = resources["StorageMonitoringPermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["StorageMonitoringSchedule", "Arn"]}
    assert permission["Principal"] == "events.amazonaws.com"
    log_group = resources["StorageMonitoringLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    rule = resources["StorageMonitoringSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "MonitoringSchedule"}


def test_upload_check_rule(resources: dict):
    """S3 sends Object Created of the data bucket to EventBridge; the rule invokes the monitor for each."""
    props = resources["EbooksS3Bucket"]["Properties"]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rule = resources["UploadCheckRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": "EbooksS3Bucket"}]}},
    }
    assert rule["State"] == "ENABLED"
    function_arn = {"Fn::GetAtt": ["StorageMonitoringFunction", "Arn"]}
    assert rule["Targets"] == [{"Id": "StorageMonitoringFunction", "Arn": function_arn}]
    permission = resources["UploadCheckPermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["UploadCheckRule", "Arn"]}
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_inventory_configuration(resources: dict):
    """A daily inventory of every version into the log bucket, only when that bucket exists."""
    inventory = resources["EbooksS3Bucket"]["Properties"]["InventoryConfigurations"]
    condition, configs, otherwise = inventory["Fn::If"]
    assert condition == "EnableLoggingCondition" and otherwise == {"Ref": "AWS::NoValue"}
    (config,) = configs
    assert config["Id"] == "daily" and config["Enabled"] is True
    assert config["IncludedObjectVersions"] == "All" and config["ScheduleFrequency"] == "Daily"
    assert config["Destination"]["Format"] == "CSV" and config["Destination"]["Prefix"] == "inventory"
    assert set(config["OptionalFields"]) == {"Size", "LastModifiedDate", "EncryptionStatus", "BucketKeyStatus"}


def test_conditional_resources_referenced_by_ref_only(resources: dict, template: dict):
    """GetAtt or ${X} in Fn::Sub on a conditional resource breaks LocalStack updates.

    LocalStack's v2 engine resolves them even in the branch of an Fn::If that
    is not taken (or in a resource being removed) and fails the update when
    the condition flips ("Unresolved resource dependencies" / "Undefined
    variable name in Fn::Sub"). A plain Ref is safe there and equivalent on AWS.
    """
    conditional = {lid for lid, res in resources.items() if "Condition" in res}
    scopes = {
        **{("Resources", k): v for k, v in resources.items()},
        **{("Outputs", k): v for k, v in template["Outputs"].items()},
    }
    for where, body in scopes.items():
        for path, node in _walk(body):
            if not isinstance(node, dict):
                continue
            if "Fn::GetAtt" in node:
                getatt = node["Fn::GetAtt"]
                target = getatt[0] if isinstance(getatt, list) else getatt.split(".")[0]
                assert target not in conditional, (where, path)
            if "Fn::Sub" in node:
                text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
                names = {v.split(".")[0] for v in re.findall(r"\$\{([^}!]+)\}", text)}
                assert not names & conditional, (where, path)


# --------------------------------------------------------------------------- parameter constraints

GOOD_VALUES = {
    "Environment": ["dev", "test", "prod"],
    "KmsKeyAlias": ["", "alias/my-key", "alias/team/ebooks_key-1", "alias/awsome", "alias/team/aws/x"],
    "ExternalKmsKeyArn": ["", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
    "PreviousKmsKeyArns": [
        "",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab,"
        "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ],
    "AdministratorRoleArnPatterns": [
        "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_AdministratorAccess_*",
        "arn:aws:iam::123456789012:role/ci-deployer",
        "arn:aws:iam::123456789012:role/ci-deployer,arn:aws-cn:iam::123456789012:role/ops/break-glass-?",
    ],
    "PublisherPrincipalArns": [
        "",
        "arn:aws:iam::123456789012:role/publisher-ci",
        "arn:aws:iam::123456789012:user/backlog-uploader",
        "arn:aws:iam::123456789012:role/team/publisher+ci=1,arn:aws-us-gov:iam::210987654321:user/ops/a.b@c_d-e",
    ],
    "EnableLogging": ["true", "false"],
    "MonitoringSchedule": [
        "cron(0 6 * * ? *)",
        "rate(1 day)",
        "rate(12 hours)",
        "rate(5 minutes)",
        "cron(0/15 8-17 ? * MON-FRI *)",
    ],
    "ExpectedDailyUploads": ["1", "3000"],
    "UploadDeviationPercent": ["1", "50", "100"],
    "StorageAlertThresholdGB": ["1", "5000"],
    "NoncurrentVersionTransitionDays": ["30", "90"],
    "NoncurrentVersionExpirationDays": ["31", "365"],
    "AccessLogRetentionDays": ["1", "365"],
    "LogRetentionDays": ["1", "90", "3653"],
    "AlertEmail": ["", "ops@example.com", "first.last+ebooks@mail.example.co.uk"],
}
BAD_VALUES = {
    "Environment": ["", "staging", "Dev", "prod "],
    "KmsKeyAlias": [
        "my-key",
        "alias/",
        "arn:aws:kms:us-east-1:123456789012:alias/x",
        "alias/bad name",
        "alias/aws/s3",  # AWS managed keys: their policy cannot admit the stack's roles
        "alias/aws/ebooks",
    ],
    "ExternalKmsKeyArn": [
        "alias/my-key",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:eu-west-1:123456789012:alias/my-key",
        "arn:aws:kms:eu-west-1:12345:key/x",
    ],
    "PreviousKmsKeyArns": [
        "alias/old-key",
        "arn:aws:kms:us-east-1:123456789012:alias/old-key",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:12345:key/x",
        "arn:aws:kms:us-east-1:123456789012:key/a b",
    ],
    "AdministratorRoleArnPatterns": [
        "",
        "*",
        "arn:aws:iam::123456789012:user/ci",
        "arn:aws:iam::123456789012:root",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::123456789012:role/a b",
        "arn:aws:iam::123456789012:role/ci,",  # CloudFormation would split it into an empty pattern
    ],
    "PublisherPrincipalArns": [
        "*",
        "arn:aws:iam::123456789012:root",  # the whole account: every principal with an IAM allow
        "123456789012",
        "arn:aws:iam::*:role/publisher",  # no wildcards in a trust policy's principal
        "arn:aws:iam::123456789012:role/publisher-*",
        "arn:aws:iam::12345:role/publisher",
        "arn:aws:sts::123456789012:assumed-role/publisher/session",
        "arn:aws:iam::123456789012:group/publishers",  # a group cannot be a principal
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/publisher,",  # CloudFormation would split it into an empty principal
        ",arn:aws:iam::123456789012:role/publisher",
        "arn:aws:iam::123456789012:role/publisher arn:aws:iam::123456789012:role/other",
        "arn:aws:iam::123456789012:role/publisher, arn:aws:iam::123456789012:role/other",
        "lambda.amazonaws.com",
    ],
    "EnableLogging": ["yes", "True", "1", ""],
    "MonitoringSchedule": [
        "",
        "daily",
        "rate(1 days)",
        "rate(2 hour)",
        "rate(0 days)",
        "cron(0 6 * * ?)",
        "cron()",
        "rate(1 day) ",
        "at(2026-01-01T00:00:00)",
    ],
    "ExpectedDailyUploads": ["0", "-5", "many"],
    "UploadDeviationPercent": ["0", "101", "x"],
    "StorageAlertThresholdGB": ["0", "-1"],
    "NoncurrentVersionTransitionDays": ["29", "0"],
    "NoncurrentVersionExpirationDays": ["30", "1"],
    "AccessLogRetentionDays": ["0"],
    "LogRetentionDays": ["2", "100", "0", "forever"],
    "AlertEmail": ["ops", "ops@", "@example.com", "ops@example", "ops@@example.com", "a b@example.com"],
}


@pytest.mark.parametrize("name", sorted(GOOD_VALUES))
def test_parameter_accepts_good_values(template: dict, name: str):
    for value in GOOD_VALUES[name]:
        assert check_parameter(template["Parameters"][name], value), (name, value)


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_parameter_rejects_bad_values(template: dict, name: str):
    for value in BAD_VALUES[name]:
        assert not check_parameter(template["Parameters"][name], value), (name, value)


def test_every_parameter_has_bad_value_cases(template: dict):
    assert set(template["Parameters"]) == set(BAD_VALUES) == set(GOOD_VALUES)
