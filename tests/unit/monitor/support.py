"""Helpers shared by the storage monitor's unit tests; the fixtures are in conftest.py.

`Stack` builds a healthy deployment in moto: a KMS key with an alias, the data
bucket configured as the template configures it, a logging bucket, and the
alert topic with an SQS queue subscribed so that tests can read what the
monitor published. The monitor's environment variables are set per test.
"""

import importlib.util
import json
import sys
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import boto3

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "files" / "lambda" / "storage_monitor.py"
EMBED = ROOT / "tools" / "embed_monitor.py"
REGION = "us-east-1"
DATA_BUCKET = "ebooks-storage-dev-data"
LOG_BUCKET = "ebooks-storage-logs-dev"
MONITOR_VARS = ("ENVIRONMENT", "BUCKET_NAME", "SNS_TOPIC_ARN", "EXPECTED_KMS_KEY", "EXPECTED_DAILY_UPLOADS",
                "UPLOAD_DEVIATION_PERCENT", "STORAGE_ALERT_THRESHOLD_GB", "LOGGING_BUCKET", "MAX_HEAD_REQUESTS")


def load_module(name, path):
    """Import a file by path (the Lambda runtime imports the monitor as `index`, not as a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def codes(report):
    return [alert["code"] for alert in report["alerts"]]


def alert_of(report, code):
    found = [alert for alert in report["alerts"] if alert["code"] == code]
    assert len(found) == 1, f"expected one {code} alert, got {codes(report)}"
    return found[0]


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


class RawBody:
    """The `raw` of a botocore AWSResponse built by hand."""

    def __init__(self, body):
        self.body = body

    def stream(self, **_):
        yield self.body

    def read(self, *_, **__):
        return self.body
