#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ebook_upload
short_description: Validate e-books by content and upload them to the e-book bucket
version_added: 1.0.0
description:
  - Uploads one file, or every file under a directory, to the e-book bucket with SSE-KMS encryption,
    the right C(Content-Type) and a SHA-256 checksum that S3 verifies.
  - Only real e-books are accepted, judged by content, not by name
    (PDF C(%PDF-) header and C(%%EOF) trailer; EPUB ZIP whose first entry is an uncompressed C(mimetype)
    holding C(application/epub+zip); MOBI C(BOOKMOBI) at offset 60 with a consistent PalmDB record table).
  - The name must end in the lower-case extension of the detected format (C(.pdf), C(.epub), C(.mobi)),
    because the publisher role may only write keys ending in those extensions.
  - The whole batch is validated before anything is uploaded. With O(on_invalid=fail) a single rejected file
    (not an e-book, empty, over O(max_size_mb), missing path, broken link, symlink loop, wrong extension)
    means nothing is uploaded.
  - Idempotent. The full-file SHA-256 is stored as the user metadata C(sha256); a file whose digest equals the
    C(sha256) metadata of the current object (HeadObject) is skipped.
  - Files smaller than O(multipart_threshold_mb) are sent with one PutObject carrying C(ChecksumSHA256), which S3
    checks before it stores anything. Larger files go through the boto3 transfer manager as a multipart upload
    with a SHA-256 checksum per part; the composite checksum S3 reports is compared with the one computed locally.
    A failed multipart upload is aborted, so an interrupted run leaves no partial object, and a re-run completes
    the batch.
author:
  - TAP infrastructure team (@tap-infra)
options:
  bucket:
    description:
      - Name of the e-book bucket (stack output C(EbooksBucketName)).
    required: true
    type: str
  src:
    description:
      - A file, or a directory whose files (recursively, following directory links) are uploaded.
      - The object key of a file is O(prefix) followed by its path relative to O(src)
        (for a single file, its base name).
    required: true
    type: path
  prefix:
    description:
      - Key prefix. A C(/) is appended when the prefix does not end with one.
    default: ''
    type: str
  kms_key_id:
    description:
      - ARN of the KMS key, or of its alias, to encrypt the objects with (stack output C(EncryptionKeyArn)).
      - Objects are then written with C(ServerSideEncryption=aws:kms) and C(SSEKMSKeyId).
      - When omitted, no encryption headers are sent and the bucket's default encryption applies.
    type: str
  role_arn:
    description:
      - ARN of a role to assume with STS before uploading, normally the stack output C(S3AccessRoleArn), so the
        upload runs with the publisher backend's permissions.
      - The role session lasts one hour; a batch that needs longer must be split.
    type: str
  role_session_name:
    description:
      - Session name used when assuming O(role_arn); it appears in CloudTrail.
    default: tap-ebook-upload
    type: str
  on_invalid:
    description:
      - V(fail) uploads nothing when any file is rejected and fails the task.
      - V(skip) uploads the valid files, reports the rejected ones and warns.
    choices: [fail, skip]
    default: fail
    type: str
  max_size_mb:
    description:
      - Largest accepted file, in MiB (1 MiB = 1048576 bytes).
    default: 500
    type: int
  concurrency:
    description:
      - Number of files uploaded in parallel, and of parts in flight for one multipart upload (1 to 64).
      - Multipart uploads run one file at a time, so at most this many requests are in flight.
    default: 8
    type: int
  multipart_threshold_mb:
    description:
      - Files of this size in MiB or larger are uploaded as multipart uploads (at least 5).
    default: 16
    type: int
  multipart_chunk_mb:
    description:
      - Part size in MiB for multipart uploads (5 to 5120). It is raised when a file would need more than
        10,000 parts.
    default: 16
    type: int
