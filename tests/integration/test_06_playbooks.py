"""playbooks/upload.yml, restore.yml and verify.yml against the deployed dev stack, as an operator runs them.

``ansible-playbook playbooks/<name>.yml -i inventories/dev -e ...``: the playbooks read the stack's outputs
themselves; nothing here hands them a bucket or a key. Runs after the monitor tests (file order), on the dev
stack they deployed.

Not run: ``-e ebook_upload_assume_role=true``. S3AccessRole trusts only the Lambda and EC2 services, so on AWS
no operator can assume it; LocalStack does not evaluate trust policies, so a run here would pass for the
wrong reason. The module's own role path is covered with a role whose trust allows the account
(``upload_restore/test_upload_restore.py::test_upload_with_the_publisher_role``).
"""

from __future__ import annotations

import uuid

import pytest

from tests.support.aws import stack_snapshot
from tests.support.ebooks import sample_epub, sample_mobi, sample_pdf, sha256

PREFIX = f"playbooks-{uuid.uuid4().hex[:8]}"
BOOKS = {
    "atlas.pdf": sample_pdf("Atlas"),
    "beowulf.epub": sample_epub("Beowulf"),
    "candide.mobi": sample_mobi("Candide"),
}


@pytest.fixture(scope="module")
def backlog(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backlog")
    for name, body in BOOKS.items():
        (folder / name).write_bytes(body)
    return folder


@pytest.fixture(scope="module")
def first_upload(dev, backlog, run_playbook):
    return run_playbook("playbooks/upload.yml", "inventories/dev",
                        extra_vars={"ebook_upload_src": str(backlog), "ebook_upload_prefix": PREFIX})


def upload_result(run):
    found = run.find(action="tap.ebook_storage.ebook_upload")
    assert found, f"the upload task did not run:\n{run.describe()}"
    return found[-1]


def test_upload_playbook_stores_each_ebook_encrypted_with_the_stack_key(first_upload, dev, aws):
    assert first_upload.rc == 0, first_upload.describe()
    assert upload_result(first_upload)["summary"]["uploaded"] == len(BOOKS)
    s3 = aws("s3")
    for name, body in BOOKS.items():
        key = f"{PREFIX}/{name}"
        head = s3.head_object(Bucket=dev["EbooksBucketName"], Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", (key, head)
        assert head["SSEKMSKeyId"] in (dev["EncryptionKeyArn"], dev.get("KmsKeyId")), (key, head["SSEKMSKeyId"])
        stored = s3.get_object(Bucket=dev["EbooksBucketName"], Key=key)["Body"].read()
        assert sha256(stored) == sha256(body), f"{key} was not stored byte for byte"


def test_upload_playbook_again_changes_nothing(first_upload, backlog, run_playbook):
    assert first_upload.rc == 0, first_upload.describe()
    again = run_playbook("playbooks/upload.yml", "inventories/dev",
                         extra_vars={"ebook_upload_src": str(backlog), "ebook_upload_prefix": PREFIX})
    assert again.rc == 0, again.describe()
    assert again.recap["changed"] == 0, again.describe()
    summary = upload_result(again)["summary"]
    assert (summary["uploaded"], summary["skipped"]) == (0, len(BOOKS)), summary


def test_restore_playbook_lists_then_brings_back_the_first_version(first_upload, dev, aws, run_playbook,
                                                                    tmp_path):
    assert first_upload.rc == 0, first_upload.describe()
    s3, bucket, key = aws("s3"), dev["EbooksBucketName"], f"{PREFIX}/atlas.pdf"
    original = BOOKS["atlas.pdf"]
    revised = sample_pdf("Atlas, second edition")
    (tmp_path / "atlas.pdf").write_bytes(revised)
    replaced = run_playbook("playbooks/upload.yml", "inventories/dev",
                            extra_vars={"ebook_upload_src": str(tmp_path / "atlas.pdf"), "ebook_upload_prefix": PREFIX})
    assert replaced.rc == 0, replaced.describe()

    listing = run_playbook("playbooks/restore.yml", "inventories/dev", extra_vars={"ebook_restore_key": key})
    assert listing.rc == 0, listing.describe()
    assert listing.recap["changed"] == 0, listing.describe()
    versions = listing.find(action="tap.ebook_storage.ebook_restore")[-1]["versions"]
    assert len(versions) == 2, versions
    oldest = min(versions, key=lambda v: v["last_modified"])
    assert not oldest["is_latest"], versions

    restored = run_playbook("playbooks/restore.yml", "inventories/dev",
                            extra_vars={"ebook_restore_key": key, "ebook_restore_version_id": oldest["version_id"]})
    assert restored.rc == 0, restored.describe()
    assert restored.recap["changed"] == 1, restored.describe()
    current = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert sha256(current) == sha256(original), "restore.yml did not bring back the first version's bytes"
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len([v for v in listed if v["Key"] == key]) == 3, "a restore must add a version, never delete one"


def test_verify_playbook_passes_and_changes_nothing_on_aws(dev, run_playbook, aws, tmp_path):
    """Read-only towards AWS; it writes the outputs files of the machine it runs on (a runbook reads them)."""
    before = stack_snapshot(aws("cloudformation"), envs=("dev",))
    outputs = tmp_path / "cfn-outputs"
    extra = {"ebook_stack_outputs_dir": str(outputs)}
    result = run_playbook("playbooks/verify.yml", "inventories/dev", extra_vars=extra)
    assert result.rc == 0, result.describe()
    assert (outputs / "dev" / "outputs.env").is_file(), result.describe()
    again = run_playbook("playbooks/verify.yml", "inventories/dev", extra_vars=extra)
    assert again.rc == 0 and again.recap["changed"] == 0, again.describe()
    assert stack_snapshot(aws("cloudformation"), envs=("dev",)) == before
    verification = result.verification()
    assert verification is not None, f"storage_verify did not run:\n{result.describe()}"
    assert verification["summary"]["failed"] == 0, result.failed_checks()
    assert verification["summary"]["passed"] > 20, verification["summary"]
