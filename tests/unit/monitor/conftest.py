"""Fixtures for the storage monitor's unit tests (moto 5, no network).

`stack` builds a healthy deployment in moto: a KMS key with an alias, the data
bucket configured as the template configures it, a logging bucket, and the
alert topic with an SQS queue subscribed so that tests can read what the
monitor published. The monitor's environment variables are set per test.
"""

import importlib.util
import json
import os
import sys
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "files" / "lambda" / "storage_monitor.py"
EMBED = ROOT / "tools" / "embed_monitor.py"
REGION = "us-east-1"
DATA_BUCKET = "ebooks-storage-dev-data"
LOG_BUCKET = "ebooks-storage-logs-dev"
MONITOR_VARS = ("ENVIRONMENT", "BUCKET_NAME", "SNS_TOPIC_ARN", "EXPECTED_KMS_KEY", "EXPECTED_DAILY_UPLOADS",
                "UPLOAD_DEVIATION_PERCENT", "STORAGE_ALERT_THRESHOLD_GB", "LOGGING_BUCKET", "MAX_HEAD_REQUESTS")


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def mon():
    """The monitor module, imported by path as the Lambda runtime would (index.py)."""
    return load_module("storage_monitor_under_test", SOURCE)


@pytest.fixture(scope="session")
def embed():
    return load_module("embed_monitor_under_test", EMBED)


@pytest.fixture
def aws(monkeypatch):
    """moto for every AWS call; no endpoint, profile or credential from the machine leaks in."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in MONITOR_VARS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    with mock_aws():
        yield


class Stack:
    """A healthy deployment in moto and helpers to change it."""

    def __init__(self, monkeypatch, mon):
        self.monkeypatch, self.mon = monkeypatch, mon
        self.s3, self.kms = boto3.client("s3"), boto3.client("kms")
        self.sns, self.sqs = boto3.client("sns"), boto3.client("sqs")
        key = self.kms.create_key(Description="ebooks")["KeyMetadata"]
        self.kms.create_alias(AliasName="alias/ebooks-dev", TargetKeyId=key["KeyId"])
        self.key_arn = key["Arn"]
        self.alias_arn = key["Arn"].split(":key/")[0] + ":alias/ebooks-dev"
        self.other_key_arn = self.kms.create_key(Description="someone else's")["KeyMetadata"]["Arn"]
        self.s3.create_bucket(Bucket=LOG_BUCKET)
        self.s3.put_bucket_acl(Bucket=LOG_BUCKET, ACL="log-delivery-write")
        self.s3.create_bucket(Bucket=DATA_BUCKET)
        self.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.set_default_encryption("aws:kms", self.key_arn)
        self.s3.put_public_access_block(Bucket=DATA_BUCKET, PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True))
        self.s3.put_bucket_ownership_controls(
            Bucket=DATA_BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        self.s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": LOG_BUCKET, "TargetPrefix": "s3-access/"}})
        self.topic_arn = self.sns.create_topic(Name="ebooks-alerts-dev")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.env(ENVIRONMENT="dev", BUCKET_NAME=DATA_BUCKET, SNS_TOPIC_ARN=self.topic_arn,
                 EXPECTED_KMS_KEY=self.key_arn, EXPECTED_DAILY_UPLOADS="4", UPLOAD_DEVIATION_PERCENT="50",
                 STORAGE_ALERT_THRESHOLD_GB="5000", LOGGING_BUCKET=LOG_BUCKET)

    def env(self, **values):
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def set_default_encryption(self, algorithm, key=None):
        default = {"SSEAlgorithm": algorithm, **({"KMSMasterKeyID": key} if key else {})}
        self.s3.put_bucket_encryption(Bucket=DATA_BUCKET, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]})

    @contextmanager
    def days_ago(self, days):
        """Objects and delete markers written inside get a LastModified `days` in the past."""
        past = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
        with mock.patch("moto.s3.models.utcnow", return_value=past):
            yield

    def put(self, key, body=b"x", days_old=0, **extra):
        if days_old:
            with self.days_ago(days_old):
                return self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body, **extra)
        return self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body, **extra)

    def bulk_put(self, keys, body=b"e"):
        """Write many objects straight into moto's backend (HTTP round trips would take minutes)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for key in keys:
            backend.put_object(DATA_BUCKET, key, body, encryption="aws:kms", kms_key_id=self.key_arn)

    def delete(self, key):
        return self.s3.delete_object(Bucket=DATA_BUCKET, Key=key)

    def healthy_content(self):
        """Four uploads today (the expected number) and two older e-books."""
        for key, size in (("new/a.pdf", 100), ("new/b.epub", 200), ("new/c.mobi", 300), ("new/d.PDF", 400)):
            self.put(key, b"n" * size)
        self.put("old/x.pdf", b"o" * 1000, days_old=3)
        self.put("old/y.epub", b"o" * 50, days_old=10)

    def run(self, event=None, context=None):
        return self.mon.handler({} if event is None else event, context)

    def messages(self):
        """Everything the monitor published to the topic, as SNS envelopes."""
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def stack(aws, monkeypatch, mon):
    return Stack(monkeypatch, mon)


@pytest.fixture
def healthy(stack):
    stack.healthy_content()
    return stack


def codes(report):
    return [alert["code"] for alert in report["alerts"]]


def alert_of(report, code):
    found = [alert for alert in report["alerts"] if alert["code"] == code]
    assert len(found) == 1, f"expected one {code} alert, got {codes(report)}"
    return found[0]


@pytest.fixture
def fail_call(monkeypatch):
    """Make one API operation raise ClientError (e.g. AccessDenied) for every client."""
    import botocore.client

    real = botocore.client.BaseClient._make_api_call

    def install(operation, code="AccessDenied", status=403, message="Access Denied"):
        def fake(self, name, params):
            if name == operation:
                raise ClientError({"Error": {"Code": code, "Message": message},
                                   "ResponseMetadata": {"HTTPStatusCode": status}}, name)
            return real(self, name, params)
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fake)
    return install


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **_):
        yield self.body

    def read(self, *_, **__):
        return self.body


@pytest.fixture
def throttle(monkeypatch, mon):
    """Answer the first `times` HTTP attempts of one S3 operation with 503 SlowDown.

    Returns a list that records each attempt made (throttled or passed on to moto)."""
    attempts = []

    def install(operation, times):
        real_client = mon.boto3.client

        def on_send(request, **_):
            attempts.append(request.url)
            if len(attempts) <= times:
                body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Raw(body))
            return None

        def client(name, *args, **kwargs):
            made = real_client(name, *args, **kwargs)
            if name == "s3":
                made.meta.events.register_first(f"before-send.s3.{operation}", on_send)
            return made
        monkeypatch.setattr(mon.boto3, "client", client)
        # no real waiting in a unit test: neither the retry backoff nor adaptive mode's client-side rate limit
        monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0)
        monkeypatch.setattr("botocore.retries.bucket.TokenBucket.acquire", lambda self, amount=1, block=True: True)
        return attempts
    return install