notes:
  - Supports check mode; it validates the files, compares them with the bucket and reports what would be uploaded.
  - A run killed with SIGKILL may leave an incomplete multipart upload. It is invisible and holds no object; the
    bucket's lifecycle rule for incomplete multipart uploads removes it.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Upload a backlog directory with the publisher role
  tap.ebook_storage.ebook_upload:
    bucket: "{{ outputs.EbooksBucketName }}"
    src: /srv/backlog
    prefix: backlog/2026-11
    kms_key_id: "{{ outputs.EncryptionKeyArn }}"
    role_arn: "{{ outputs.S3AccessRoleArn }}"
  register: upload

- name: Upload what is valid, report the rest
  tap.ebook_storage.ebook_upload:
    bucket: ebooks-storage-dev-123456789012
    src: /srv/incoming
    on_invalid: skip
    kms_key_id: arn:aws:kms:us-east-1:123456789012:alias/ebooks-dev

- name: See what would be uploaded
  tap.ebook_storage.ebook_upload:
    bucket: ebooks-storage-dev-123456789012
    src: /srv/incoming/dune.epub
  check_mode: true
"""

RETURN = r"""
msg:
  description: Why the module failed (rejected files with O(on_invalid=fail), failed uploads, bad options).
  returned: on failure
  type: str
  sample: "Nothing uploaded: 1 of 3 file(s) rejected: /srv/backlog/setup.pdf: content is an ELF executable, ..."
results:
  description: One entry per file found under O(src), sorted by path.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Local path of the file.
      type: str
      sample: /srv/backlog/fiction/dune.epub
    key:
      description: Object key; null when no key could be formed.
      type: str
      sample: backlog/2026-11/fiction/dune.epub
    status:
      description:
        - V(uploaded) (in check mode, would be uploaded), V(skipped) (unchanged, or not uploaded because another
          file was rejected with O(on_invalid=fail)), V(rejected) (not an acceptable e-book) or V(failed)
          (the upload failed).
      type: str
      sample: uploaded
    reason:
      description: Why the file got its status.
      type: str
      sample: "content is an ELF executable, not a PDF, EPUB or MOBI e-book"
    format:
      description: Detected format, V(pdf), V(epub) or V(mobi); null when none was detected.
      type: str
      sample: epub
    size:
      description: Size in bytes.
      type: int
      sample: 482133
    sha256:
      description: SHA-256 of the file (hex); null for rejected files.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    version_id:
      description: Version id of the object written (uploaded) or found unchanged (skipped).
      type: str
      sample: 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY
    checksum_sha256:
      description:
        - The SHA-256 checksum S3 reports for the object (base64; C(-N) suffix for an N-part multipart upload).
      type: str
      sample: n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=
    multipart:
      description: Whether the file is (or would be) sent as a multipart upload.
      type: bool
      sample: false
summary:
  description: Counts of the results.
  returned: always
  type: dict
  contains:
    total:
      description: Files found.
      type: int
    uploaded:
      description: Files uploaded (or that would be, in check mode).
      type: int
    skipped:
      description: Files not uploaded because they were unchanged or the batch was refused.
      type: int
    rejected:
      description: Files rejected by validation.
      type: int
    failed:
      description: Files whose upload failed.
      type: int
    bytes_uploaded:
      description: Bytes uploaded (or that would be).
      type: int
    seconds:
      description: Wall-clock time of the run.
      type: float
  sample:
    total: 3
    uploaded: 1
    skipped: 1
    rejected: 1
    failed: 0
    bytes_uploaded: 482133
    seconds: 0.41
