"""tap.ebook_storage.ebook_upload against moto."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time

import boto3
import pytest
from tests.support import ebooks as samples
from ansible_collections.tap.ebook_storage.plugins.modules import ebook_upload

REGION = "us-east-1"


def _mixed_dir(root):
    samples.write(root / "a.pdf", samples.pdf_bytes("a"))
    samples.write(root / "fiction" / "b.epub", samples.epub_bytes("b"))
    samples.write(root / "fiction" / "c.mobi", samples.mobi_bytes("c"))
    samples.write(root / "tool.pdf", samples.elf_bytes())
    samples.write(root / "empty.epub", b"")
    return root


def _valid_dir(root):
    samples.write(root / "a.pdf", samples.pdf_bytes("a"))
    samples.write(root / "fiction" / "b.epub", samples.epub_bytes("b"))
    samples.write(root / "fiction" / "c.mobi", samples.mobi_bytes("c"))
    return root


def _keys(s3, bucket):
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _by_path_suffix(results):
    return {item["path"].rsplit("/", 1)[-1]: item for item in results}


def test_batch_with_rejected_files_uploads_nothing_by_default(run, s3, bucket, tmp_path):
    src = _mixed_dir(tmp_path / "src")
    result = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert result["failed"] is True
    assert result["changed"] is False
    assert "Nothing uploaded: 2 of 5 file(s) rejected" in result["msg"]
    assert f"{src}/tool.pdf: content is an ELF executable" in result["msg"]
    assert "empty.epub: empty file" in result["msg"]
    items = _by_path_suffix(result["results"])
    assert items["tool.pdf"]["status"] == "rejected"
    assert items["empty.epub"]["status"] == "rejected"
    assert items["a.pdf"]["status"] == "skipped"
    assert "other files were rejected" in items["a.pdf"]["reason"]
    assert result["summary"]["rejected"] == 2 and result["summary"]["uploaded"] == 0
    assert _keys(s3, bucket) == []


def test_on_invalid_skip_uploads_the_valid_files(run, s3, bucket, kms_key_arn, tmp_path):
    src = _mixed_dir(tmp_path / "src")
    result = run(
        ebook_upload,
        {"bucket": bucket, "src": str(src), "prefix": "backlog", "on_invalid": "skip", "kms_key_id": kms_key_arn},
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["summary"] == dict(result["summary"], total=5, uploaded=3, rejected=2, skipped=0, failed=0)
    assert any("2 file(s) rejected" in warning for warning in run.warnings)
    assert _keys(s3, bucket) == ["backlog/a.pdf", "backlog/fiction/b.epub", "backlog/fiction/c.mobi"]
    items = _by_path_suffix(result["results"])
    for name, fmt, ctype in (
        ("a.pdf", "pdf", "application/pdf"),
        ("b.epub", "epub", "application/epub+zip"),
        ("c.mobi", "mobi", "application/x-mobipocket-ebook"),
    ):
        item = items[name]
        assert item["status"] == "uploaded" and item["format"] == fmt
        head = s3.head_object(Bucket=bucket, Key=item["key"])
        assert head["ContentType"] == ctype
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == kms_key_arn
        assert head["Metadata"]["sha256"] == item["sha256"]
        assert head["VersionId"] == item["version_id"]
        body = s3.get_object(Bucket=bucket, Key=item["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == item["sha256"]


def test_rerun_is_idempotent_and_a_changed_file_is_uploaded_again(run, s3, bucket, tmp_path):
    src = _valid_dir(tmp_path / "src")
    first = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert first["changed"] is True and first["summary"]["uploaded"] == 3
    second = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert second["changed"] is False
    assert {item["status"] for item in second["results"]} == {"skipped"}
    assert all(item["reason"].startswith("unchanged") for item in second["results"])
    first_ids = {item["key"]: item["version_id"] for item in first["results"]}
    assert {item["key"]: item["version_id"] for item in second["results"]} == first_ids

    samples.write(src / "a.pdf", samples.pdf_bytes("a, second edition"))
    third = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert third["changed"] is True
    items = _by_path_suffix(third["results"])
    assert items["a.pdf"]["status"] == "uploaded"
    assert items["a.pdf"]["reason"].startswith("content differs")
    assert items["b.epub"]["status"] == "skipped"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="a.pdf")["Versions"]
    assert len(versions) == 2


def test_check_mode_reports_and_uploads_nothing(run, s3, bucket, tmp_path):
    src = _valid_dir(tmp_path / "src")
    result = run(ebook_upload, {"bucket": bucket, "src": str(src)}, check_mode=True)
    assert result["changed"] is True
    assert {item["status"] for item in result["results"]} == {"uploaded"}
    assert all(item["reason"].startswith("check mode: would upload") for item in result["results"])
    assert _keys(s3, bucket) == []


def test_extension_mismatch_is_rejected_and_named(run, s3, bucket, tmp_path):
    src = samples.write(tmp_path / "src" / "really-a-pdf.epub", samples.pdf_bytes())
    result = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert result["failed"] is True
    (item,) = result["results"]
    assert item["status"] == "rejected"
    assert item["format"] == "pdf"
    assert "content is PDF but the name ends in '.epub'" in item["reason"]
    assert _keys(s3, bucket) == []


def test_symlink_loop_and_broken_link_are_rejected(run, s3, bucket, tmp_path):
    src = _valid_dir(tmp_path / "src")
    (src / "loop.pdf").symlink_to(src / "loop.pdf")
    (src / "gone.epub").symlink_to(tmp_path / "nowhere.epub")
    (src / "fiction" / "up").symlink_to(src)
    result = run(ebook_upload, {"bucket": bucket, "src": str(src), "on_invalid": "skip"})
    items = _by_path_suffix(result["results"])
    assert "symlink loop" in items["loop.pdf"]["reason"]
    assert "broken symlink" in items["gone.epub"]["reason"]
    assert "symlink loop" in items["up"]["reason"]
    assert result["summary"]["uploaded"] == 3 and result["summary"]["rejected"] == 3


def test_nonexistent_src_fails_even_with_skip(run, s3, bucket, tmp_path):
    missing = tmp_path / "no-such-dir"
    result = run(ebook_upload, {"bucket": bucket, "src": str(missing), "on_invalid": "skip"})
    assert result["failed"] is True
    assert result["msg"] == f"src {missing} cannot be used: path does not exist"
    assert result["results"][0]["status"] == "rejected"


def test_size_limit(run, s3, bucket, tmp_path):
    src = samples.write(tmp_path / "src" / "big.pdf", samples.pdf_bytes(padding=1024 * 1024 + 10))
    result = run(ebook_upload, {"bucket": bucket, "src": str(src), "max_size_mb": 1})
    assert result["failed"] is True
    assert "over the limit of 1048576 bytes (max_size_mb=1)" in result["results"][0]["reason"]


def test_multipart_upload_with_sha256_part_checksums(run, s3, bucket, kms_key_arn, tmp_path):
    src = samples.write(tmp_path / "src" / "huge.pdf", samples.pdf_bytes(padding=11 * 1024 * 1024))
    args = {
        "bucket": bucket,
        "src": str(src),
        "kms_key_id": kms_key_arn,
        "multipart_threshold_mb": 5,
        "multipart_chunk_mb": 5,
        "concurrency": 3,
    }
    result = run(ebook_upload, args)
    assert not result.get("failed"), result.get("msg")
    (item,) = result["results"]
    assert item["status"] == "uploaded" and item["multipart"] is True
    assert item["version_id"]
    head = s3.head_object(Bucket=bucket, Key="huge.pdf", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"')
    assert head["Metadata"]["sha256"] == item["sha256"]
    assert head["ContentType"] == "application/pdf"
    assert head["SSEKMSKeyId"] == kms_key_arn
    assert item["checksum_sha256"].split("-")[0] == head["ChecksumSHA256"].split("-")[0]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    again = run(ebook_upload, args)
    assert again["changed"] is False


@pytest.mark.parametrize("failing_operation", ["UploadPart", "CompleteMultipartUpload"])
def test_failed_multipart_upload_is_aborted(run, s3, bucket, tmp_path, failing_operation):
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    src = samples.write(tmp_path / "src" / "huge.pdf", samples.pdf_bytes(padding=11 * 1024 * 1024))
    real_call = BaseClient._make_api_call
    seen = []

    def flaky_call(self, operation_name, api_params):
        if operation_name == failing_operation:
            seen.append(operation_name)
            if len(seen) == 2 or operation_name == "CompleteMultipartUpload":
                error = {"Error": {"Code": "AccessDenied", "Message": "injected failure"}}
                raise ClientError(error, operation_name)
        return real_call(self, operation_name, api_params)

    args = {"bucket": bucket, "src": str(src), "multipart_threshold_mb": 5, "multipart_chunk_mb": 5}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", flaky_call)
        result = run(ebook_upload, args)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["results"][0]["status"] == "failed"
    assert "multipart upload failed and was aborted" in result["results"][0]["reason"]
    assert "injected failure" in result["results"][0]["reason"]
    assert "Re-run to complete the batch" in result["msg"]
    # Nothing visible, nothing left half-written.
    assert _keys(s3, bucket) == []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # A re-run completes the batch.
    rerun = run(ebook_upload, args)
    assert rerun["changed"] is True and rerun["results"][0]["status"] == "uploaded"
    assert _keys(s3, bucket) == ["huge.pdf"]


def test_failed_single_put_leaves_nothing(run, s3, bucket, tmp_path):
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    src = _valid_dir(tmp_path / "src")
    real_call = BaseClient._make_api_call

    def flaky_call(self, operation_name, api_params):
        if operation_name == "PutObject" and api_params["Key"].endswith(".epub"):
            raise ClientError({"Error": {"Code": "BadDigest", "Message": "checksum mismatch"}}, operation_name)
        return real_call(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", flaky_call)
        result = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert result["failed"] is True and result["changed"] is True
    items = _by_path_suffix(result["results"])
    assert items["b.epub"]["status"] == "failed"
    assert "nothing was stored: BadDigest: checksum mismatch" in items["b.epub"]["reason"]
    assert _keys(s3, bucket) == ["a.pdf", "fiction/c.mobi"]
    rerun = run(ebook_upload, {"bucket": bucket, "src": str(src)})
    assert rerun["summary"]["uploaded"] == 1 and rerun["summary"]["skipped"] == 2


def test_role_is_assumed_before_uploading(run, s3, bucket, tmp_path):
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="S3AccessRole",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}',
    )["Role"]["Arn"]
    src = _valid_dir(tmp_path / "src")
    calls = []
    real_client = ebook_upload.AnsibleAWSModule.client

    def spy(self, service, retry_decorator=None, **extra):
        calls.append((service, sorted(extra)))
        return real_client(self, service, retry_decorator=retry_decorator, **extra)

    ebook_upload.AnsibleAWSModule.client = spy
    try:
        result = run(ebook_upload, {"bucket": bucket, "src": str(src), "role_arn": role})
    finally:
        ebook_upload.AnsibleAWSModule.client = real_client
    assert result["changed"] is True
    assert calls[0][0] == "sts"
    assert calls[1][0] == "s3"
    assert {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"} <= set(calls[1][1])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("concurrency", 0, "concurrency must be between 1 and 64"),
        ("concurrency", 65, "concurrency must be between 1 and 64"),
        ("multipart_chunk_mb", 4, "multipart_chunk_mb must be between 5 and 5120"),
        ("multipart_threshold_mb", 1, "multipart_threshold_mb must be at least 5"),
        ("max_size_mb", 0, "max_size_mb must be between 1"),
    ],
)
def test_bounds_are_checked(run, moto, tmp_path, option, value, message):
    result = run(ebook_upload, {"bucket": "b", "src": str(tmp_path), option: value})
    assert result["failed"] is True
    assert message in result["msg"]


def test_many_small_files(run, s3, bucket, tmp_path):
    src = tmp_path / "src"
    for index in range(40):
        samples.write(src / f"shelf{index % 4}" / f"book{index:03d}.pdf", samples.pdf_bytes(f"book {index}"))
    result = run(ebook_upload, {"bucket": bucket, "src": str(src), "concurrency": 8})
    assert result["summary"]["uploaded"] == 40
    assert len(_keys(s3, bucket)) == 40
    assert [item["path"] for item in result["results"]] == sorted(item["path"] for item in result["results"])


def test_sigterm_during_a_multipart_upload_aborts_it(run, s3, bucket, tmp_path):
    """SIGTERM (an Ansible timeout, a Ctrl-C of the controller) mid-upload: no object, no open upload."""
    from botocore.client import BaseClient

    src = samples.write(tmp_path / "src" / "huge.pdf", samples.pdf_bytes(padding=16 * 1024 * 1024))
    real_call = BaseClient._make_api_call
    signalled = threading.Event()

    def slow_call(self, operation_name, api_params):
        if operation_name == "UploadPart":
            if not signalled.is_set():
                signalled.set()
                threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
            time.sleep(1)
        return real_call(self, operation_name, api_params)

    args = {"bucket": bucket, "src": str(src), "multipart_threshold_mb": 5, "multipart_chunk_mb": 5, "concurrency": 1}
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", slow_call)
        with pytest.raises(KeyboardInterrupt):
            run(ebook_upload, args)
    assert signal.getsignal(signal.SIGTERM) == previous
    assert _keys(s3, bucket) == []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    rerun = run(ebook_upload, args)
    assert rerun["changed"] is True and _keys(s3, bucket) == ["huge.pdf"]
