"""Issue 14, gap 4, and re-attaching a retained bucket: a deploy that would create a bucket which exists outside
the stack stops on AWS first, with an IMPORT change set that AWS's rules for resource import accept.

LocalStack creates a stack over an existing bucket, so the role is shown AWS through a proxy that hides
LocalStack's own paths (``as_aws``): it must stop before any change, write the import change set and print the
commands that adopt the bucket. LocalStack 2026.3 does not implement IMPORT change sets (CreateChangeSet with
ChangeSetType=IMPORT: "Stack '<name>' does not exist." for a new stack, InternalFailure "...not yet been emulated
by LocalStack" for an existing one; both providers ``raise NotImplementedError()`` there), so what the import
itself does only AWS can show. Tested here instead:

* the printed change set: valid (cfn-lint, LocalStack's ValidateTemplate), nothing in it refers to a resource
  outside it, each imported resource ``Retain``ed, ``PreviousKmsKeyArns`` = the key of the stored e-books;
* the printed create-change-set, run as printed (against LocalStack it must still fail with the error above:
  the day it does not, this test says so);
* the state an import leaves (the stack holding the buckets, with the printed parameters), made by creating the
  stack from the import template instead, then the ordinary deploy: the e-books written under the old key are
  still there, and the new stack's S3AccessRole keeps kms:Decrypt on that key;
* the same for an existing stack whose log bucket is outside it (EnableLogging turned on again): the template
  it runs, unchanged, plus the log bucket and its policy, every parameter UsePreviousValue, within the 51,200
  bytes of --template-body.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from reliability_support import FaultProxy, Ledger, prod_deploy

from tests.support.aws import (
    Clients,
    bucket_names,
    client,
    declared_property,
    describe_stack,
    force_cleanup,
    output_resource_name,
    purge_bucket,
    resources_left,
    retire_keys,
    stack_name,
    stack_outputs,
    stack_parameters,
    template,
    wait_stack,
)

PROD = stack_name("prod")
PROD_DATA, PROD_LOGS = bucket_names("prod")
LEDGER_PREFIX = "before-delete"
DEV = stack_name("dev")
DEV_DATA, DEV_LOGS = bucket_names("dev")
# The data bucket's name as files/TapStack.yml writes it (an import template must keep it: no replacement later).
DATA_BUCKET_NAME_AS_WRITTEN = template()["Resources"]["EbooksS3Bucket"]["Properties"]["BucketName"]
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
# What LocalStack 2026.3.0 answers to an IMPORT change set for a stack that does not exist.
LOCALSTACK_NO_IMPORT = "Stack '{stack}' does not exist."


def references(value):
    """Every logical name a template value reaches through Ref, Fn::GetAtt or an Fn::Sub variable."""
    if isinstance(value, list):
        return {name for item in value for name in references(item)}
    if not isinstance(value, dict):
        return set()
    if list(value) == ["Ref"]:
        return {value["Ref"]}
    if list(value) == ["Fn::GetAtt"]:
        target = value["Fn::GetAtt"]
        return {(target.split(".")[0] if isinstance(target, str) else target[0])}
    if list(value) == ["Fn::Sub"]:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        found = {m.split(".")[0] for m in re.findall(r"\$\{([^}!][^}]*)\}", text) if m not in variables}
        return found | references(list(variables.values()))
    return references(list(value.values()))


def outside_references(template):
    """Names the template's resources reach that it declares neither as parameter nor as resource."""
    declared = set(template.get("Parameters") or {}) | set(template["Resources"])
    found = references([r.get("Properties") for r in template["Resources"].values()])
    conditions = {c for r in template["Resources"].values() for c in [r.get("Condition")] if c}
    missing = {n for n in found if not n.startswith("AWS::") and n not in declared}
    return sorted(missing | {f"condition {c}" for c in conditions - set(template.get("Conditions") or {})})


def import_command(message):
    """The printed create-change-set as the arguments a shell would pass (the backslash line ends joined)."""
    text = message.split("aws cloudformation create-change-set", 1)[1]
    text = text.split("\n  aws cloudformation wait", 1)[0].split("\n    aws cloudformation wait", 1)[0]
    words = shlex.split(text.replace("\\\n", " "))
    options = {}
    for index, word in enumerate(words):
        if word.startswith("--"):
            value = words[index + 1] if index + 1 < len(words) and not words[index + 1].startswith("--") else None
            options[word[2:]] = value
    return options


def load_file_option(value):
    assert value.startswith("file://"), value
    return json.loads(Path(value[len("file://"):]).read_text(encoding="utf-8"))