"""

import concurrent.futures
import contextlib
import signal
import threading
import time

try:
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
    from s3transfer.utils import ChunksizeAdjuster
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_formats import MIB
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_formats import checksums_match
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_formats import collect_files
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_formats import validate_file
from ansible_collections.tap.ebook_storage.plugins.module_utils.module_warnings import warn

MAX_CONCURRENCY = 64
MIN_PART_MB = 5
MAX_PART_MB = 5120
MAX_OBJECT_MB = 5 * 1024 * 1024  # 5 TiB, the S3 object size limit


def _error_text(exc):
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', to_native(exc))}"
    return to_native(exc)


class Uploader:
    """Compares files with the bucket and uploads them; worker-thread safe, never calls fail_json."""

    def __init__(self, client, params):
        self.client = client  # RetryingBotoClientWrapper
        self.bucket = params["bucket"]
        self.kms_key_id = params["kms_key_id"]
        self.concurrency = params["concurrency"]
        self.threshold = params["multipart_threshold_mb"] * MIB
        self._lock = threading.Lock()
        self._completed = {}
        self._created = {}
        self.missing_checksum = False
        events = client.meta.events
        events.register("after-call.s3.CreateMultipartUpload", self._on_create)
        events.register("after-call.s3.CompleteMultipartUpload", self._on_complete)

    # boto3's transfer manager does not return the responses: keep what the multipart calls answer.
    def _on_create(self, parsed, **kwargs):
        if parsed.get("Key") and parsed.get("UploadId"):
            with self._lock:
                self._created[parsed["Key"]] = parsed["UploadId"]

    def _on_complete(self, parsed, **kwargs):
        if parsed.get("Key"):
            with self._lock:
                self._completed[parsed["Key"]] = parsed

    def _encryption_args(self):
        if not self.kms_key_id:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}

    def _key_matches(self, head):
        """Whether the stored object is encrypted as requested (only checkable for a key ARN or key id)."""
        if not self.kms_key_id:
            return True
        if head.get("ServerSideEncryption") != "aws:kms":
            return False
        stored = head.get("SSEKMSKeyId") or ""
        wanted = self.kms_key_id
        if ":alias/" in wanted or wanted.startswith("alias/"):
            return True
        if wanted.startswith("arn:"):
            return stored == wanted
        return stored.endswith("/" + wanted) or stored == wanted

    def compare(self, item):
        """Decide whether *item* needs an upload; fills status/reason for an unchanged file."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=item["key"], aws_retry=True)
        except is_boto3_error_code(["404", "NoSuchKey", "NotFound"]):
            return "new object"
        except is_boto3_error_code(["403", "AccessDenied", "Forbidden"]):  # pylint: disable=duplicate-except
            raise RuntimeError(
                "HeadObject was denied (403), so the file cannot be compared with the bucket; the uploading "
                "identity needs s3:GetObject and s3:ListBucket"
            ) from None
        stored = (head.get("Metadata") or {}).get("sha256")
        if stored != item["sha256"]:
            if stored:
                return f"content differs from the current object (sha256 {stored[:12]}...)"
            return "current object has no sha256 metadata"
        if not self._key_matches(head):
            return "content unchanged but the current object is not encrypted with the requested KMS key"
        item["status"] = "skipped"
        item["reason"] = "unchanged: the current object has the same sha256"
        item["version_id"] = head.get("VersionId")
        return None

    def put_single(self, item, plan):
        args = dict(
            Bucket=self.bucket,
            Key=item["key"],
            ContentType=plan["content_type"],
            ChecksumSHA256=plan["checksum_sha256"],
            Metadata={"sha256": item["sha256"]},
            **self._encryption_args(),
        )
        with open(item["path"], "rb") as body:
            response = self.client.put_object(Body=body, **args)
        item["version_id"] = response.get("VersionId")
        item["checksum_sha256"] = response.get("ChecksumSHA256")
        if not item["checksum_sha256"]:
            self.missing_checksum = True

    def put_multipart(self, item, plan):
        config = TransferConfig(
            multipart_threshold=self.threshold,
            multipart_chunksize=plan["part_size"],
            max_concurrency=self.concurrency,
            use_threads=self.concurrency > 1,
            preferred_transfer_client="classic",
        )
        extra = dict(
            ContentType=plan["content_type"],
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": item["sha256"]},
            **self._encryption_args(),
        )
        key = item["key"]
        try:
            # The raw client: the transfer manager drives its own retries.
            self.client.client.upload_file(item["path"], self.bucket, key, ExtraArgs=extra, Config=config)
        except BaseException:
            self._abort(key)
            raise
        with self._lock:
            completed = self._completed.pop(key, {})
            self._created.pop(key, None)
        version_id = completed.get("VersionId")
        head_args = dict(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        if version_id:
            head_args["VersionId"] = version_id
        head = self.client.head_object(aws_retry=True, **head_args)
        item["version_id"] = head.get("VersionId")
        reported = completed.get("ChecksumSHA256") or head.get("ChecksumSHA256")
        item["checksum_sha256"] = reported
        if not reported:
            self.missing_checksum = True
        elif not checksums_match(plan["checksum_sha256"], reported):
            raise RuntimeError(
                f"the stored object's checksum {reported} differs from {plan['checksum_sha256']} computed before "
                "the upload: the file changed while it was uploaded; re-run the upload"
            )
        if (head.get("Metadata") or {}).get("sha256") != item["sha256"]:
            raise RuntimeError("the stored object has not the expected sha256 metadata (another writer?)")

    def _abort(self, key):
        with self._lock:
            upload_id = self._created.pop(key, None)
            if key in self._completed:
                return
        if not upload_id:
            return
        # s3transfer aborts on failure as well; NoSuchUpload then means it already did.
        with contextlib.suppress(BotoCoreError, ClientError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, aws_retry=True)

    def run_one(self, item, plan, check_mode):
        """Compare, then (for a single PUT) upload one file; returns True when a multipart upload is due."""
        try:
            reason = self.compare(item)
        except Exception as exc:  # pylint: disable=broad-except
            item["status"] = "failed"
            item["reason"] = f"cannot compare with the bucket: {_error_text(exc)}"
            return False
        if reason is None:
            return False
        if check_mode:
            item["status"] = "uploaded"
            item["reason"] = f"check mode: would upload ({reason})"
            return False
        item["reason"] = reason
        if plan["part_size"]:
            return True
        try:
            self.put_single(item, plan)
            item["status"] = "uploaded"
        except Exception as exc:  # pylint: disable=broad-except
            item["status"] = "failed"
            item["reason"] = f"upload failed, nothing was stored: {_error_text(exc)}"
        return False

    def run_multipart(self, item, plan):
        try:
            self.put_multipart(item, plan)
            item["status"] = "uploaded"
        except Exception as exc:  # pylint: disable=broad-except
            item["status"] = "failed"
            item["reason"] = f"multipart upload failed and was aborted: {_error_text(exc)}"


def _summary(results, started):
    summary = {"total": len(results), "uploaded": 0, "skipped": 0, "rejected": 0, "failed": 0, "bytes_uploaded": 0}
    for item in results:
        summary[item["status"]] = summary.get(item["status"], 0) + 1
        if item["status"] == "uploaded":
            summary["bytes_uploaded"] += item["size"] or 0
    summary["seconds"] = round(time.monotonic() - started, 3)
    return summary


def _check_params(module):
    params = module.params
    if not params["bucket"].strip():
        module.fail_json(msg="bucket must not be empty")
    if params["max_size_mb"] < 1 or params["max_size_mb"] > MAX_OBJECT_MB:
        module.fail_json(msg=f"max_size_mb must be between 1 and {MAX_OBJECT_MB}, not {params['max_size_mb']}")
    if not 1 <= params["concurrency"] <= MAX_CONCURRENCY:
        module.fail_json(msg=f"concurrency must be between 1 and {MAX_CONCURRENCY}, not {params['concurrency']}")
    if params["multipart_threshold_mb"] < MIN_PART_MB:
        module.fail_json(msg=f"multipart_threshold_mb must be at least {MIN_PART_MB}")
    if not MIN_PART_MB <= params["multipart_chunk_mb"] <= MAX_PART_MB:
        module.fail_json(msg=f"multipart_chunk_mb must be between {MIN_PART_MB} and {MAX_PART_MB}")


def _s3_client(module):
    """The S3 client of the uploads, as the role role_arn when given, with a connection per worker."""
    params = module.params
    session = AwsSession(module)
    if params["role_arn"]:
        try:
            session.assume_role(params["role_arn"], params["role_session_name"])
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg=f"Unable to assume the role {params['role_arn']}")
    config = {"max_pool_connections": max(10, params["concurrency"] + 2)}
    endpoint = params.get("endpoint_url")
    if endpoint and "amazonaws.com" not in endpoint:
        config["s3"] = {"addressing_style": "path"}
    return session.client("s3", config=config)


