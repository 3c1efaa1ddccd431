"""Template combinations through the role: an external KMS key (by alias), logging off, then logging on.

The other combinations run in Molecule; this one stays here because it also checks what the bucket really
encrypts with. Uses the test environment (the lifecycle tests have torn it down before; if not, it is torn
down first).
"""

from __future__ import annotations

import uuid

import pytest

from itest_support import external_key_for_test_stack

from tests.support.aws import (
    bucket_exists,
    bucket_names,
    declared_property,
    describe_stack,
    key_state,
    stack_name,
    stack_outputs,
    stack_parameters,
)
from tests.support.ebooks import sample_epub
from tests.support.environment import REGION

ALIAS = f"alias/itest-external-{uuid.uuid4().hex[:8]}"
BUCKET, LOG_BUCKET = bucket_names("test")


@pytest.fixture(scope="module")
def external_key(aws, deployments):
    yield from external_key_for_test_stack(aws, deployments, ALIAS, f"itest: external key for {stack_name('test')}")


def resolve_key_id(kms, key_ref):
    return kms.describe_key(KeyId=key_ref)["KeyMetadata"]["KeyId"]


def default_encryption(s3):
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return rule["ApplyServerSideEncryptionByDefault"]


def assert_verified(result):
    assert result.rc == 0, result.describe()
    verification = result.verification()
    assert verification is not None, result.describe()
    failed = [f"{c['id']}: {c['message']}" for c in verification["checks"] if c["status"] == "failed"]
    assert not failed, "verification failed:\n" + "\n".join(failed)
    return {c["id"]: c for c in verification["checks"]}


def test_external_key_without_logging(external_key, deployments, aws):
    s3, kms, cfn = aws("s3"), aws("kms"), aws("cloudformation")
    (result,) = deployments.deploy("test", extra_vars={"ebook_stack_kms_key_alias": ALIAS,
                                                       "ebook_stack_enable_logging": False})
    checks = assert_verified(result)
    assert checks["bucket.encryption"]["status"] == "passed"
    assert not [c for c in checks if c.startswith("logging_bucket")]

    stack = describe_stack(cfn, stack_name("test"))
    outputs = stack_outputs(stack)
    assert stack_parameters(stack)["KmsKeyAlias"] == ALIAS
    assert outputs["EncryptionKeyArn"] == f"arn:aws:kms:{REGION}:{stack['StackId'].split(':')[4]}:{ALIAS}"
    assert "KmsKeyArn" not in outputs, "the stack created a key of its own"
    # The runbooks read the key in use as KmsKeyId whichever key it is.
    assert outputs["KmsKeyId"] == external_key["KeyId"], outputs
    assert "LoggingBucketName" not in outputs

    default = default_encryption(s3)
    assert default["SSEAlgorithm"] == "aws:kms"
    assert resolve_key_id(kms, default["KMSMasterKeyID"]) == external_key["KeyId"], default
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=BUCKET)
    assert not bucket_exists(s3, LOG_BUCKET)

    # An object written without encryption headers is encrypted with the external key.
    s3.put_object(Bucket=BUCKET, Key="combo/by-default.epub", Body=sample_epub("default key"))
    head = s3.head_object(Bucket=BUCKET, Key="combo/by-default.epub")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert resolve_key_id(kms, head["SSEKMSKeyId"]) == external_key["KeyId"], head


def test_update_to_logging_on(external_key, deployments, aws):
    s3, kms, cfn = aws("s3"), aws("kms"), aws("cloudformation")
    (result,) = deployments.deploy("test", extra_vars={"ebook_stack_kms_key_alias": ALIAS,
                                                       "ebook_stack_enable_logging": True})
    checks = assert_verified(result)
    assert result.recap["changed"] >= 1, result.describe()
    assert checks["bucket.logging"]["status"] == "passed" and checks["logging_bucket.encryption"]["status"] == "passed"

    stack = describe_stack(cfn, stack_name("test"))
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack_outputs(stack)["LoggingBucketName"] == LOG_BUCKET
    logging = s3.get_bucket_logging(Bucket=BUCKET).get("LoggingEnabled") or {}
    declared = declared_property("test", "EbooksBucketName", "LoggingConfiguration",
                                 parameters={"EnableLogging": "true"})
    assert (logging.get("TargetBucket"), logging.get("TargetPrefix")) == (
        declared["DestinationBucketName"], declared["LogFilePrefix"])
    assert resolve_key_id(kms, default_encryption(s3)["KMSMasterKeyID"]) == external_key["KeyId"]
    assert s3.get_object(Bucket=BUCKET, Key="combo/by-default.epub")["Body"].read() == sample_epub("default key")


def test_teardown_leaves_the_external_key_alone(external_key, deployments, aws):
    kms, cfn = aws("kms"), aws("cloudformation")
    result = deployments.teardown("test", purge=True)
    assert result.rc == 0, result.describe()
    assert describe_stack(cfn, stack_name("test")) is None
    assert not bucket_exists(aws("s3"), BUCKET)
    assert key_state(kms, external_key["KeyId"]) == "Enabled", "teardown touched a key the stack does not own"
    assert ALIAS in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
