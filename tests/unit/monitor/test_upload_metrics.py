"""The daily run's uploads of the last 24 hours from the upload metrics (Monitor.uploads).

When the totals come from an inventory report, or the listing was cut short, the count is the sum of the
metrics the upload check records (GetMetricData in moto's CloudWatch, which answers these queries).
"""

from datetime import UTC, datetime, timedelta

import botocore.client
from botocore.exceptions import ClientError
from tests.support import ebooks

from .support import alert_of, codes


def upload_alerts(report):
    return [code for code in codes(report) if code.startswith("UPLOADS_")]


def test_with_an_inventory_the_uploads_are_the_sum_of_the_metrics(healthy):
    healthy.write_inventory()
    healthy.record_uploads(3, 3000, "pdf")
    healthy.record_uploads(1, 500, "epub")
    healthy.record_uploads(1, 7, "other")
    healthy.record_uploads(9, 9000, "mobi", at=datetime.now(UTC) - timedelta(hours=30))  # before the window
    healthy.env(EXPECTED_DAILY_UPLOADS="5")
    report = healthy.run()
    assert report["inventory"]["source"] == "s3-inventory"
    assert report["uploads_last_24h"] == {"count": 5, "bytes": 3507, "expected": 5, "deviation_percent": 50,
                                          "source": "metrics"}
    assert report["requests"]["GetMetricData"] == 1
    assert upload_alerts(report) == []
    assert any(line.startswith("Uploads last 24 h") and line.endswith(", from metrics") for line in report["summary"])


def test_metrics_recorded_by_the_upload_check_are_what_the_daily_run_counts(stack):
    books = {"new/a.pdf": ebooks.sample_pdf(), "new/b.epub": ebooks.sample_epub(), "new/c.mobi": ebooks.sample_mobi()}
    for key, body in books.items():
        stack.run(stack.upload(key, body))
    stack.write_inventory()
    stack.env(EXPECTED_DAILY_UPLOADS="3")
    report = stack.run()
    assert (report["uploads_last_24h"]["count"], report["uploads_last_24h"]["bytes"]) == (
        3, sum(len(body) for body in books.values()))
    assert report["alerts"] == []


def test_uploads_none_from_the_metrics(healthy):
    healthy.write_inventory()  # four books arrived today, but the upload check recorded none
    report = healthy.run()
    assert report["uploads_last_24h"]["source"] == "metrics"
    assert "expected about 4" in alert_of(report, "UPLOADS_NONE")["message"]


def test_uploads_low_and_high_from_the_metrics(healthy):
    healthy.write_inventory()
    healthy.record_uploads(1, 10)
    assert upload_alerts(healthy.run()) == ["UPLOADS_LOW"]
    healthy.record_uploads(9, 90)
    assert upload_alerts(healthy.run()) == ["UPLOADS_HIGH"]


def test_denied_metrics_are_a_failed_check_and_no_upload_alerts(healthy, fail_call):
    healthy.write_inventory()
    fail_call("GetMetricData")
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("upload_metrics", "AccessDenied")
    assert "grant cloudwatch:GetMetricData to the monitor's role" in alert["message"]
    assert "no upload alerts" in alert["message"]
    assert upload_alerts(report) == []
    assert report["uploads_last_24h"]["source"] is None
    assert any(line.startswith("Uploads last 24 h") and line.endswith(", UNKNOWN") for line in report["summary"])


def test_listing_and_metrics_both_denied_give_no_upload_alerts(healthy, monkeypatch):
    real = botocore.client.BaseClient._make_api_call

    def fake(self, name, params):
        if name in ("ListObjectVersions", "GetMetricData"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, name)
        return real(self, name, params)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fake)
    report = healthy.run()
    assert sorted(a["check"] for a in report["alerts"] if a["code"] == "CHECK_FAILED") == [
        "inventory", "upload_metrics"]
    assert report["uploads_last_24h"]["source"] is None
    assert upload_alerts(report) == []


def test_complete_listing_needs_no_metrics(healthy):
    healthy.record_uploads(50, 50)  # would be UPLOADS_HIGH if read
    report = healthy.run()
    assert report["uploads_last_24h"]["source"] == "listing" and report["uploads_last_24h"]["count"] == 4
    assert "GetMetricData" not in report["requests"]
    assert report["alerts"] == []


def test_metric_queries_page_through_next_token(healthy, mon, monkeypatch):
    healthy.write_inventory()
    monitor = mon.Monitor(mon.settings())
    pages = [{"MetricDataResults": [{"Id": "uploads_pdf", "Values": [2, 1]}], "NextToken": "t1"},
             {"MetricDataResults": [{"Id": "uploads_epub", "Values": [1]},
                                    {"Id": "uploadbytes_epub", "Values": [40]}]}]
    calls = []

    def get_metric_data(**kwargs):
        calls.append(kwargs)
        return pages[len(calls) - 1]
    monkeypatch.setattr(monitor.cw, "get_metric_data", get_metric_data)
    report = monitor.run()
    assert (report["uploads_last_24h"]["count"], report["uploads_last_24h"]["bytes"]) == (4, 40)
    assert [c.get("NextToken") for c in calls] == [None, "t1"]
    assert calls[0]["EndTime"] - calls[0]["StartTime"] == timedelta(hours=24)
    assert {q["MetricStat"]["Metric"]["Namespace"] for q in calls[0]["MetricDataQueries"]} == {mon.METRICS}
    assert {q["MetricStat"]["Period"] for q in calls[0]["MetricDataQueries"]} == {60}
