"""Running the monitor: SNS publication, subject, retries, failed checks, deliberate failure, settings."""

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from .support import DATA_BUCKET, alert_of, codes


def context(seconds_left):
    return SimpleNamespace(get_remaining_time_in_millis=lambda: int(seconds_left * 1000))


# --- SNS publication -------------------------------------------------------------------------------------

def test_report_is_published_to_sns_with_subject_and_attributes(healthy):
    report = healthy.run()
    [envelope] = healthy.messages()
    assert json.loads(envelope["Message"]) == report
    assert envelope["Subject"] == f"[OK] eBook storage dev {report['generated_at'][:10]}: no alerts"
    assert envelope["MessageAttributes"] == {"status": {"Type": "String", "Value": "OK"},
                                             "severity": {"Type": "String", "Value": "none"}}


def test_alert_report_attributes_carry_the_highest_severity(healthy):
    healthy.put("misc/a.txt")  # warning only
    healthy.run()
    [warning] = healthy.messages()
    assert warning["MessageAttributes"]["status"]["Value"] == "ALERT"
    assert warning["MessageAttributes"]["severity"]["Value"] == "warning"
    assert warning["Subject"].endswith(": 1 alert")
    healthy.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    healthy.run()
    [critical] = healthy.messages()
    assert critical["MessageAttributes"]["severity"]["Value"] == "critical"
    assert critical["Subject"].endswith(": 2 alerts (1 critical)")


def test_email_subscribers_get_the_summary_first(healthy, mon):
    monitor = mon.Monitor(mon.settings())
    report = monitor.run()
    sent = []
    monitor.sns.publish = lambda **kwargs: sent.append(kwargs)
    monitor.publish(report)
    [call] = sent
    assert call["MessageStructure"] == "json"
    message = json.loads(call["Message"])
    assert json.loads(message["default"]) == report
    assert message["email"].startswith("\n".join(report["summary"]) + "\n\n{")
    assert len(call["Message"].encode()) < 256 * 1024


def test_no_topic_means_no_publication_but_a_report(healthy):
    healthy.env(SNS_TOPIC_ARN="")
    report = healthy.run()
    assert report["status"] == "OK"
    assert "Publish" not in report["requests"]
    assert healthy.messages() == []


def test_failed_publication_fails_the_invocation(healthy, fail_call):
    fail_call("Publish", code="AuthorizationError")
    with pytest.raises(ClientError, match="AuthorizationError"):
        healthy.run()


# --- subject ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ["dev", "prod", "x" * 300])
def test_subject_is_at_most_100_characters(mon, environment):
    alerts = [{"severity": "critical"}] * 12 + [{"severity": "warning"}] * 3
    report = {"status": "ALERT", "environment": environment, "generated_at": "2026-11-29T06:00:00Z", "alerts": alerts,
              "trigger": "schedule"}
    subject = mon.subject(report)
    assert len(subject) <= 100
    assert subject.startswith(f"[ALERT] eBook storage {environment[:20]}")
    if environment != "x" * 300:
        assert subject == f"[ALERT] eBook storage {environment} 2026-11-29: 15 alerts (12 critical)"


@pytest.mark.parametrize(("trigger", "what"), [("upload", "upload"), ("manual", "storage"), ("schedule", "storage")])
def test_subject_names_an_upload_check_apart_from_the_daily_report(mon, trigger, what):
    report = {"status": "ALERT", "environment": "dev", "generated_at": "2026-11-29T06:00:00Z",
              "alerts": [{"severity": "warning"}], "trigger": trigger}
    assert mon.subject(report) == f"[ALERT] eBook {what} dev 2026-11-29: 1 alert"


def test_published_subject_fits_sns_limit(stack):
    stack.env(ENVIRONMENT="a-very-long-environment-name-" * 5)
    stack.run()
    [envelope] = stack.messages()
    assert len(envelope["Subject"]) <= 100
    assert envelope["Subject"].startswith("[ALERT] eBook storage a-very-long-environment-name-")


# --- throttling and retries -------------------------------------------------------------------------------

def test_clients_use_botocore_retries_for_throttling(aws, mon):
    monitor = mon.Monitor(mon.settings({"BUCKET_NAME": DATA_BUCKET}))
    for client in (monitor.s3, monitor.kms, monitor.sns):
        assert client.meta.config.retries["mode"] == "adaptive"
        assert client.meta.config.retries["total_max_attempts"] == 11  # max_attempts=10 retries + the first call


def test_throttled_call_is_retried_and_the_check_succeeds(healthy, throttle):
    attempts = throttle("GetBucketVersioning", times=3)
    report = healthy.run()
    assert len(attempts) == 4  # three 503 SlowDown answers, then moto's real one
    assert report["configuration"]["versioning"] == "Enabled"
    assert report["requests"]["GetBucketVersioning"] == 1  # one API call, retried inside botocore
    assert codes(report) == []


def test_throttling_beyond_the_retry_budget_is_a_failed_check(healthy, throttle):
    attempts = throttle("GetBucketVersioning", times=50)
    report = healthy.run()
    assert len(attempts) == 11
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("versioning", "SlowDown")
    assert report["objects"]["total"] == 6


# --- checks that cannot run (AccessDenied) ----------------------------------------------------------------