def check_import_template(template, imported, tmp_path, endpoint):
    """What an import template must be: valid, self-contained, each imported resource Retain'ed and unconditional."""
    assert outside_references(template) == [], "the import template refers to what it does not hold"
    for logical_id in imported:
        resource = template["Resources"][logical_id]
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert "Condition" not in resource, logical_id
    path = tmp_path / "adopt-retained-buckets.json"
    path.write_text(json.dumps(template, indent=2), encoding="utf-8")
    lint = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, timeout=300, check=False)
    assert lint.returncode == 0, f"cfn-lint on the import template:\n{lint.stdout}{lint.stderr}"
    client(endpoint, "cloudformation").validate_template(TemplateBody=json.dumps(template, separators=(",", ":")))


def stop_message(run):
    assert run.rc != 0, f"the deploy went on over a retained bucket:\n{run.describe()}"
    assert not run.has_traceback(), run.describe()
    final = run.failures()[-1]
    assert final.task.startswith("Stop before creating over"), run.describe()
    assert not run.ran("Create or update"), run.describe()
    return final.data["msg"]


def test_prod_deploy_over_a_retained_bucket_stops_with_the_import_commands(ansible, shared_endpoint,
                                                                           shared_prod_library, tmp_path):
    cfn = client(shared_endpoint, "cloudformation")
    assert describe_stack(cfn, PROD) is None, "a prod stack is left from another test"
    with FaultProxy(shared_endpoint, as_aws=True) as proxy:
        run = prod_deploy(ansible, proxy.url, label="deploy-prod-retained-bucket")

    message = stop_message(run)
    assert f"{PROD} would create {PROD_DATA}, which exist outside the stack" in message, message
    assert "(this account; kept by DeletionPolicy Retain)" in message, message
    assert "Nothing was changed" in message, message
    for command in ("aws cloudformation create-change-set", "--change-set-type IMPORT",
                    "aws cloudformation execute-change-set", "aws cloudformation wait stack-import-complete",
                    "ansible-playbook deploy.yml -i inventories/prod", "docs/runbooks/reattach-retained-bucket.md"):
        assert command in message, f"{command!r} is missing:\n{message}"
    options = import_command(message)
    resources = json.loads(options["resources-to-import"])
    assert resources == [{"ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "EbooksS3Bucket",
                          "ResourceIdentifier": {"BucketName": PROD_DATA}}]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(options["parameters"])}
    assert parameters["Environment"] == "prod" and parameters["NoncurrentVersionExpirationDays"] == "730"
    assert "PreviousKmsKeyArns" in parameters

    template = load_file_option(options["template-body"])
    assert set(template["Resources"]) == {"EbooksS3Bucket"} and "Outputs" not in template
    # The name as the template writes it; with the printed Environment it is the bucket's.
    assert template["Resources"]["EbooksS3Bucket"]["Properties"]["BucketName"] == DATA_BUCKET_NAME_AS_WRITTEN
    check_import_template(template, ["EbooksS3Bucket"], tmp_path, shared_endpoint)
    files = Path(options["template-body"][len("file://"):]).parent
    written = json.loads((files / "adopt-retained-buckets-parameters.json").read_text())
    assert written == json.loads(options["parameters"])
    assert json.loads((files / "adopt-retained-buckets-resources.json").read_text()) == resources

    assert describe_stack(cfn, PROD) is None
    problems = shared_prod_library.problems()
    assert not problems, f"e-books changed ({shared_prod_library.summary()}): {problems}"


def remove_update_leftovers(aws, env):
    """Remove what the stack of ``env`` made and its deletion left behind on LocalStack.

    LocalStack 2026.3 does not delete, with a stack, the resources that an update added to it: here the stand-in
    for the import makes a stack of the buckets alone and the deploy after it adds the rest (roles, function,
    topic, rule, log group, key alias). AWS deletes them with the stack.
    """
    left = resources_left(aws, env, kinds=("iam_roles", "lambda_functions", "sns_topics", "event_rules", "log_groups",
                                           "kms_aliases"))
    iam = aws("iam")
    for role in left["iam_roles"]:
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=role)
    for function in left["lambda_functions"]:
        aws("lambda").delete_function(FunctionName=function)
    for topic in left["sns_topics"]:
        aws("sns").delete_topic(TopicArn=topic)
    for rule in left["event_rules"]:
        targets = [t["Id"] for t in aws("events").list_targets_by_rule(Rule=rule).get("Targets", [])]
        if targets:
            aws("events").remove_targets(Rule=rule, Ids=targets)
        aws("events").delete_rule(Name=rule)
    for group in left["log_groups"]:
        aws("logs").delete_log_group(logGroupName=group)
    for alias in left["kms_aliases"]:
        aws("kms").delete_alias(AliasName=alias)


