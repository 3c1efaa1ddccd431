"""The upload check: the monitor run by S3's "Object Created" event on one new object (UploadCheck).

It checks the object at once (SSE-KMS with the stack's key, e-book content its name agrees with, not
empty), records it as the upload metrics, and publishes to the topic only when a check fails. The metrics
are read back from moto's CloudWatch, which answers GetMetricData for these queries.
"""

import json
import random
from urllib.parse import quote_plus

import pytest
from cfnlint.decode.cfn_yaml import load as cfn_load
from tests.support import ebooks

from .support import DATA_BUCKET, ROOT, alert_of, codes, upload_event

BOOKS = {"pdf": ebooks.sample_pdf(), "epub": ebooks.sample_epub(), "mobi": ebooks.sample_mobi()}


def only_alert(report, code):
    assert codes(report) == [code]
    return report["alerts"][0]


@pytest.mark.parametrize("fmt", ["pdf", "epub", "mobi"])
def test_good_ebook_under_the_stack_key_is_ok_and_recorded(stack, fmt):
    body = BOOKS[fmt]
    report = stack.run(stack.upload(f"new/book.{fmt}", body))
    assert report["status"] == "OK" and report["alerts"] == []
    assert report["trigger"] == "upload"
    assert report["object"]["content"] == fmt
    assert (report["object"]["encryption"], report["object"]["kms_key"]) == ("aws:kms", stack.key_arn)
    assert stack.messages() == []
    assert stack.upload_metrics() == {fmt: (1, len(body))}


def test_report_names_the_event_and_the_object(stack):
    event = stack.upload("new/book.pdf", BOOKS["pdf"])
    report = stack.run(event)
    assert report["invoked_by"] == {k: event[k] for k in ("source", "detail-type", "id", "time", "resources")}
    assert report["object"]["key"] == "new/book.pdf"
    assert report["object"]["version_id"] == event["detail"]["object"]["version-id"]
    assert report["summary"][:2] == [f"eBook upload check: dev / {DATA_BUCKET} / new/book.pdf", "Status: OK, no alerts"]


def test_uploads_add_up_in_the_metrics_by_format(stack):
    for i in range(3):
        stack.run(stack.upload(f"new/{i}.pdf", BOOKS["pdf"]))
    stack.run(stack.upload("new/x.epub", BOOKS["epub"]))
    assert stack.upload_metrics() == {"pdf": (3, 3 * len(BOOKS["pdf"])), "epub": (1, len(BOOKS["epub"]))}


def test_sse_s3_object_alerts_on_the_topic(stack):
    report = stack.run(stack.upload("new/plain.pdf", BOOKS["pdf"], ServerSideEncryption="AES256"))
    alert = only_alert(report, "OBJECT_NOT_KMS")
    assert alert["severity"] == "critical" and alert["samples"] == ["new/plain.pdf"]
    assert "new/plain.pdf is stored with AES256" in alert["message"]
    assert ". Fix: re-encrypt them" in alert["message"]
    [envelope] = stack.messages()
    assert json.loads(envelope["Message"]) == report
    assert envelope["Subject"] == f"[ALERT] eBook upload dev {report['generated_at'][:10]}: 1 alert (1 critical)"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "critical"
    assert stack.upload_metrics() == {"pdf": (1, len(BOOKS["pdf"]))}


def test_object_under_another_kms_key_alerts_without_reading_it(stack):
    report = stack.run(stack.upload("new/other.pdf", BOOKS["pdf"], ServerSideEncryption="aws:kms",
                                    SSEKMSKeyId=stack.other_key_arn))
    alert = only_alert(report, "OBJECT_NOT_KMS")
    assert stack.other_key_arn in alert["message"] and stack.key_arn in alert["message"]
    assert "GetObject" not in report["requests"]
    assert report["object"]["content"] is None
    assert len(stack.messages()) == 1


