"""Issue "monitor": the deployed monitor function of dev, invoked for real.

E-books of each format, an unsupported file and an SSE-S3 object are uploaded to dev's bucket; the function
is invoked (RequestResponse) and its report checked; the same report must reach an SQS queue subscribed to the
alert topic, with subject and message attributes; playbooks/monitor.yml must print it; and an asynchronous
invocation that fails must reach the topic through the function's on-failure destination.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.support.aws import bucket_names, bucket_versions
from tests.support.ebooks import sample_epub, sample_mobi, sample_pdf
from tests.support.mailbox import Mailbox, sns_message_json

FAILURE_WAIT_S = 60


@pytest.fixture(scope="module")
def mailbox(dev, aws):
    box = Mailbox(aws, dev["SNSTopicArn"], f"itest-alerts-{uuid.uuid4().hex[:8]}")
    yield box
    box.close()


@pytest.fixture(scope="module")
def uploads(dev, aws):
    """What is uploaded, by key: (body, format, SSE-KMS or not). The bucket must be empty before."""
    s3, bucket, key_arn = aws("s3"), dev["EbooksBucketName"], dev["EncryptionKeyArn"]
    versions, markers = bucket_versions(s3, bucket)
    assert not versions and not markers, f"{bucket} is not empty: the expected counts would be wrong"
    books = {
        "catalogue/dune.pdf": (sample_pdf("Dune"), "pdf", True),
        "catalogue/emma.epub": (sample_epub("Emma"), "epub", True),
        "catalogue/ulysses.mobi": (sample_mobi("Ulysses"), "mobi", True),
        "catalogue/readme.txt": (b"not an e-book\n", "other", True),
        "legacy/plain-sse-s3.pdf": (sample_pdf("SSE-S3"), "pdf", False),
    }
    for key, (body, _fmt, kms) in books.items():
        encryption = ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn} if kms
                      else {"ServerSideEncryption": "AES256"})
        s3.put_object(Bucket=bucket, Key=key, Body=body, **encryption)
    head = s3.head_object(Bucket=bucket, Key="legacy/plain-sse-s3.pdf")
    assert head["ServerSideEncryption"] == "AES256", head
    return books


@pytest.fixture(scope="module")
def invocation(dev, uploads, mailbox, aws):
    """The report of one synchronous invocation, with the mailbox already subscribed."""
    reply = aws("lambda").invoke(FunctionName=dev["StorageMonitoringFunctionName"],
                                 InvocationType="RequestResponse", Payload=json.dumps({"source": "manual"}))
    payload = reply["Payload"].read()
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply, f"{reply.get('FunctionError')}: {payload!r}"
    return json.loads(payload)


def expected_counts(uploads):
    counts = {fmt: 0 for fmt in ("pdf", "epub", "mobi", "other")}
    sizes = dict(counts)
    for body, fmt, _kms in uploads.values():
        counts[fmt] += 1
        sizes[fmt] += len(body)
    return counts, sizes


def test_report_counts_formats_and_raises_alerts(invocation, uploads, dev):
    report = invocation
    counts, sizes = expected_counts(uploads)
    assert report["status"] == "ALERT"
    assert report["environment"] == "dev" and report["bucket"] == dev["EbooksBucketName"]
    assert report["trigger"] == "manual"
    assert report["objects"]["by_format"] == counts
    assert report["objects"]["total"] == len(uploads)
    assert report["bytes"]["by_format"] == sizes
    assert report["uploads_last_24h"]["count"] == len(uploads)
    assert report["uploads_last_24h"]["bytes"] == sum(sizes.values())
    assert report["inventory"]["complete"] is True

    alerts = {a["code"]: a for a in report["alerts"]}
    assert "OBJECT_NOT_KMS" in alerts and "UNSUPPORTED_FORMAT" in alerts, sorted(alerts)
    assert alerts["OBJECT_NOT_KMS"]["severity"] == "critical"
    assert any("legacy/plain-sse-s3.pdf" in s for s in alerts["OBJECT_NOT_KMS"]["samples"]), alerts["OBJECT_NOT_KMS"]
    assert report["encryption_check"]["not_kms"] == 1 and report["encryption_check"]["checked"] == len(uploads)
    assert alerts["UNSUPPORTED_FORMAT"]["samples"] == ["catalogue/readme.txt"]
    # The bucket itself is as deployed: no check failed, no configuration drift is reported.
    for code in ("CHECK_FAILED", "DEFAULT_ENCRYPTION_DRIFT", "LOGGING_DRIFT", "VERSIONING_NOT_ENABLED",
                 "PUBLIC_ACCESS_BLOCK_OFF", "ACLS_ENABLED", "KMS_KEY_NOT_ENABLED"):
        assert code not in alerts, alerts[code]
    assert report["configuration"]["default_encryption"]["algorithm"] == "aws:kms"
    assert report["configuration"]["logging"]["target_bucket"] == dev["LoggingBucketName"]
    assert all(a["message"] for a in report["alerts"])


def test_report_reaches_the_queue_through_the_topic(invocation, mailbox):
    report = invocation
    envelope = mailbox.wait_for(lambda e: sns_message_json(e) == report, timeout=30)
    assert envelope is not None, (
        f"no SNS message with this report arrived in 30 s; got {len(mailbox.received)} other(s): "
        f"{[e.get('Subject') for e in mailbox.received]}")
    assert envelope["Subject"].startswith(f"[ALERT] eBook storage dev {report['generated_at'][:10]}: ")
    assert len(envelope["Subject"]) <= 100
    attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
    assert attributes == {"status": "ALERT", "severity": "critical"}, envelope.get("MessageAttributes")


def test_monitor_playbook_prints_the_report(invocation, run_playbook, mailbox):
    result = run_playbook("playbooks/monitor.yml", "inventories/dev")
    assert result.rc == 0, result.describe()
    assert result.recap["failed"] == 0 and result.recap["changed"] == 0, result.describe()
    shown = result.find(name="Show the report")
    assert shown, result.describe()
    lines = shown[-1]["msg"]
    text = "\n".join(lines) if isinstance(lines, list) else str(lines)
    assert f"eBook storage report: dev / {bucket_names('dev')[0]} /" in text, text
    assert "Status: ALERT" in text, text
    for code in ("OBJECT_NOT_KMS", "UNSUPPORTED_FORMAT"):
        assert code in text, text
    # This run published its report too.
    assert mailbox.wait_for(lambda e: (sns_message_json(e) or {}).get("trigger") == "manual"
                            and sns_message_json(e) != invocation, timeout=30) is not None


def test_failed_async_invocation_reaches_the_topic(dev, mailbox, aws):
    function_arn = dev["StorageMonitoringFunctionArn"]
    config = aws("lambda").get_function_event_invoke_config(FunctionName=dev["StorageMonitoringFunctionName"])
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == dev["SNSTopicArn"]
    assert config["MaximumRetryAttempts"] == 0

    started = time.monotonic()
    reply = aws("lambda").invoke(FunctionName=dev["StorageMonitoringFunctionName"], InvocationType="Event",
                                 Payload=json.dumps({"action": "test-failure"}))
    assert reply["StatusCode"] == 202

    def is_failure_record(envelope):
        record = sns_message_json(envelope) or {}
        return (record.get("requestPayload") == {"action": "test-failure"}
                and record.get("requestContext", {}).get("condition") == "RetriesExhausted")

    envelope = mailbox.wait_for(is_failure_record, timeout=FAILURE_WAIT_S)
    waited = time.monotonic() - started
    assert envelope is not None, (
        f"no on-failure record arrived on the topic within {FAILURE_WAIT_S} s; messages seen: "
        f"{[(e.get('Subject'), str(e.get('Message'))[:120]) for e in mailbox.received]}")
    record = sns_message_json(envelope)
    assert record["requestContext"]["functionArn"].startswith(function_arn)
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert "Deliberate failure" in record["responsePayload"]["errorMessage"]
    print(f"on-failure record arrived after {waited:.1f} s")


SCHEDULE_WAIT_S = 150


def test_a_changed_schedule_is_the_one_that_fires(dev, mailbox, deployments, aws):
    """LocalStack schedules a rule only when it is created (an update reads back the new expression and keeps
    the old schedule): the deploy's parity step creates the rule again, and the new schedule runs the monitor."""
    every_minute = {"ebook_stack_parameter_overrides": {"MonitoringSchedule": "rate(1 minute)"}}
    try:
        (changed,) = deployments.deploy("dev", extra_vars=every_minute)
        assert changed.rc == 0, changed.describe()
        rule = aws("events").describe_rule(Name=dev["StorageMonitoringScheduleName"])
        assert rule["ScheduleExpression"] == "rate(1 minute)", rule
        envelope = mailbox.wait_for(lambda e: (sns_message_json(e) or {}).get("trigger") == "schedule",
                                    timeout=SCHEDULE_WAIT_S)
        assert envelope is not None, (
            f"no scheduled report within {SCHEDULE_WAIT_S} s of changing the schedule to rate(1 minute); "
            f"messages seen: {[e.get('Subject') for e in mailbox.received]}")
        assert sns_message_json(envelope)["invoked_by"]["source"] == "aws.events"
    finally:
        (back,) = deployments.deploy("dev")
    assert back.rc == 0, back.describe()
    again = aws("events").describe_rule(Name=dev["StorageMonitoringScheduleName"])
    assert again["ScheduleExpression"] == "cron(0 6 * * ? *)", again