def restore_prod_library(aws):
    """Put prod's data bucket back as ``shared_prod_library`` made it, for the tests after this file: no stack
    settings (the retired keys' default encryption would refuse every write), no log bucket, none of the
    e-books written here. The library's own versions were never touched."""
    s3 = aws("s3")
    purge_bucket(s3, PROD_DATA, prefix=f"{LEDGER_PREFIX}/", delete_bucket=False)
    purge_bucket(s3, PROD_LOGS)
    for call in ("delete_bucket_policy", "delete_bucket_encryption", "delete_bucket_lifecycle",
                 "delete_public_access_block", "delete_bucket_ownership_controls", "delete_bucket_tagging"):
        getattr(s3, call)(Bucket=PROD_DATA)
    s3.put_bucket_logging(Bucket=PROD_DATA, BucketLoggingStatus={})
    rules = s3.get_bucket_encryption(Bucket=PROD_DATA)["ServerSideEncryptionConfiguration"].get("Rules", [])
    assert all(r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] != "aws:kms" for r in rules), rules
    assert not s3.get_bucket_logging(Bucket=PROD_DATA).get("LoggingEnabled")


@pytest.fixture
def deleted_prod_stack(ansible, shared_endpoint, shared_prod_library):
    """prod deployed by deploy.yml over the retained prod library, e-books written under the stack's key, then
    the stack deleted as ``aws cloudformation delete-stack`` does: the data bucket (SSE-KMS under that key,
    logging, its policy), the log bucket and its policy and the key stay (Retain). Afterwards the prod stack is
    deleted again, the library bucket put back as it was and the keys of these stacks retired."""
    aws = Clients(shared_endpoint)
    cfn = aws("cloudformation")
    assert describe_stack(cfn, PROD) is None, "a prod stack is left from another test"
    keys = []
    try:
        run = prod_deploy(ansible, shared_endpoint, label="deploy-prod-to-delete")
        assert run.rc == 0, f"could not deploy prod on {shared_endpoint}:\n{run.describe()}"
        outputs = stack_outputs(describe_stack(cfn, PROD))
        keys.append(outputs["KmsKeyArn"])
        ledger = Ledger(shared_endpoint, outputs["EbooksBucketName"], outputs["KmsKeyArn"]).fill(LEDGER_PREFIX)
        cfn.delete_stack(StackName=PROD)
        wait_stack(cfn, PROD)
        assert describe_stack(cfn, PROD) is None
        yield {"ledger": ledger, "old_key": outputs["KmsKeyArn"], "keys": keys}
    finally:
        if describe_stack(cfn, PROD):
            cfn.delete_stack(StackName=PROD)
            wait_stack(cfn, PROD)
        remove_update_leftovers(aws, "prod")
        restore_prod_library(aws)
        retire_keys(aws("kms"), keys)


