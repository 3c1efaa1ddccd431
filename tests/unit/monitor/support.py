"""Helpers shared by the storage monitor's unit tests; the fixtures are in conftest.py.

`Stack` builds a healthy deployment in moto: a KMS key with an alias, the data
bucket configured as the template configures it, a logging bucket, and the
alert topic with an SQS queue subscribed so that tests can read what the
monitor published. The monitor's environment variables are set per test.
`upload_event` is S3's "Object Created" event as the upload rule hands it to the
function; `Stack.record_uploads` / `Stack.upload_metrics` write and read the
upload metrics in moto's CloudWatch (which answers GetMetricData with sums).
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


def upload_event(key, size=0, version_id=None, bucket=DATA_BUCKET):
    """S3's "Object Created" event as EventBridge delivers it (`key` as given: S3 may send it URL-encoded)."""
    obj = {"key": key, "size": size, "etag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0062E99A88DC407460"}
    if version_id:
        obj["version-id"] = version_id
    return {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
            "source": "aws.s3", "account": "123456789012", "time": "2026-11-29T06:00:00Z", "region": REGION,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj, "request-id": "N4N7GDK58NMKJ12R",
                       "requester": "123456789012", "source-ip-address": "10.0.0.1", "reason": "PutObject"}}


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

    def upload(self, key, body, **extra):
        """Put an object and return the "Object Created" event S3 sends for it."""
        put = self.put(key, body, **extra)
        return upload_event(key, len(body), put.get("VersionId"))

    def record_uploads(self, count, size, fmt="pdf", at=None):
        """Record `count` uploads of `size` bytes in all as the upload check does (metrics of one format)."""
        dims = self.mon.dimensions(DATA_BUCKET, fmt)
        when = {"Timestamp": at} if at else {}
        boto3.client("cloudwatch").put_metric_data(Namespace=self.mon.METRICS, MetricData=[
            {"MetricName": "Uploads", "Dimensions": dims, "Value": count, "Unit": "Count", **when},
            {"MetricName": "UploadBytes", "Dimensions": dims, "Value": size, "Unit": "Bytes", **when}])

    def upload_metrics(self):
        """The upload metrics of the last 24 hours by format: {fmt: (uploads, bytes)} for formats with data."""
        end = datetime.now(UTC) + timedelta(minutes=1)
        queries = [{"Id": f"{name.lower()}_{fmt}", "MetricStat": {"Period": 86400, "Stat": "Sum", "Metric": {
            "Namespace": self.mon.METRICS, "MetricName": name, "Dimensions": self.mon.dimensions(DATA_BUCKET, fmt)}}}
            for name in ("Uploads", "UploadBytes") for fmt in self.mon.FORMATS]
        results = boto3.client("cloudwatch").get_metric_data(
            MetricDataQueries=queries, StartTime=end - timedelta(days=1), EndTime=end)["MetricDataResults"]
        sums = {r["Id"]: sum(r["Values"]) for r in results}
        return {fmt: (sums[f"uploads_{fmt}"], sums[f"uploadbytes_{fmt}"]) for fmt in self.mon.FORMATS
                if sums[f"uploads_{fmt}"]}

    def write_inventory(self, records=None, when=None, **options):
        """Write an S3 Inventory report into the log bucket as S3 does (tests/support/s3_inventory.py): of
        `records` (Version tuples), by default of every version the data bucket holds now."""
        from tests.support import s3_inventory

        if records is None:
            records = s3_inventory.records_from_bucket(self.s3, DATA_BUCKET)
        return s3_inventory.write_inventory(s3_inventory.put_into_bucket(self.s3, LOG_BUCKET), records,
                                            source_bucket=DATA_BUCKET, destination_bucket=LOG_BUCKET, when=when,
                                            **options)

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
