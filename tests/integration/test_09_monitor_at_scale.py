"""Issue 15, "the monitor at publisher scale", on dev's deployed stack: the upload check and the inventory.

Every upload reaches the monitor function through S3's EventBridge notification and the upload rule
(LocalStack's CloudFormation drops the notification setting; the deploy's parity step puts it back). A bad
upload must alert on the topic within a minute; every upload is counted in the CloudWatch metrics that the
daily run sums. LocalStack stores the inventory configuration but writes no reports, so the tests write one
exactly as S3 does (tests/support/s3_inventory.py) into the log bucket, and the daily run must then take its
totals from it: the same totals as its listing of the same objects, and an alert when the report is stale.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.aws import names_of_type, purge_bucket
from tests.support.ebooks import sample_epub, sample_mobi, sample_pdf
from tests.support.mailbox import Mailbox, sns_message_json
from tests.support.s3_inventory import put_into_bucket, records_from_bucket, write_inventory

ALERT_WITHIN_S = 60  # the promise: a bad upload alerts within a minute
NAMESPACE = "eBookStorage"


@pytest.fixture(scope="module")
def mailbox(dev, aws):
    box = Mailbox(aws, dev["SNSTopicArn"], f"itest-uploads-{uuid.uuid4().hex[:8]}")
    yield box
    box.close()


@pytest.fixture(scope="module")
def prefix():
    return f"itest-scale/{uuid.uuid4().hex[:8]}/"


def put(aws, dev, key, body, encryption="stack"):
    """Upload as a client would: SSE-KMS with the stack's key, SSE-S3, or SSE-KMS under another key ARN."""
    if encryption == "stack":
        sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": dev["EncryptionKeyArn"]}
    elif encryption == "sse-s3":
        sse = {"ServerSideEncryption": "AES256"}
    else:
        sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": encryption}
    aws("s3").put_object(Bucket=dev["EbooksBucketName"], Key=key, Body=body, **sse)


def upload_alert(mailbox, key, code, timeout=ALERT_WITHIN_S):
    """The upload check's message about key that carries an alert code, or None after timeout seconds."""
    def matches(envelope):
        message = sns_message_json(envelope) or {}
        return (message.get("trigger") == "upload" and message.get("object", {}).get("key") == key
                and code in [a["code"] for a in message.get("alerts", [])])
    return mailbox.wait_for(matches, timeout=timeout)


