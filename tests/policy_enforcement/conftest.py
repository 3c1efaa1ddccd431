"""Fixtures of the opt-in policy-enforcement suite (see policy_support.py and docs/reliability.md).

Not run by ``make test``. Without POLICY_ENFORCEMENT_ENDPOINT or POLICY_ENFORCEMENT_AWS_PROFILE the test
module fails at collection (test_bucket_policy_denials.py): nothing here runs, nothing counts as passed.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from policy_support import configured, target_from_environment

RUN_ID = uuid.uuid4().hex[:10]


def pytest_configure(config):
    # LocalStack's certificate is not what this suite tests (policy_support.Target.client).
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="session")
def target():
    if not configured():  # the test module already failed at collection; this guards direct fixture use
        pytest.fail("no policy-enforcement target configured", pytrace=False)
    try:
        return target_from_environment()
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def stack(target):
    cfn = target.client("cloudformation")
    try:
        found = cfn.describe_stacks(StackName=target.stack_name)["Stacks"][0]
    except ClientError as exc:
        pytest.fail(f"{target.stack_name} is not deployed in {target.region} ({exc}). Deploy it first, e.g. "
                    "`ansible-playbook deploy.yml -i inventories/test` with LOCALSTACK_ENDPOINT set to the "
                    "enforcing LocalStack (http URL), or with the AWS profile for a real account.", pytrace=False)
    if not found["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in found["StackStatus"]:
        pytest.fail(f"{target.stack_name} is {found['StackStatus']}: deploy it successfully first", pytrace=False)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    return {"name": target.stack_name, "bucket": outputs["EbooksBucketName"], "key_arn": outputs["EncryptionKeyArn"],
            "writer_role": outputs["S3AccessRoleArn"], "monitor_role": outputs["StorageMonitoringRoleArn"]}


@pytest.fixture(scope="session")
def admin_s3(target):
    return target.client("s3")


@pytest.fixture(scope="session")
def policy_sids(admin_s3, stack):
    """Sids of the live bucket policy: each test first checks that the statement it proves is there."""
    document = json.loads(admin_s3.get_bucket_policy(Bucket=stack["bucket"])["Policy"])
    return {statement.get("Sid") for statement in document.get("Statement", [])}


@pytest.fixture(scope="session", autouse=True)
def enforcement_canary(target):
    """Prove that the target enforces bucket policies at all, on a bucket of its own with a Deny-all policy.

    Against LocalStack community (or ENFORCE_IAM off) every denial test would fail for the wrong reason; this
    says so once, clearly.
    """
    s3 = target.client("s3")
    bucket = f"ebooks-policy-canary-{RUN_ID}"
    if target.region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": target.region})
    try:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "CanaryDenyAllPuts", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
        try:
            s3.put_object(Bucket=bucket, Key="canary.txt", Body=b"canary")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "AccessDenied":
                raise
        else:
            pytest.fail(f"{target.endpoint or 'this AWS account'} does not enforce bucket policies: a PutObject "
                        "under an explicit Deny for * went through. Use LocalStack with ENFORCE_IAM=1 (the "
                        "official image with an account token) or a real AWS account.", pytrace=False)
        yield
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
        for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)


class Probes:
    """Object keys written or attempted by the tests, under one prefix; every version is deleted at the end."""

    def __init__(self, s3, bucket):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = f"policy-enforcement/{RUN_ID}/"

    def key(self, name):
        return f"{self.prefix}{name}"

    def exists(self, key):
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def remove_all(self):
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"], VersionId=item["VersionId"])


@pytest.fixture(scope="session")
def probes(admin_s3, stack):
    found = Probes(admin_s3, stack["bucket"])
    yield found
    found.remove_all()


@pytest.fixture(scope="session")
def control_object(admin_s3, stack, probes):
    """Positive control: the suite's own principal uploads as the policy wants (TLS, aws:kms, the stack's key).

    It must work; otherwise this principal is not admitted by DenyUnauthorisedWriters and every denial below
    would prove nothing.
    """
    key = probes.key("control.pdf")
    try:
        admin_s3.put_object(Bucket=stack["bucket"], Key=key, Body=b"%PDF-1.4 control\n%%EOF\n",
                            ServerSideEncryption="aws:kms", SSEKMSKeyId=stack["key_arn"])
    except ClientError as exc:
        pytest.fail(f"the control upload (TLS, aws:kms, key {stack['key_arn']}) was refused: {exc}. Run the suite "
                    "as a principal that DenyUnauthorisedWriters admits (the account root, or a role matching the "
                    "stack parameter AdministratorRoleArnPatterns, by default an IAM Identity "
                    "Center AdministratorAccess role).", pytrace=False)
    return key


@pytest.fixture(scope="session")
def foreign_key(target):
    """A KMS key of the same account that is not the stack's."""
    kms = target.client("kms")
    key = kms.create_key(Description=f"policy-enforcement suite {RUN_ID}: not the stack's key")["KeyMetadata"]
    yield key["Arn"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


@pytest.fixture(scope="session")
def outsider(target, stack):
    """Credentials of a temporary role that IAM allows to write the bucket, but that is neither of the two roles."""
    iam, sts = target.client("iam"), target.client("sts")
    account = sts.get_caller_identity()["Account"]
    name = f"ebook-policy-outsider-{RUN_ID}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}),
        Description="policy-enforcement suite: a writer the bucket policy must refuse")
    try:
        iam.put_role_policy(RoleName=name, PolicyName="write-the-ebook-bucket", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging",
                                               "s3:GetObject"],
                 "Resource": f"arn:aws:s3:::{stack['bucket']}/*"},
                {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"],
                 "Resource": stack["key_arn"]}]}))
        role_arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        deadline = time.monotonic() + 60  # a new role takes a few seconds to be assumable on AWS
        while True:
            try:
                credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="policy-outsider")["Credentials"]
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(3)
        yield {"arn": role_arn, "credentials": credentials}
    finally:
        with contextlib.suppress(ClientError):
            iam.delete_role_policy(RoleName=name, PolicyName="write-the-ebook-bucket")
        iam.delete_role(RoleName=name)