def test_a_deleted_stack_is_reattached_and_keeps_the_old_key(ansible, shared_endpoint, deleted_prod_stack,
                                                             shared_prod_library, tmp_path):
    aws = Clients(shared_endpoint)
    cfn = aws("cloudformation")
    ledger, old_key = deleted_prod_stack["ledger"], deleted_prod_stack["old_key"]
    assert not ledger.problems(), "the e-books did not survive the stack's deletion"

    # 1. On AWS the deploy stops before any change and prints the import.
    with FaultProxy(shared_endpoint, as_aws=True) as proxy:
        run = prod_deploy(ansible, proxy.url, label="deploy-prod-over-retained")
    message = stop_message(run)
    assert f"{PROD} would create {PROD_LOGS}, {PROD_DATA}, which exist outside the stack" in message, message
    assert describe_stack(cfn, PROD) is None
    options = import_command(message)
    assert options["change-set-type"] == "IMPORT" and options["stack-name"] == PROD
    resources = json.loads(options["resources-to-import"])
    assert [(r["LogicalResourceId"], r["ResourceIdentifier"]) for r in resources] == [
        ("LoggingBucket", {"BucketName": PROD_LOGS}), ("LoggingBucketPolicy", {"Bucket": PROD_LOGS}),
        ("EbooksS3Bucket", {"BucketName": PROD_DATA}), ("EbooksS3BucketPolicy", {"Bucket": PROD_DATA})]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(options["parameters"])}
    # The key of the bucket's default encryption first (then any key an earlier prod stack kept).
    assert parameters["PreviousKmsKeyArns"].split(",")[0] == old_key, message
    assert parameters["Environment"] == "prod" and parameters["NoncurrentVersionExpirationDays"] == "730"
    assert f"E-books stored so far are encrypted with {old_key}" in message, message

    template = load_file_option(options["template-body"])
    assert set(template["Resources"]) == {r["LogicalResourceId"] for r in resources}
    assert "Outputs" not in template, "an import may not add outputs"
    check_import_template(template, template["Resources"], tmp_path, shared_endpoint)
    data = template["Resources"]["EbooksS3Bucket"]["Properties"]
    assert data["BucketName"] == DATA_BUCKET_NAME_AS_WRITTEN  # as deployed: no replacement later
    assert data["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": old_key}
    assert data["LoggingConfiguration"] == declared_property("prod", "EbooksBucketName", "LoggingConfiguration")
    live_policy = json.loads(aws("s3").get_bucket_policy(Bucket=PROD_DATA)["Policy"])
    assert template["Resources"]["EbooksS3BucketPolicy"]["Properties"] == {
        "Bucket": {"Ref": "EbooksS3Bucket"}, "PolicyDocument": live_policy}

    # 2. The printed create-change-set, as printed. LocalStack does not implement IMPORT.
    request = {"StackName": options["stack-name"], "ChangeSetName": options["change-set-name"],
               "ChangeSetType": options["change-set-type"], "Capabilities": [options["capabilities"]],
               "TemplateBody": json.dumps(template), "Parameters": json.loads(options["parameters"]),
               "ResourcesToImport": resources}
    with pytest.raises(ClientError) as refused:
        cfn.create_change_set(**request)
    assert LOCALSTACK_NO_IMPORT.format(stack=PROD) in str(refused.value), (
        f"LocalStack answers the IMPORT change set differently now ({refused.value}): if it imports, run the "
        "import here for real instead of the stand-in below")

    # 3. Stand-in for the import: the stack created from the import template with the printed parameters holds
    #    the buckets and carries the parameters, as the import would leave it (LocalStack creates over them).
    cfn.create_stack(StackName=PROD, TemplateBody=request["TemplateBody"], Parameters=request["Parameters"],
                     Capabilities=request["Capabilities"])
    stack = wait_stack(cfn, PROD)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    assert not ledger.problems(), "the stand-in for the import changed the e-books"

    # 4. The ordinary deploy after the import: prod's review of the change set finds nothing that deletes data
    #    (the buckets are updated, not replaced), a new key, and kms:Decrypt kept on the old one.
    run = prod_deploy(ansible, shared_endpoint, label="deploy-prod-after-import")
    assert run.rc == 0, run.describe()
    stack = describe_stack(cfn, PROD)
    new_key = stack_outputs(stack)["KmsKeyArn"]
    deleted_prod_stack["keys"].append(new_key)
    assert new_key != old_key
    assert old_key in stack_parameters(stack)["PreviousKmsKeyArns"].split(",")
    encryption = aws("s3").get_bucket_encryption(Bucket=PROD_DATA)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == new_key
    iam, role = aws("iam"), output_resource_name("prod", "S3AccessRoleArn")
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        statements += (json.loads(document) if isinstance(document, str) else document)["Statement"]
    previous = [s for s in statements if s.get("Sid") == "ReadWithPreviousKeys"]
    assert previous and previous[0]["Action"] == "kms:Decrypt", statements
    resource = previous[0]["Resource"]
    assert old_key in (resource if isinstance(resource, list) else [resource]), statements
    problems = ledger.problems() + shared_prod_library.problems()
    assert not problems, f"e-books written before ({ledger.summary()}; {shared_prod_library.summary()}): {problems}"


@pytest.fixture
def dev_without_its_log_bucket(ansible, shared_endpoint):
    """dev deployed with EnableLogging=false, and its log bucket with a policy outside the stack: what turning
    logging off leaves on AWS (the bucket and its policy are Retain'ed when they leave the stack). LocalStack
    2026.3 still lists both among the stack's resources when their condition turns false (the pre-flight then
    finds nothing to adopt), so they are made with boto3 here.
    Everything of dev is removed afterwards."""
    aws = Clients(shared_endpoint)
    keys = []
    try:
        run = ansible.playbook("deploy.yml", "inventories/dev", {"ebook_stack_enable_logging": False},
                               endpoint=shared_endpoint, label="deploy-dev-logging-off")
        assert run.rc == 0, f"could not deploy dev on {shared_endpoint}:\n{run.describe()}"
        keys.append(stack_outputs(describe_stack(aws("cloudformation"), DEV))["KmsKeyArn"])
        held = {r["LogicalResourceId"] for r in aws("cloudformation").list_stack_resources(
            StackName=DEV)["StackResourceSummaries"]}
        assert "LoggingBucket" not in held, held
        prefix = declared_property("dev", "EbooksBucketName", "LoggingConfiguration")["LogFilePrefix"]
        aws("s3").create_bucket(Bucket=DEV_LOGS)
        aws("s3").put_bucket_policy(Bucket=DEV_LOGS, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowS3ServerAccessLogDelivery", "Effect": "Allow",
             "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{DEV_LOGS}/{prefix}*"}]}))
        yield keys
    finally:
        force_cleanup(aws, "dev", keys)
        remove_update_leftovers(aws, "dev")