def uploads_recorded(aws, bucket):
    """The sum of the Uploads metric of the bucket over the last 24 hours, all formats (as the daily run reads)."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    queries = [{"Id": f"u_{fmt}", "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
        "Namespace": NAMESPACE, "MetricName": "Uploads",
        "Dimensions": [{"Name": "Bucket", "Value": bucket}, {"Name": "Format", "Value": fmt}]}}}
        for fmt in ("pdf", "epub", "mobi", "other")]
    reply = aws("cloudwatch").get_metric_data(MetricDataQueries=queries, StartTime=end - timedelta(hours=24),
                                              EndTime=end)
    return int(sum(sum(r.get("Values", [])) for r in reply["MetricDataResults"]))


def wait_for_uploads(aws, bucket, expected, timeout=ALERT_WITHIN_S):
    deadline = time.monotonic() + timeout
    while (seen := uploads_recorded(aws, bucket)) < expected and time.monotonic() < deadline:
        time.sleep(2)
    return seen


def run_monitor(aws, dev):
    reply = aws("lambda").invoke(FunctionName=dev["StorageMonitoringFunctionName"],
                                 InvocationType="RequestResponse", Payload=json.dumps({"source": "manual"}))
    payload = reply["Payload"].read()
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply, f"{reply.get('FunctionError')}: {payload!r}"
    return json.loads(payload)


def assert_alert_in_time(mailbox, key, code, started):
    envelope = upload_alert(mailbox, key, code)
    waited = time.monotonic() - started
    assert envelope is not None, (
        f"no {code} alert about {key} within {ALERT_WITHIN_S} s; messages seen: "
        f"{[(e.get('Subject'), str(e.get('Message'))[:160]) for e in mailbox.received]}")
    assert waited < ALERT_WITHIN_S
    message = sns_message_json(envelope)
    alert = next(a for a in message["alerts"] if a["code"] == code)
    assert key in alert["message"] and "Fix:" in alert["message"], alert
    assert envelope["Subject"].startswith("[ALERT] eBook upload dev "), envelope["Subject"]
    print(f"{code} about {key} arrived after {waited:.1f} s")
    return message


def test_the_upload_rule_targets_the_monitor(dev, aws):
    events = aws("events")
    # The rule of the template besides the schedule.
    (name,) = set(names_of_type("dev", "AWS::Events::Rule")) - {dev["StorageMonitoringScheduleName"]}
    rule = events.describe_rule(Name=name)
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [dev["EbooksBucketName"]], pattern
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    assert [t["Arn"] for t in targets] == [dev["StorageMonitoringFunctionArn"]]
    notification = aws("s3").get_bucket_notification_configuration(Bucket=dev["EbooksBucketName"])
    assert "EventBridgeConfiguration" in notification, notification


def test_an_sse_s3_upload_alerts_within_a_minute(dev, mailbox, aws, prefix):
    key, started = f"{prefix}plain-sse-s3.pdf", time.monotonic()
    put(aws, dev, key, sample_pdf("SSE-S3"), encryption="sse-s3")
    message = assert_alert_in_time(mailbox, key, "OBJECT_NOT_KMS", started)
    assert message["object"]["encryption"] == "AES256"
    assert message["object"]["content"] == "pdf"  # readable without a KMS key, and a real PDF


def test_an_upload_under_another_key_alerts_within_a_minute(dev, mailbox, aws, prefix):
    other = aws("kms").create_key(Description="itest: not the stack's key")["KeyMetadata"]
    try:
        key, started = f"{prefix}other-key.epub", time.monotonic()
        put(aws, dev, key, sample_epub("Other key"), encryption=other["Arn"])
        message = assert_alert_in_time(mailbox, key, "OBJECT_NOT_KMS", started)
        assert message["object"]["kms_key"] == other["Arn"]
        assert message["object"]["content"] is None  # not read: that key's grant is not the monitor's
    finally:
        aws("kms").schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)


def test_a_pdf_that_is_not_a_pdf_alerts_within_a_minute(dev, mailbox, aws, prefix):
    key, started = f"{prefix}not-really.pdf", time.monotonic()
    put(aws, dev, key, b"MZ\x90\x00 a Windows program renamed to .pdf\n" * 10)
    message = assert_alert_in_time(mailbox, key, "UNSUPPORTED_FORMAT", started)
    assert message["object"]["content"] == "not an e-book"
    assert "named .pdf" in message["alerts"][0]["message"]


def test_good_uploads_are_counted_exactly_and_raise_no_alert(dev, mailbox, aws, prefix):
    bucket = dev["EbooksBucketName"]
    before = wait_for_uploads(aws, bucket, 0, timeout=0)
    books = {f"{prefix}good/dune.pdf": sample_pdf("Dune"), f"{prefix}good/emma.epub": sample_epub("Emma"),
             f"{prefix}good/ulysses.mobi": sample_mobi("Ulysses"), f"{prefix}good/persuasion.pdf": sample_pdf("P")}
    for key, body in books.items():
        put(aws, dev, key, body)
    seen = wait_for_uploads(aws, bucket, before + len(books))
    assert seen == before + len(books), f"metrics: {seen - before} uploads recorded of {len(books)} made"
    time.sleep(5)  # a check that counted twice, or alerted, would show by now
    assert uploads_recorded(aws, bucket) == before + len(books)
    mailbox.drain()
    about_these = [e for e in mailbox.received if (sns_message_json(e) or {}).get("object", {}).get("key") in books]
    assert about_these == [], [e.get("Subject") for e in about_these]


@pytest.fixture
def inventory_writer(dev, aws):
    """Writes inventory reports of the data bucket into the log bucket; removes them (every version) after."""
    s3, bucket, logs = aws("s3"), dev["EbooksBucketName"], dev["LoggingBucketName"]

    def write(when=None):
        return write_inventory(put_into_bucket(s3, logs), records_from_bucket(s3, bucket), source_bucket=bucket,
                               destination_bucket=logs, when=when)
    yield write
    purge_bucket(s3, logs, prefix="inventory/", delete_bucket=False)


def test_the_totals_of_an_inventory_are_the_listings(dev, aws, inventory_writer):
    listed = run_monitor(aws, dev)
    assert listed["inventory"]["source"] == "listing" and listed["inventory"]["complete"] is True, listed["inventory"]
    report = inventory_writer()
    from_inventory = run_monitor(aws, dev)
    assert from_inventory["inventory"]["source"] == "s3-inventory", from_inventory["inventory"]
    written = datetime.strptime(report.manifest_key.split("/")[-2], "%Y-%m-%dT%H-%MZ")
    assert from_inventory["inventory"]["date"] == f"{written:%Y-%m-%dT%H:%M}Z", from_inventory["inventory"]
    for field in ("objects", "bytes", "noncurrent_versions", "delete_markers"):
        assert from_inventory[field] == listed[field], (field, from_inventory[field], listed[field])
    # With an inventory the run lists nothing, and the uploads come from the upload check's metrics.
    assert "ListObjectVersions" not in from_inventory["requests"], from_inventory["requests"]
    uploads = from_inventory["uploads_last_24h"]
    assert uploads["source"] == "metrics" and uploads["count"] == uploads_recorded(aws, dev["EbooksBucketName"])
    assert from_inventory["encryption_check"]["stored_not_kms"] >= 1  # the SSE-S3 upload of this module
    assert "INVENTORY_STALE" not in [a["code"] for a in from_inventory["alerts"]]


def test_a_stale_inventory_alerts(dev, aws, inventory_writer):
    three_days_ago = datetime.now(UTC) - timedelta(hours=72)
    inventory_writer(when=three_days_ago)
    report = run_monitor(aws, dev)
    assert report["inventory"]["source"] == "s3-inventory", report["inventory"]
    stale = [a for a in report["alerts"] if a["code"] == "INVENTORY_STALE"]
    assert len(stale) == 1 and stale[0]["severity"] == "warning", report["alerts"]
    assert f"{three_days_ago:%Y-%m-%d %H:%M} UTC" in stale[0]["message"], stale[0]["message"]
