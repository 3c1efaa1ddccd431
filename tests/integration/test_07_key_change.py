"""A key change keeps the stored e-books readable (issue 14, gap 6), run for real through the role.

The test stack starts with a key of its own and one e-book, switches to an external key by alias, then back to
a key of its own. After each switch the role has passed every earlier key in PreviousKmsKeyArns, S3AccessRole's
inline policy grants kms:Decrypt through S3 on exactly those keys (LocalStack enforces no policy, so the policy
document is what is checked here; tests/unit/policy proves what AWS then allows), the earlier e-books still read
back unchanged and new ones are written with the key in use.
"""

from __future__ import annotations

import json
import uuid

import pytest

from itest_support import external_key_for_test_stack

from tests.support.aws import (
    bucket_names,
    describe_stack,
    output_resource_name,
    stack_name,
    stack_outputs,
    stack_parameters,
)
from tests.support.ebooks import sample_epub, sample_pdf

ALIAS = f"alias/itest-key-change-{uuid.uuid4().hex[:8]}"
BUCKET = bucket_names("test")[0]
STACK = stack_name("test")


@pytest.fixture(scope="module")
def external_key(aws, deployments):
    yield from external_key_for_test_stack(aws, deployments, ALIAS, "itest: the key a stack switches to")


@pytest.fixture(scope="module")
def seen():
    """What the earlier tests of this module found (they run in order, on one stack)."""
    return {}


def deploy(deployments, alias):
    (result,) = deployments.deploy("test", extra_vars={"ebook_stack_kms_key_alias": alias,
                                                       "ebook_stack_enable_logging": False})
    assert result.rc == 0, result.describe()
    assert result.verification()["summary"]["failed"] == 0, result.failed_checks()
    return result


def kept_keys(aws):
    """The stack's PreviousKmsKeyArns, and the keys S3AccessRole may decrypt with beyond the one in use."""
    stack = describe_stack(aws("cloudformation"), STACK)
    parameter = stack_parameters(stack).get("PreviousKmsKeyArns", "")
    iam = aws("iam")
    role = output_resource_name("test", "S3AccessRoleArn")
    granted = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        for statement in document["Statement"]:
            if statement.get("Sid") == "ReadWithPreviousKeys":
                assert statement["Action"] in ("kms:Decrypt", ["kms:Decrypt"]), statement
                granted += [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
    return sorted(filter(None, parameter.split(","))), sorted(granted)


def key_of(aws, key):
    return aws("s3").head_object(Bucket=BUCKET, Key=key)["SSEKMSKeyId"]


def key_arn(aws, key_ref):
    return aws("kms").describe_key(KeyId=key_ref)["KeyMetadata"]["Arn"]


def test_switch_to_an_external_key_keeps_the_old_key_readable(external_key, deployments, aws, seen):
    s3 = aws("s3")
    deploy(deployments, "")
    own_key = seen["first_own_key"] = stack_outputs(describe_stack(aws("cloudformation"), STACK))["KmsKeyArn"]
    s3.put_object(Bucket=BUCKET, Key="keys/before.pdf", Body=sample_pdf("written under the stack's own key"))
    assert key_arn(aws, key_of(aws, "keys/before.pdf")) == own_key
    assert kept_keys(aws) == ([], []), "a first deploy keeps no earlier key"

    deploy(deployments, ALIAS)
    stack = describe_stack(aws("cloudformation"), STACK)
    assert stack_parameters(stack)["ExternalKmsKeyArn"] == external_key["Arn"]
    assert kept_keys(aws) == ([own_key], [own_key])
    assert s3.get_object(Bucket=BUCKET, Key="keys/before.pdf")["Body"].read() == sample_pdf(
        "written under the stack's own key")
    s3.put_object(Bucket=BUCKET, Key="keys/after.epub", Body=sample_epub("written under the external key"))
    assert key_arn(aws, key_of(aws, "keys/after.epub")) == external_key["Arn"]

    # A re-run changes nothing and keeps the same earlier key.
    again = deploy(deployments, ALIAS)
    assert again.recap["changed"] == 0, again.describe()
    assert kept_keys(aws) == ([own_key], [own_key])


def test_switch_back_to_an_own_key_is_refused_on_localstack(external_key, deployments, aws):
    """LocalStack leaves the alias, policies and environment on the earlier key (docs/localstack.md)."""
    before = describe_stack(aws("cloudformation"), STACK)
    (result,) = deployments.deploy("test", extra_vars={"ebook_stack_kms_key_alias": "",
                                                       "ebook_stack_enable_logging": False})
    assert result.rc != 0, result.describe()
    message = "\n".join(result.failures())
    assert "LocalStack cannot make this switch" in message and "Nothing was changed" in message, message
    assert "playbooks/teardown.yml -i inventories/test" in message, message
    assert not [r for r in result.find(name="Create or update") if not r.get("skipped")], result.describe()
    after = describe_stack(aws("cloudformation"), STACK)
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
    assert stack_parameters(after) == stack_parameters(before)


def test_a_retired_key_is_no_longer_granted(external_key, deployments, aws, seen):
    (result,) = deployments.deploy("test", extra_vars={"ebook_stack_kms_key_alias": ALIAS,
                                                       "ebook_stack_enable_logging": False,
                                                       "ebook_stack_retired_kms_key_arns": [seen["first_own_key"]]})
    assert result.rc == 0, result.describe()
    assert result.verification()["summary"]["failed"] == 0, result.failed_checks()
    assert kept_keys(aws) == ([], [])


def test_teardown_then_an_own_key_again(external_key, deployments, aws):
    """The way back on LocalStack: tear down (e-books purged) and deploy with a key of the stack's own."""
    result = deployments.teardown("test", purge=True)
    assert result.rc == 0, result.describe()
    assert describe_stack(aws("cloudformation"), STACK) is None
    deploy(deployments, "")
    stack = describe_stack(aws("cloudformation"), STACK)
    assert stack_parameters(stack)["KmsKeyAlias"] == ""
    assert stack_outputs(stack)["KmsKeyArn"] != external_key["Arn"]
    assert kept_keys(aws) == ([], []), "a new stack keeps no key of the stack it replaces"
