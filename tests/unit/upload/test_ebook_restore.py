"""tap.ebook_storage.ebook_restore against moto, and its pure helpers."""

from __future__ import annotations

import datetime
import hashlib
import time

import pytest
from tests.support import ebooks as samples
from ansible_collections.tap.ebook_storage.plugins.module_utils import ebook_versions as ev
from ansible_collections.tap.ebook_storage.plugins.modules import ebook_restore

KEY = "backlog/dune.pdf"


def _put(s3, bucket, data, key=KEY):
    digest = hashlib.sha256(data).hexdigest()
    return s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/pdf", Metadata={"sha256": digest})[
        "VersionId"
    ]


def _counts(s3, bucket, key=KEY):
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key]
    markers = [m["VersionId"] for m in listing.get("DeleteMarkers", []) if m["Key"] == key]
    return versions, markers


def _current_bytes(s3, bucket, key=KEY):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def history(s3, bucket):
    """Three editions of one book: v1, v2, v3 (current)."""
    editions = [samples.pdf_bytes(f"edition {n}") for n in (1, 2, 3)]
    ids = [_put(s3, bucket, data) for data in editions]
    return editions, ids


def test_list_only_changes_nothing(run, s3, bucket, history):
    editions, ids = history
    s3.delete_object(Bucket=bucket, Key=KEY)
    before = _counts(s3, bucket)
    result = run(ebook_restore, {"bucket": bucket, "key": KEY})
    assert result["changed"] is False
    assert result["action"] == "list"
    versions = result["versions"]
    assert len(versions) == 4
    assert versions[0]["delete_marker"] is True and versions[0]["is_latest"] is True
    assert [v["version_id"] for v in versions[1:]] == list(reversed(ids))
    assert versions[1]["size"] == len(editions[2])
    assert versions[1]["last_modified"].endswith("Z")
    assert result["current_version_id"] is None
    assert (
        result["msg"]
        == f"{KEY}: 3 version(s), 1 delete marker(s); it is deleted (the current entry is a delete marker)"
    )
    assert _counts(s3, bucket) == before


def test_restore_by_version_id_and_idempotence(run, s3, bucket, kms_key_arn, history):
    editions, ids = history
    versions_before = _counts(s3, bucket)[0]
    args = {"bucket": bucket, "key": KEY, "version_id": ids[0], "kms_key_id": kms_key_arn}
    result = run(ebook_restore, args)
    assert result["changed"] is True, result
    assert result["action"] == "restore" and result["source_version_id"] == ids[0]
    assert _current_bytes(s3, bucket) == editions[0]
    head = s3.head_object(Bucket=bucket, Key=KEY)
    assert head["VersionId"] == result["current_version_id"]
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"]["sha256"] == hashlib.sha256(editions[0]).hexdigest()
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key_arn
    versions_after = _counts(s3, bucket)[0]
    assert set(versions_before) <= set(versions_after)  # nothing deleted
    assert len(versions_after) == len(versions_before) + 1
    assert result["versions"][0]["version_id"] == result["current_version_id"]

    again = run(ebook_restore, args)
    assert again["changed"] is False
    assert "already holds the content" in again["msg"]
    assert _counts(s3, bucket)[0] == versions_after


def test_restore_of_the_current_version_is_a_no_op(run, s3, bucket, history):
    ids = history[1]
    result = run(ebook_restore, {"bucket": bucket, "key": KEY, "version_id": ids[2]})
    assert result["changed"] is False
    assert "already current" in result["msg"]


def test_restore_check_mode(run, s3, bucket, history):
    ids = history[1]
    before = _counts(s3, bucket)
    result = run(ebook_restore, {"bucket": bucket, "key": KEY, "version_id": ids[1]}, check_mode=True)
    assert result["changed"] is True
    assert result["msg"].startswith("Would restore")
    assert _counts(s3, bucket) == before


def test_restore_by_time(run, s3, bucket):
    # S3 (and moto) keep LastModified to the second: space the editions out.
    first = samples.pdf_bytes("first")
    second = samples.pdf_bytes("second")
    _put(s3, bucket, first)
    time.sleep(1.1)
    between = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    time.sleep(1.1)
    _put(s3, bucket, second)
    result = run(
        ebook_restore, {"bucket": bucket, "key": KEY, "before": between.isoformat().replace("+00:00", "Z")}
    )
    assert result["changed"] is True, result
    assert _current_bytes(s3, bucket) == first

    too_early = (between - datetime.timedelta(days=1)).isoformat()
    failed = run(ebook_restore, {"bucket": bucket, "key": KEY, "before": too_early})
    assert failed["failed"] is True
    assert f"before={too_early}: no version of {KEY} was written at or before" in failed["msg"]
    assert "the oldest version" in failed["msg"] and "give a later time" in failed["msg"]


def test_bad_time_is_rejected(run, s3, bucket, history):
    result = run(ebook_restore, {"bucket": bucket, "key": KEY, "before": "yesterday"})
    assert result["failed"] is True
    assert "before: 'yesterday' is not an ISO 8601 time" in result["msg"]