def test_expected_key_given_by_its_alias_passes(stack):
    stack.env(EXPECTED_KMS_KEY=stack.alias_arn)
    report = stack.run(stack.upload("new/alias.pdf", BOOKS["pdf"]))
    assert (report["status"], report["object"]["content"]) == ("OK", "pdf")


def test_pdf_name_without_pdf_content_is_unsupported_format(stack):
    report = stack.run(stack.upload("new/fake.pdf", b"just some text, certainly not a book\n" * 4))
    alert = only_alert(report, "UNSUPPORTED_FORMAT")
    assert alert["severity"] == "warning" and alert["samples"] == ["new/fake.pdf"]
    assert "new/fake.pdf is named .pdf but holds no PDF, EPUB or MOBI content" in alert["message"]
    assert "first bytes 6a75737420736f6d" in alert["message"]
    assert report["object"]["content"] == "not an e-book"
    [envelope] = stack.messages()
    assert envelope["MessageAttributes"]["severity"]["Value"] == "warning"


def test_epub_named_pdf_is_unsupported_format(stack):
    report = stack.run(stack.upload("new/mixed-up.pdf", BOOKS["epub"]))
    alert = only_alert(report, "UNSUPPORTED_FORMAT")
    assert "new/mixed-up.pdf is named .pdf but holds EPUB content" in alert["message"]
    assert stack.upload_metrics() == {"pdf": (1, len(BOOKS["epub"]))}  # recorded by its name, as the daily run


def test_ebook_without_an_ebook_name_is_unsupported_format(stack):
    report = stack.run(stack.upload("new/book.bin", BOOKS["mobi"]))
    assert "not named .pdf/.epub/.mobi but holds MOBI content" in only_alert(report, "UNSUPPORTED_FORMAT")["message"]
    assert stack.upload_metrics() == {"other": (1, len(BOOKS["mobi"]))}


def test_empty_object_alerts_and_is_not_read(stack):
    report = stack.run(stack.upload("new/empty.epub", b""))
    alert = only_alert(report, "EMPTY_OBJECT")
    assert alert["severity"] == "warning" and alert["samples"] == ["new/empty.epub"]
    assert "new/empty.epub is empty (0 bytes)" in alert["message"]
    assert "GetObject" not in report["requests"]
    assert len(stack.messages()) == 1
    assert stack.upload_metrics() == {"epub": (1, 0)}


def test_large_pdf_is_judged_by_its_last_bytes(stack):
    book = ebooks.sized_pdf(20_000, random.Random(1))
    report = stack.run(stack.upload("new/big.pdf", book))
    assert report["alerts"] == [] and report["requests"]["GetObject"] == 2  # the head, then the trailer
    cut = stack.run(stack.upload("new/cut.pdf", book[:15_000]))  # %%EOF lost
    assert "holds no PDF, EPUB or MOBI content" in only_alert(cut, "UNSUPPORTED_FORMAT")["message"]


def test_small_book_is_read_once(stack):
    report = stack.run(stack.upload("new/small.pdf", BOOKS["pdf"]))
    assert report["requests"]["GetObject"] == 1


@pytest.mark.parametrize("key", ["new books/my book.pdf", "auteurs/Émile Zola/L'Œuvre (1886).epub",
                                 "a+b/c%d.mobi"])
def test_url_encoded_key_in_the_event_is_found(stack, key):
    fmt = key.rsplit(".", 1)[1]
    put = stack.put(key, BOOKS[fmt])
    report = stack.run(upload_event(quote_plus(key, safe="/"), len(BOOKS[fmt]), put["VersionId"]))
    assert report["alerts"] == []
    assert (report["object"]["key"], report["object"]["content"]) == (key, fmt)
    assert stack.upload_metrics() == {fmt: (1, len(BOOKS[fmt]))}