def _bounded_map(function, items, workers):
    """map() over a pool of *workers* threads; on an interrupt, queued items are dropped, running ones finish."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        results = list(pool.map(function, items))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        src=dict(type="path", required=True),
        prefix=dict(type="str", default=""),
        kms_key_id=dict(type="str", no_log=False),
        role_arn=dict(type="str"),
        role_session_name=dict(type="str", default="tap-ebook-upload"),
        on_invalid=dict(type="str", default="fail", choices=["fail", "skip"]),
        max_size_mb=dict(type="int", default=500),
        concurrency=dict(type="int", default=8),
        multipart_threshold_mb=dict(type="int", default=16),
        multipart_chunk_mb=dict(type="int", default=16),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    _check_params(module)
    params = module.params
    started = time.monotonic()

    threshold = params["multipart_threshold_mb"] * MIB
    chunk = params["multipart_chunk_mb"] * MIB

    def part_size_for(size):
        return ChunksizeAdjuster().adjust_chunksize(chunk, size) if size >= threshold else None

    # 1. Validate the whole batch locally (format, extension, size, digest) before any AWS call.
    entries = collect_files(params["src"])
    checked = _bounded_map(
        lambda entry: validate_file(entry, params["prefix"], params["max_size_mb"] * MIB, part_size_for),
        entries,
        params["concurrency"],
    )
    results = []
    plans = {}
    for index, (item, plan) in enumerate(checked):
        item["checksum_sha256"] = None
        item["multipart"] = bool(plan and plan["part_size"])
        results.append(item)
        if plan:
            plans[index] = plan
    rejected = [item for item in results if item["status"] == "rejected"]
    if len(entries) == 1 and entries[0]["path"] == params["src"] and entries[0]["reason"]:
        module.fail_json(
            msg=f"src {params['src']} cannot be used: {entries[0]['reason']}",
            results=results,
            summary=_summary(results, started),
            changed=False,
        )

    if rejected and params["on_invalid"] == "fail":
        for item in results:
            if item["status"] == "valid":
                item["status"] = "skipped"
                item["reason"] = "not uploaded: other files were rejected (on_invalid=fail)"
        listing = "; ".join(f"{item['path']}: {item['reason']}" for item in rejected[:10])
        more = f" (and {len(rejected) - 10} more)" if len(rejected) > 10 else ""
        module.fail_json(
            msg=(
                f"Nothing uploaded: {len(rejected)} of {len(results)} file(s) rejected: {listing}{more}. "
                "Fix or remove them, or set on_invalid=skip to upload only the valid files."
            ),
            results=results,
            summary=_summary(results, started),
            changed=False,
        )
    if rejected:
        warn(f"{len(rejected)} file(s) rejected and not uploaded (on_invalid=skip); see results")
    if not results:
        warn(f"No files found under {params['src']}")

    # 2. Compare with the bucket, upload single-PUT files in a bounded pool, then the multipart ones in turn.
    uploader = Uploader(_s3_client(module), params)
    try:
        previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        previous_handler = None
    try:
        valid = sorted(plans)
        due = _bounded_map(
            lambda index: uploader.run_one(results[index], plans[index], module.check_mode),
            valid,
            params["concurrency"],
        )
        for index, multipart in zip(valid, due, strict=True):
            if multipart:
                uploader.run_multipart(results[index], plans[index])
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)

    if uploader.missing_checksum:
        warn("The S3 endpoint did not report ChecksumSHA256 for some objects; their checksum was not echoed")
    summary = _summary(results, started)
    changed = summary["uploaded"] > 0
    failed = [item for item in results if item["status"] == "failed"]
    if failed:
        listing = "; ".join(f"{item['path']}: {item['reason']}" for item in failed[:10])
        module.fail_json(
            msg=f"{len(failed)} of {len(results)} file(s) failed to upload: {listing}. Re-run to complete the batch.",
            results=results,
            summary=summary,
            changed=changed,
        )
    module.exit_json(changed=changed, results=results, summary=summary)


if __name__ == "__main__":
    main()
