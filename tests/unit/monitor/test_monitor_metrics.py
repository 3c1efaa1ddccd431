"""What the monitor measures: counts, bytes, uploads, versions, largest object, configuration."""

import re

from .support import DATA_BUCKET, LOG_BUCKET, codes


def test_healthy_bucket_counts_objects_and_bytes_by_format(healthy):
    report = healthy.run()
    assert report["objects"] == {"total": 6, "by_format": {"pdf": 3, "epub": 2, "mobi": 1, "other": 0}}
    assert report["bytes"] == {"total": 2050, "by_format": {"pdf": 1500, "epub": 250, "mobi": 300, "other": 0}}


def test_format_comes_from_the_key_extension_case_insensitively(stack, mon):
    assert [mon.fmt_of(k) for k in ("a/b.PDF", "x.epub", "y.Mobi", "dir.pdf/readme", "noext", "z.pdf.zip")] == [
        "pdf", "epub", "mobi", "other", "other", "other"]


def test_uploads_last_24h_count_only_current_versions_modified_in_the_window(healthy):
    healthy.put("old/z.mobi", b"z" * 7, days_old=2)
    report = healthy.run()
    assert report["uploads_last_24h"]["count"] == 4
    assert report["uploads_last_24h"]["bytes"] == 1000
    assert report["uploads_last_24h"]["expected"] == 4


def test_object_overwritten_today_counts_as_an_upload_and_leaves_a_noncurrent_version(stack):
    stack.put("book.pdf", b"a" * 10, days_old=5)
    stack.put("book.pdf", b"b" * 30)
    report = stack.run()
    assert report["objects"]["total"] == 1
    assert report["uploads_last_24h"] == {"count": 1, "bytes": 30, "expected": 4, "deviation_percent": 50,
                                          "source": "listing"}
    assert report["noncurrent_versions"] == {"count": 1, "bytes": 10}


def test_noncurrent_versions_and_delete_markers(healthy):
    healthy.put("new/a.pdf", b"v2" * 10)          # a.pdf v1 (100 bytes) becomes noncurrent
    healthy.delete("old/y.epub")                   # y.epub (50 bytes) noncurrent under a delete marker
    report = healthy.run()
    assert report["noncurrent_versions"] == {"count": 2, "bytes": 150}
    assert report["delete_markers"] == {"count": 1}
    assert report["objects"]["total"] == 5
    assert report["objects"]["by_format"]["epub"] == 1


def test_largest_object_is_the_biggest_current_version(healthy):
    healthy.put("huge/old-noncurrent.pdf", b"h" * 5000)
    healthy.put("huge/old-noncurrent.pdf", b"h")  # the 5000-byte version is no longer current
    report = healthy.run()
    assert report["largest_object"] == {"key": "old/x.pdf", "bytes": 1000}


def test_configuration_is_read_back_from_the_bucket(healthy):
    conf = healthy.run()["configuration"]
    assert conf["versioning"] == "Enabled"
    assert conf["default_encryption"] == {"algorithm": "aws:kms", "kms_key": healthy.key_arn,
                                          "bucket_key_enabled": True}
    assert conf["public_access_block"] == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                           "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert conf["object_ownership"] == "BucketOwnerEnforced"
    assert conf["logging"] == {"target_bucket": LOG_BUCKET, "target_prefix": "s3-access/"}


def test_new_objects_are_checked_with_head_requests_and_old_ones_are_not(healthy):
    report = healthy.run()
    assert report["requests"]["HeadObject"] == 4  # the four uploads of the day, not the two old books
    assert report["encryption_check"] == {"expected_key": healthy.key_arn, "new_objects": 4, "cap": 8,
                                          "cap_reached": False, "checked": 4, "not_kms": 0, "unchecked": 0,
                                          "errors": 0, "source": "listing"}


def test_requests_are_counted_by_operation(healthy):
    report = healthy.run()
    # ListObjectsV2: the look for an inventory report in the log bucket (none: the listing counts, and its
    # complete count of uploads needs no GetMetricData)
    assert report["requests"] == {"DescribeKey": 1, "GetBucketEncryption": 1, "GetBucketLogging": 1,
                                  "GetBucketOwnershipControls": 1, "GetBucketVersioning": 1,
                                  "GetPublicAccessBlock": 1, "HeadObject": 4, "ListObjectVersions": 1,
                                  "ListObjectsV2": 1}