def test_object_deleted_before_the_check_gives_no_alert_but_is_recorded(stack):
    event = stack.upload("new/gone.pdf", BOOKS["pdf"])
    stack.s3.delete_object(Bucket=DATA_BUCKET, Key="new/gone.pdf", VersionId=event["detail"]["object"]["version-id"])
    report = stack.run(event)
    assert report["alerts"] == [] and report["status"] == "OK"
    assert report["object"]["content"] is None
    assert stack.messages() == []
    assert stack.upload_metrics() == {"pdf": (1, len(BOOKS["pdf"]))}  # the size the event gave


def test_object_under_a_delete_marker_is_still_checked_by_its_version(stack):
    event = stack.upload("new/replaced.pdf", b"not a pdf at all")
    stack.delete("new/replaced.pdf")
    report = stack.run(event)
    assert codes(report) == ["UNSUPPORTED_FORMAT"]


def test_denied_head_object_is_a_failed_check_that_is_published(stack, fail_call):
    event = stack.upload("new/book.pdf", BOOKS["pdf"])
    fail_call("HeadObject", code="403", message="Forbidden")
    report = stack.run(event)
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("upload_check", "AccessDenied")
    assert "grant s3:GetObject" in alert["message"] and "new/book.pdf" in alert["message"]
    assert len(stack.messages()) == 1
    assert stack.upload_metrics() == {"pdf": (1, len(BOOKS["pdf"]))}


def test_denied_metric_record_is_a_failed_check(stack, fail_call):
    event = stack.upload("new/book.pdf", BOOKS["pdf"])
    fail_call("PutMetricData")
    report = stack.run(event)
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("upload_record", "AccessDenied")
    assert "grant cloudwatch:PutMetricData" in alert["message"]
    assert len(stack.messages()) == 1


def test_no_topic_means_nothing_published_even_on_alert(stack):
    stack.env(SNS_TOPIC_ARN="")
    report = stack.run(stack.upload("new/empty.pdf", b""))
    assert codes(report) == ["EMPTY_OBJECT"]
    assert stack.messages() == []


def test_upload_check_does_not_run_the_daily_checks(stack):
    report = stack.run(stack.upload("new/book.pdf", BOOKS["pdf"]))
    assert not {"ListObjectVersions", "ListObjectsV2", "GetBucketVersioning", "GetMetricData"} & set(report["requests"])
    assert report["requests"]["PutMetricData"] == 1


# --- the role's rights for the requests the check makes -------------------------------------------------

def object_actions(template):
    """The S3 actions StorageMonitoringPolicy allows on the data bucket's objects (${EbooksS3Bucket.Arn}/*)."""
    actions = set()
    for statement in template["Resources"]["StorageMonitoringPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        resources = statement.get("Resource") if isinstance(statement, dict) else None
        resources = resources if isinstance(resources, list) else [resources]
        if statement.get("Effect") == "Allow" and {"Fn::Sub": "${EbooksS3Bucket.Arn}/*"} in resources:
            actions.update([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return actions


def test_role_may_read_the_version_the_check_asks_for(stack, monkeypatch):
    """S3 authorizes HeadObject and GetObject with a versionId as s3:GetObjectVersion (not s3:GetObject), and
    the check asks for the event's version: without that right every upload check on AWS is AccessDenied."""
    event = stack.upload("new/book.pdf", BOOKS["pdf"])
    asked = []
    real_client = stack.mon.boto3.client

    def client(name, *args, **kwargs):
        made = real_client(name, *args, **kwargs)
        if name == "s3":
            made.meta.events.register("provide-client-params.s3.*", lambda params, model, **_: asked.append(
                (model.name, "VersionId" in params)))
        return made
    monkeypatch.setattr(stack.mon.boto3, "client", client)
    assert stack.run(event)["alerts"] == []
    assert ("HeadObject", True) in asked and ("GetObject", True) in asked
    assert "s3:GetObjectVersion" in object_actions(cfn_load(str(ROOT / "files" / "TapStack.yml")))
    assert "s3:GetObjectVersion" in stack.mon.ACTIONS["upload_check"]  # what a denied check tells to grant