def test_access_denied_on_a_configuration_read_keeps_the_rest_of_the_report(healthy, fail_call):
    fail_call("GetBucketVersioning")
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert alert["severity"] == "critical"
    assert (alert["check"], alert["error"]) == ("versioning", "AccessDenied")
    assert "grant s3:GetBucketVersioning to the monitor's role" in alert["message"]
    assert "versioning" not in report["configuration"]
    assert report["configuration"]["object_ownership"] == "BucketOwnerEnforced"
    assert report["objects"]["total"] == 6 and report["uploads_last_24h"]["count"] == 4
    assert report["status"] == "ALERT"
    assert len(healthy.messages()) == 1
    assert any(line.startswith("Versioning") and line.endswith("unknown") for line in report["summary"])


def test_access_denied_on_listing_takes_the_uploads_from_the_metrics(healthy, fail_call):
    healthy.record_uploads(4, 1000)  # the upload check recorded the day's four uploads
    fail_call("ListObjectVersions")
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("inventory", "AccessDenied")
    assert "s3:ListBucketVersions" in alert["message"]
    assert report["inventory"]["complete"] is False
    assert report["uploads_last_24h"]["source"] == "metrics"
    assert (report["uploads_last_24h"]["count"], report["uploads_last_24h"]["bytes"]) == (4, 1000)
    assert not [c for c in codes(report) if c.startswith("UPLOADS_")]
    assert report["configuration"]["versioning"] == "Enabled"
    assert len(healthy.messages()) == 1


def test_access_denied_on_head_object(healthy, fail_call):
    fail_call("HeadObject", code="403", message="Forbidden")  # HEAD answers carry no error body
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("object_encryption", "AccessDenied")
    assert "grant s3:GetObject" in alert["message"] and "for 4 objects" in alert["message"]
    assert report["encryption_check"]["errors"] == 4
    assert report["encryption_check"]["unchecked"] == 4
    assert "OBJECT_NOT_KMS" not in codes(report)


def test_access_denied_on_describe_key(healthy, fail_call):
    fail_call("DescribeKey", code="AccessDeniedException", status=400)
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("kms_key", "AccessDeniedException")
    assert "grant kms:DescribeKey" in alert["message"]
    assert report["encryption_check"]["checked"] == 4


def test_object_deleted_between_listing_and_head_is_ignored(healthy, fail_call):
    fail_call("HeadObject", code="404", status=404, message="Not Found")
    report = healthy.run()
    assert codes(report) == []
    assert report["encryption_check"]["checked"] == 0 and report["encryption_check"]["unchecked"] == 0


# --- time budget -----------------------------------------------------------------------------------------

def test_listing_stops_in_time_and_says_the_counts_are_partial(stack):
    stack.bulk_put(f"bulk/{i:04d}.pdf" for i in range(1001))
    stack.record_uploads(1001, 1001)  # as the upload check recorded them
    stack.env(EXPECTED_DAILY_UPLOADS="1001", MAX_HEAD_REQUESTS="8")
    report = stack.run(context=context(30))
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("inventory", "TimeBudget")
    assert report["inventory"] == {"complete": False, "pages": 1, "source": "listing", "date": None, "files": 0}
    assert report["objects"]["total"] == 1000
    # the uploads come whole from the metrics, not from the cut listing (which saw 1,000 of the 1,001)
    assert (report["uploads_last_24h"]["count"], report["uploads_last_24h"]["source"]) == (1001, "metrics")
    assert not [c for c in codes(report) if c.startswith("UPLOADS_")]
    assert len(stack.messages()) == 1


def test_head_requests_stop_when_time_runs_out(healthy):
    report = healthy.run(context=context(10))
    assert "HeadObject" not in report["requests"]
    assert report["encryption_check"]["unchecked"] == 4
    assert report["objects"]["total"] == 6


# --- events ----------------------------------------------------------------------------------------------

def test_test_failure_action_raises_and_touches_nothing(healthy, fail_call):
    fail_call("ListObjectVersions", code="ShouldNotBeCalled")
    with pytest.raises(RuntimeError, match="action=test-failure"):
        healthy.run({"action": "test-failure"})
    assert healthy.messages() == []


@pytest.mark.parametrize(("event", "trigger"), [
    ({}, "schedule"), ({"source": "aws.events", "detail-type": "Scheduled Event"}, "schedule"),
    ({"source": "manual"}, "manual"), (None, "schedule")])
def test_trigger_is_recorded(healthy, mon, event, trigger):
    assert mon.handler(event, None)["trigger"] == trigger


def test_missing_bucket_name_fails_loudly(aws, mon):
    with pytest.raises(RuntimeError, match="BUCKET_NAME"):
        mon.handler({}, None)


# --- settings --------------------------------------------------------------------------------------------

def test_settings_defaults(mon):
    s = mon.settings({"BUCKET_NAME": "b"})
    assert (s.expected, s.deviation, s.threshold_gb, s.max_heads) == (3000, 50, 5000, 6000)
    assert (s.environment, s.logging_bucket, s.topic, s.kms_key) == ("unknown", "", "", "")


def test_settings_from_the_environment(mon):
    s = mon.settings({"EXPECTED_DAILY_UPLOADS": "100", "UPLOAD_DEVIATION_PERCENT": "20",
                      "STORAGE_ALERT_THRESHOLD_GB": "7", "ENVIRONMENT": "prod"})
    assert (s.expected, s.deviation, s.threshold_gb, s.max_heads, s.environment) == (100, 20, 7, 200, "prod")
    assert mon.settings({"EXPECTED_DAILY_UPLOADS": "100", "MAX_HEAD_REQUESTS": "5"}).max_heads == 5