def test_head_request_cap_limits_requests_and_is_reported(healthy):
    healthy.env(MAX_HEAD_REQUESTS="2")
    report = healthy.run()
    assert report["requests"]["HeadObject"] == 2
    assert report["encryption_check"]["cap_reached"] is True
    assert report["encryption_check"]["checked"] == 2
    assert report["encryption_check"]["unchecked"] == 2
    assert any("cap 2 reached" in line for line in report["summary"])


def test_pagination_beyond_one_page_with_2500_objects(stack):
    stack.bulk_put(f"bulk/{i:05d}.{('pdf', 'epub', 'mobi')[i % 3]}" for i in range(2500))
    stack.env(EXPECTED_DAILY_UPLOADS="2500", MAX_HEAD_REQUESTS="25")
    report = stack.run()
    assert report["objects"]["total"] == 2500
    assert report["objects"]["by_format"] == {"pdf": 834, "epub": 833, "mobi": 833, "other": 0}
    assert report["bytes"]["total"] == 2500
    assert report["uploads_last_24h"]["count"] == 2500
    assert report["requests"]["ListObjectVersions"] == 3
    assert report["inventory"] == {"complete": True, "pages": 3, "source": "listing", "date": None, "files": 0}
    assert report["requests"]["HeadObject"] == 25  # capped, not one per object
    assert report["encryption_check"]["cap_reached"] is True
    assert "UPLOADS_LOW" not in codes(report) and "UPLOADS_HIGH" not in codes(report)


def test_empty_bucket(stack):
    report = stack.run()
    assert report["objects"] == {"total": 0, "by_format": {"pdf": 0, "epub": 0, "mobi": 0, "other": 0}}
    assert report["bytes"]["total"] == 0
    assert report["largest_object"] == {"key": None, "bytes": 0}
    assert report["noncurrent_versions"] == {"count": 0, "bytes": 0}
    assert report["delete_markers"] == {"count": 0}
    assert report["inventory"] == {"complete": True, "pages": 1, "source": "listing", "date": None, "files": 0}
    assert report["uploads_last_24h"]["source"] == "listing"
    assert codes(report) == ["UPLOADS_NONE"]
    assert "HeadObject" not in report["requests"]


def test_bucket_with_only_delete_markers(stack):
    for key in ("gone/a.pdf", "gone/b.epub"):
        stack.put(key, b"12345", days_old=3)
        with stack.days_ago(2):
            stack.delete(key)
    report = stack.run()
    assert report["objects"]["total"] == 0
    assert report["delete_markers"] == {"count": 2}
    assert report["noncurrent_versions"] == {"count": 2, "bytes": 10}
    assert report["largest_object"] == {"key": None, "bytes": 0}
    assert report["uploads_last_24h"]["count"] == 0
    assert codes(report) == ["UPLOADS_NONE"]


def test_report_has_the_documented_keys_and_a_utc_timestamp(healthy):
    report = healthy.run()
    assert {"status", "environment", "bucket", "generated_at", "trigger", "objects", "bytes", "uploads_last_24h",
            "noncurrent_versions", "delete_markers", "largest_object", "encryption_check", "configuration",
            "inventory", "alerts", "requests", "duration_ms", "summary", "invoked_by"} == set(report)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generated_at"])
    assert report["environment"] == "dev" and report["bucket"] == DATA_BUCKET
    assert isinstance(report["duration_ms"], int) and report["duration_ms"] >= 0


def test_summary_is_a_readable_table(healthy):
    healthy.put("notes.txt", b"t")
    report = healthy.run()
    lines = report["summary"]
    assert lines[0] == f"eBook storage report: dev / {DATA_BUCKET} / {report['generated_at']}"
    assert lines[1] == "Status: ALERT, 1 alert"
    assert any(line.startswith("[WARNING] UNSUPPORTED_FORMAT: ") for line in lines)
    table = {line[:22].strip(): line[23:] for line in lines[lines.index(next(x for x in lines if x.startswith(
        "METRIC"))):]}
    assert table["Objects"] == "7 (2.0 KiB)"
    assert table["pdf"] == "3 (1.5 KiB)"
    assert table["Uploads last 24 h"] == "5 (1,001 B), expected 4 +/-50%, from listing"
    assert table["New objects checked"] == "5 of 5, 0 not SSE-KMS"
    assert table["Inventory"].startswith("complete listing, ")
    assert table["Versioning"] == "Enabled"
    assert table["Public access block"] == "all on"
    assert table["Access logging"] == LOG_BUCKET
    assert all("\n" not in line for line in lines)
