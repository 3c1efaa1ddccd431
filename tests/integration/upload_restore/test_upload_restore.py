"""ebook_upload and ebook_restore on LocalStack, run by ansible-playbook as an operator would.

Needs ``LOCALSTACK_ENDPOINT`` (e.g. http://127.0.0.1:4566): without it every test fails and says so, as
the rest of the integration suite does (a test that cannot run is a failure, not a skip).
The tests create their own versioned bucket, KMS key and role with boto3 and
remove them afterwards; they do not need the deployed stack. LocalStack's
dummy credentials (tests.support.environment, not ``test``: no_log would
mask every "test" in the output) go through the environment.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support import ebooks as samples
from tests.support.aws import client, purge_bucket, retire_key
from tests.support.environment import DUMMY_CREDENTIALS, ROOT, controller_command, without_aws_settings
from tests.support.localstack import endpoint_from_environment

ENDPOINT = endpoint_from_environment()
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="module", autouse=True)
def _localstack(localstack_endpoint):
    """Fails every test, with the reason, when LOCALSTACK_ENDPOINT is unset or does not answer."""
    return localstack_endpoint

AWS_ENV = dict(DUMMY_CREDENTIALS, AWS_DEFAULT_REGION=REGION)


@pytest.fixture(scope="module")
def boto():
    return {name: client(ENDPOINT, name, region=REGION) for name in ("s3", "kms", "iam")}


@pytest.fixture(scope="module")
def stack(boto):
    """A versioned bucket with SSE-KMS default encryption, its key and a publisher role."""
    s3, kms, iam = boto["s3"], boto["kms"], boto["iam"]
    suffix = uuid.uuid4().hex[:10]
    bucket = f"ebook-itest-{suffix}"
    key_arn = kms.create_key(Description="ebook upload/restore integration test")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]
        },
    )
    role_arn = iam.create_role(
        RoleName=f"ebook-itest-publisher-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    yield {"bucket": bucket, "key_arn": key_arn, "role_arn": role_arn}
    purge_bucket(s3, bucket)
    iam.delete_role(RoleName=role_arn.rsplit("/", 1)[-1])
    retire_key(kms, key_arn)


@pytest.fixture(scope="module")
def ansible_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("ansible")
    link = home / "collections" / "ansible_collections" / "tap" / "ebook_storage"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    return home


@pytest.fixture
def run(ansible_home, tmp_path):
    """Run one module task with ansible-playbook; returns its registered result."""

    def _run(module, args, check_mode=False):
        out = tmp_path / f"result-{uuid.uuid4().hex}.json"
        task_args = dict(args, endpoint_url=ENDPOINT, region=REGION)
        play = [
            {
                "name": f"Run {module}",
                "hosts": "localhost",
                "gather_facts": False,
                "tasks": [
                    {
                        "name": module,
                        f"tap.ebook_storage.{module}": task_args,
                        "register": "ebook_result",
                        "ignore_errors": True,
                        "check_mode": check_mode,
                    },
                    {
                        "name": "Save the result",
                        "ansible.builtin.copy": {"content": "{{ ebook_result | to_json }}", "dest": str(out)},
                        "check_mode": False,
                    },
                ],
            }
        ]
        playbook = tmp_path / "play.yml"
        playbook.write_text(json.dumps(play))
        env = dict(
            without_aws_settings(),
            ANSIBLE_COLLECTIONS_PATH=str(ansible_home / "collections"),
            ANSIBLE_CONFIG=str(ansible_home / "none.cfg"),
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_NOCOLOR="1",
            **AWS_ENV,
        )
        command = [
            controller_command("ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ]
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
        assert out.exists(), done.stdout + done.stderr
        return json.loads(out.read_text())

    return _run


def _version_ids(s3, bucket, key):
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return {v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key}


def _body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _mixed_dir(root):
    samples.write(root / "fiction" / "dune.epub", samples.epub_bytes("Dune"))
    samples.write(root / "fiction" / "foundation.mobi", samples.mobi_bytes("Foundation"))
    samples.write(root / "science" / "cosmos.pdf", samples.pdf_bytes("Cosmos"))
    executable = Path("/bin/ls")
    if executable.exists():
        samples.write(root / "tools" / "reader-setup.pdf", executable.read_bytes())
    else:
        samples.write(root / "tools" / "reader-setup.pdf", samples.elf_bytes())
    samples.write(root / "science" / "notes.epub", b"")
    return root


def test_mixed_directory(run, boto, stack, tmp_path):
    s3, bucket = boto["s3"], stack["bucket"]
    src = _mixed_dir(tmp_path / "backlog")
    args = {"bucket": bucket, "src": str(src), "prefix": "mixed", "kms_key_id": stack["key_arn"]}

    refused = run("ebook_upload", args)
    assert refused["failed"] is True
    assert "Nothing uploaded: 2 of 5 file(s) rejected" in refused["msg"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="mixed/").get("KeyCount", 0) == 0

    done = run("ebook_upload", dict(args, on_invalid="skip"))
    assert not done.get("failed"), done.get("msg")
    assert done["changed"] is True
    assert done["summary"]["uploaded"] == 3 and done["summary"]["rejected"] == 2
    reasons = {Path(item["path"]).name: item["reason"] for item in done["results"] if item["status"] == "rejected"}
    assert reasons == {
        "notes.epub": "empty file (0 bytes)",
        "reader-setup.pdf": "content is an ELF executable, not a PDF, EPUB or MOBI e-book",
    }
    content_types = {
        "mixed/fiction/dune.epub": "application/epub+zip",
        "mixed/fiction/foundation.mobi": "application/x-mobipocket-ebook",
        "mixed/science/cosmos.pdf": "application/pdf",
    }
    stored = {obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="mixed/")["Contents"]}
    assert stored == set(content_types)
    for item in done["results"]:
        if item["status"] != "uploaded":
            continue
        data = Path(item["path"]).read_bytes()
        digest = hashlib.sha256(data)
        head = s3.head_object(Bucket=bucket, Key=item["key"], ChecksumMode="ENABLED")
        assert head["ContentType"] == content_types[item["key"]]
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == stack["key_arn"]
        assert head["ChecksumSHA256"] == base64.b64encode(digest.digest()).decode()
        assert head["Metadata"]["sha256"] == digest.hexdigest() == item["sha256"]
        assert head["VersionId"] == item["version_id"]
        assert _body(s3, bucket, item["key"]) == data

    again = run("ebook_upload", dict(args, on_invalid="skip"))
    assert again["changed"] is False
    assert again["summary"]["skipped"] == 3 and again["summary"]["uploaded"] == 0

    preview = run("ebook_upload", dict(args, on_invalid="skip", prefix="preview"), check_mode=True)
    assert preview["changed"] is True and preview["summary"]["uploaded"] == 3
    assert s3.list_objects_v2(Bucket=bucket, Prefix="preview/").get("KeyCount", 0) == 0


def test_multipart_upload_checksum(run, boto, stack, tmp_path):
    s3, bucket = boto["s3"], stack["bucket"]
    data = samples.pdf_bytes("atlas", padding=12 * 1024 * 1024)
    src = samples.write(tmp_path / "atlas.pdf", data)
    args = {
        "bucket": bucket,
        "src": str(src),
        "prefix": "big",
        "kms_key_id": stack["key_arn"],
        "multipart_threshold_mb": 5,
        "multipart_chunk_mb": 5,
    }
    done = run("ebook_upload", args)
    assert not done.get("failed"), done.get("msg")
    (item,) = done["results"]
    assert item["multipart"] is True
    part = 5 * 1024 * 1024
    parts = [hashlib.sha256(data[i : i + part]).digest() for i in range(0, len(data), part)]
    composite = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode() + f"-{len(parts)}"
    head = s3.head_object(Bucket=bucket, Key="big/atlas.pdf", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == composite == item["checksum_sha256"]
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == stack["key_arn"]
    assert head["ContentType"] == "application/pdf"
    assert _body(s3, bucket, "big/atlas.pdf") == data
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert run("ebook_upload", args)["changed"] is False


def test_upload_with_the_publisher_role(run, boto, stack, tmp_path):
    src = samples.write(tmp_path / "role.pdf", samples.pdf_bytes("uploaded as the role"))
    done = run(
        "ebook_upload",
        {"bucket": stack["bucket"], "src": str(src), "prefix": "role", "role_arn": stack["role_arn"]},
    )
    assert not done.get("failed"), done.get("msg")
    assert done["results"][0]["status"] == "uploaded"


def test_overwrite_delete_and_restore_each_state(run, boto, stack, tmp_path):
    s3, bucket = boto["s3"], stack["bucket"]
    key = "history/dune.epub"
    book = tmp_path / "history" / "dune.epub"
    first = samples.epub_bytes("Dune, first edition")
    second = samples.epub_bytes("Dune, second edition")
    upload = {"bucket": bucket, "src": str(book.parent), "kms_key_id": stack["key_arn"], "prefix": "history"}
    restore = {"bucket": bucket, "key": key, "kms_key_id": stack["key_arn"]}

    samples.write(book, first)
    assert run("ebook_upload", upload)["changed"] is True
    time.sleep(1.2)  # LastModified has one-second resolution
    between = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    time.sleep(1.2)
    samples.write(book, second)
    assert run("ebook_upload", upload)["changed"] is True
    s3.delete_object(Bucket=bucket, Key=key)  # an operator's mistake
    seen = _version_ids(s3, bucket, key)
    assert len(seen) == 2

    listed = run("ebook_restore", restore)
    assert listed["changed"] is False
    assert [v["delete_marker"] for v in listed["versions"]] == [True, False, False]
    first_id = listed["versions"][2]["version_id"]
    second_id = listed["versions"][1]["version_id"]

    undeleted = run("ebook_restore", dict(restore, undelete=True))
    assert undeleted["changed"] is True, undeleted
    assert _body(s3, bucket, key) == second
    assert undeleted["current_version_id"] == second_id
    assert _version_ids(s3, bucket, key) == seen
    assert run("ebook_restore", dict(restore, undelete=True))["changed"] is False

    by_time = run("ebook_restore", dict(restore, before=between.isoformat()))
    assert by_time["changed"] is True, by_time
    assert by_time["source_version_id"] == first_id
    assert _body(s3, bucket, key) == first
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "application/epub+zip"
    assert head["SSEKMSKeyId"] == stack["key_arn"]
    assert head["Metadata"]["sha256"] == hashlib.sha256(first).hexdigest()
    assert _version_ids(s3, bucket, key) >= seen
    seen = _version_ids(s3, bucket, key)

    by_id = run("ebook_restore", dict(restore, version_id=second_id))
    assert by_id["changed"] is True
    assert _body(s3, bucket, key) == second
    assert run("ebook_restore", dict(restore, version_id=second_id))["changed"] is False
    assert _version_ids(s3, bucket, key) >= seen

    # The upload sees the restored content as its own: nothing to do.
    assert run("ebook_upload", upload)["changed"] is False

    missing = run("ebook_restore", dict(restore, version_id="no-such-version"))
    assert missing["failed"] is True and "version_id no-such-version does not exist" in missing["msg"]
    early = run("ebook_restore", dict(restore, before="2001-01-01T00:00:00Z"))
    assert early["failed"] is True and "give a later time" in early["msg"]
    assert len(_version_ids(s3, bucket, key)) == 4


def test_one_hundred_small_files(run, boto, stack, tmp_path, record_property):
    src = tmp_path / "hundred"
    for index in range(100):
        samples.write(src / f"shelf{index % 10}" / f"book{index:03d}.pdf", samples.pdf_bytes(f"book {index}"))
    args = {"bucket": stack["bucket"], "src": str(src), "prefix": "hundred", "kms_key_id": stack["key_arn"]}
    started = time.monotonic()
    done = run("ebook_upload", args)
    wall = time.monotonic() - started
    assert done["summary"]["uploaded"] == 100
    started = time.monotonic()
    again = run("ebook_upload", args)
    wall_again = time.monotonic() - started
    assert again["changed"] is False
    record_property("upload_100_module_seconds", done["summary"]["seconds"])
    record_property("upload_100_playbook_seconds", round(wall, 2))
    record_property("rerun_100_module_seconds", again["summary"]["seconds"])
    record_property("rerun_100_playbook_seconds", round(wall_again, 2))
    print(
        f"100 small files: upload {done['summary']['seconds']} s in the module ({wall:.2f} s with ansible-playbook), "
        f"idempotent re-run {again['summary']['seconds']} s ({wall_again:.2f} s)"
    )