def test_logging_turned_on_again_imports_the_log_bucket_into_the_stack(ansible, shared_endpoint,
                                                                         dev_without_its_log_bucket, tmp_path):
    aws = Clients(shared_endpoint)
    cfn = aws("cloudformation")
    before = describe_stack(cfn, DEV)
    deployed = cfn.get_template(StackName=DEV, TemplateStage="Original")["TemplateBody"]

    with FaultProxy(shared_endpoint, as_aws=True) as proxy:
        run = ansible.playbook("deploy.yml", "inventories/dev", {"ebook_stack_endpoint_url": proxy.url},
                               endpoint=proxy.url, label="deploy-dev-logging-on-again")
    message = stop_message(run)
    assert f"{DEV} would create {DEV_LOGS}, which exist outside the stack" in message, message
    assert describe_stack(cfn, DEV)["LastUpdatedTime"] == before["LastUpdatedTime"], "the stack was changed"
    options = import_command(message)
    resources = json.loads(options["resources-to-import"])
    assert [r["LogicalResourceId"] for r in resources] == ["LoggingBucket", "LoggingBucketPolicy"]
    # An import may not change the stack's other resources: every parameter keeps its previous value.
    parameters = json.loads(options["parameters"])
    assert parameters == [{"ParameterKey": k, "UsePreviousValue": True} for k in stack_parameters(before)]

    template_file = Path(options["template-body"][len("file://"):])
    assert template_file.stat().st_size <= 51_200, "over the --template-body limit"
    template = json.loads(template_file.read_text(encoding="utf-8"))
    check_import_template(template, ["LoggingBucket", "LoggingBucketPolicy"], tmp_path, shared_endpoint)
    # The template the stack runs, unchanged, plus the imported resources (YAML there, JSON here).
    deployed = json.loads(json.dumps(_cfn_yaml(deployed)))
    assert set(template["Resources"]) == set(deployed["Resources"])  # LoggingBucket is declared, conditionally
    for logical_id, resource in deployed["Resources"].items():
        if logical_id not in ("LoggingBucket", "LoggingBucketPolicy"):
            assert template["Resources"][logical_id] == resource, f"{logical_id} changed: an import may only add"
    for section in ("Parameters", "Conditions", "Outputs"):
        assert template.get(section) == deployed.get(section), section

    # The printed create-change-set, as printed: LocalStack does not implement IMPORT.
    request = {"StackName": DEV, "ChangeSetName": options["change-set-name"], "ChangeSetType": "IMPORT",
               "Capabilities": [options["capabilities"]], "TemplateBody": json.dumps(template),
               "Parameters": parameters, "ResourcesToImport": resources}
    with pytest.raises(ClientError) as refused:
        cfn.create_change_set(**request)
    assert "not yet been emulated by LocalStack" in str(refused.value), refused.value

    # Stand-in for the import, then the deploy with logging on: the stack holds the log bucket again.
    cfn.update_stack(StackName=DEV, TemplateBody=request["TemplateBody"], Parameters=parameters,
                     Capabilities=request["Capabilities"])
    assert wait_stack(cfn, DEV)["StackStatus"] == "UPDATE_COMPLETE"
    run = ansible.playbook("deploy.yml", "inventories/dev", endpoint=shared_endpoint,
                           label="deploy-dev-after-log-import")
    assert run.rc == 0, run.describe()
    held = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName=DEV)["StackResourceSummaries"]}
    assert held["LoggingBucket"] == DEV_LOGS
    assert aws("s3").get_bucket_logging(Bucket=DEV_DATA)["LoggingEnabled"]["TargetBucket"] == DEV_LOGS


def _cfn_yaml(text):
    """The deployed template (CloudFormation YAML with short-form tags) as plain data, long-form intrinsics."""
    from cfnlint.decode.cfn_yaml import loads

    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value if not isinstance(value, str) else str(value)

    return plain(loads(text)) if isinstance(text, str) else text