def test_undelete(run, s3, bucket, history):
    editions, ids = history
    s3.delete_object(Bucket=bucket, Key=KEY)
    s3.delete_object(Bucket=bucket, Key=KEY)  # deleted twice: two markers on top
    versions_before, markers_before = _counts(s3, bucket)
    assert len(markers_before) == 2
    check = run(ebook_restore, {"bucket": bucket, "key": KEY, "undelete": True}, check_mode=True)
    assert check["changed"] is True
    assert _counts(s3, bucket) == (versions_before, markers_before)

    result = run(ebook_restore, {"bucket": bucket, "key": KEY, "undelete": True})
    assert result["changed"] is True, result
    assert sorted(result["removed_delete_markers"]) == sorted(markers_before)
    assert result["current_version_id"] == ids[2]
    assert _current_bytes(s3, bucket) == editions[2]
    versions_after, markers_after = _counts(s3, bucket)
    assert versions_after == versions_before  # no object version was deleted
    assert markers_after == []

    again = run(ebook_restore, {"bucket": bucket, "key": KEY, "undelete": True})
    assert again["changed"] is False
    assert "not deleted" in again["msg"]
    assert any("nothing to do" in warning for warning in run.warnings)


def test_restore_a_deleted_book_from_a_version(run, s3, bucket, history):
    editions, ids = history
    s3.delete_object(Bucket=bucket, Key=KEY)
    versions_before, markers_before = _counts(s3, bucket)
    result = run(ebook_restore, {"bucket": bucket, "key": KEY, "version_id": ids[1]})
    assert result["changed"] is True
    assert _current_bytes(s3, bucket) == editions[1]
    versions_after, markers_after = _counts(s3, bucket)
    assert set(versions_before) < set(versions_after)
    assert markers_after == markers_before  # the marker stays in the history


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"version_id": "does-not-exist"}, "version_id does-not-exist does not exist for key backlog/dune.pdf"),
        ({"version_id": "a", "before": "2026-01-01"}, "Give at most one of version_id, before and undelete"),
        ({"before": "2026-01-01", "undelete": True}, "(got before, undelete)"),
    ],
)
def test_clear_failures(run, s3, bucket, history, args, message):
    before = _counts(s3, bucket)
    result = run(ebook_restore, dict({"bucket": bucket, "key": KEY}, **args))
    assert result["failed"] is True
    assert message in result["msg"]
    assert _counts(s3, bucket) == before


def test_version_id_of_a_delete_marker_is_refused(run, s3, bucket, history):
    marker = s3.delete_object(Bucket=bucket, Key=KEY)["VersionId"]
    result = run(ebook_restore, {"bucket": bucket, "key": KEY, "version_id": marker})
    assert result["failed"] is True
    assert "is a delete marker" in result["msg"] and "undelete=true" in result["msg"]


def test_undelete_of_an_unknown_key_fails(run, s3, bucket):
    result = run(ebook_restore, {"bucket": bucket, "key": "nope.pdf", "undelete": True})
    assert result["failed"] is True
    assert "nope.pdf has no versions and no delete markers" in result["msg"]


def test_list_filters_other_keys_with_the_same_prefix(run, s3, bucket, history):
    _put(s3, bucket, samples.pdf_bytes("other"), key=KEY + ".old.pdf")
    result = run(ebook_restore, {"bucket": bucket, "key": KEY})
    assert len(result["versions"]) == 3


def test_the_module_never_deletes_an_object_version(run, s3, bucket, history):
    """Every DeleteObject the module sends names a delete marker."""
    from botocore.client import BaseClient

    editions, ids = history
    s3.delete_object(Bucket=bucket, Key=KEY)
    real_call = BaseClient._make_api_call
    deletes = []

    def spy(self, operation_name, api_params):
        if operation_name in ("DeleteObject", "DeleteObjects"):
            deletes.append(dict(api_params))
        return real_call(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", spy)
        run(ebook_restore, {"bucket": bucket, "key": KEY, "undelete": True})
        run(ebook_restore, {"bucket": bucket, "key": KEY, "version_id": ids[0]})
        run(ebook_restore, {"bucket": bucket, "key": KEY})
    versions, markers = _counts(s3, bucket)
    assert set(ids) <= set(versions)
    assert len(deletes) == 1 and deletes[0]["VersionId"] not in versions


def test_parse_iso8601():
    utc = datetime.UTC
    assert ev.parse_iso8601("2026-11-29T08:15:00Z") == datetime.datetime(2026, 11, 29, 8, 15, tzinfo=utc)
    assert ev.parse_iso8601("2026-11-29T09:15:00+01:00") == datetime.datetime(2026, 11, 29, 8, 15, tzinfo=utc)
    assert ev.parse_iso8601("2026-11-29T08:15:00") == datetime.datetime(2026, 11, 29, 8, 15, tzinfo=utc)
    assert ev.parse_iso8601("2026-11-29") == datetime.datetime(2026, 11, 29, tzinfo=utc)
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        ev.parse_iso8601("29/11/2026")


def test_same_content_rules():
    assert ev.same_content({"Metadata": {"sha256": "a"}, "ETag": "1"}, {"Metadata": {"sha256": "a"}, "ETag": "2"})
    assert not ev.same_content({"Metadata": {"sha256": "a"}, "ETag": "1"}, {"Metadata": {"sha256": "b"}, "ETag": "1"})
    assert ev.same_content({"ChecksumSHA256": "x="}, {"ChecksumSHA256": "x="})
    assert ev.same_content({"ETag": '"e"', "ContentLength": 3}, {"ETag": '"e"', "ContentLength": 3})
    assert not ev.same_content({"ETag": '"e"'}, {"ETag": '"f"'})
    assert not ev.same_content({}, {})
