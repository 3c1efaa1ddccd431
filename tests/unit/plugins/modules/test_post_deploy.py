# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""post_deploy: parity (or, on AWS, the drift of the bucket settings), outputs and verification in one run."""

from __future__ import annotations

import json

from tap_moto_stack import DATA_BUCKET
from tap_moto_stack import LOG_BUCKET
from tap_moto_stack import STACK
from tap_moto_stack import create_complete_stack

from ansible_collections.tap.ebook_storage.plugins.modules import post_deploy
from ansible_collections.tap.ebook_storage.plugins.modules import stack_outputs


def bucket_results(result):
    return {c["id"]: c["status"] for c in result["checks"] if c["id"].split(".")[0] in ("bucket", "logging_bucket")}


def test_parity_then_outputs_then_checks_that_see_the_parity_writes(moto, run, template_text, tmp_path):
    create_complete_stack(bucket_settings=False)  # bucket settings missing, as LocalStack leaves them
    args = {"stack_name": STACK, "template_body": template_text, "localstack_parity": True,
            "dest": str(tmp_path), "fail_on_failed": False}

    first = run(post_deploy, args)
    assert first["failed"] is False, first
    assert first["changed"] is True
    assert "data_bucket.encryption" in first["parity"]["applied"]
    # The reads made before the parity writes are not reused: every bucket check sees the new settings.
    assert set(bucket_results(first).values()) == {"passed"}, bucket_results(first)
    assert json.loads((tmp_path / "flat-outputs.json").read_text()) == first["outputs"]
    assert first["outputs"] == run(stack_outputs, {"stack_name": STACK})["outputs"]
    assert first["summary"]["total"] == len(first["checks"])
    assert first["api_calls"]["by_operation"]["cloudformation:DescribeStacks"] == 1

    second = run(post_deploy, args)
    assert second["changed"] is False, second
    assert second["parity"]["applied"] == []
    assert second["files"]["changed"] == []


def test_check_mode_writes_nothing(moto, run, template_text, tmp_path):
    create_complete_stack(bucket_settings=False)
    args = {"stack_name": STACK, "template_body": template_text, "localstack_parity": True,
            "dest": str(tmp_path / "out"), "fail_on_failed": False}
    result = run(post_deploy, args, check_mode=True)
    assert result["changed"] is True
    assert "data_bucket.encryption" in result["parity"]["applied"]
    assert not (tmp_path / "out").exists()
    assert "bucket.versioning" in result["failed_checks"]  # nothing was applied, so the check still fails


def test_without_parity_or_verification_it_reads_the_outputs_and_the_drift(moto, run, template_text):
    create_complete_stack()
    result = run(post_deploy, {"stack_name": STACK, "template_body": template_text, "verify": False})
    assert result["changed"] is False
    assert "parity" not in result and "checks" not in result and "files" not in result
    assert result["drift"]["found"] == []
    assert result["outputs"]["EnvironmentName"] == "dev"


def test_fails_on_a_failed_check_when_asked(moto, run, template_text):
    create_complete_stack(bucket_settings=False)
    result = run(post_deploy, {"stack_name": STACK, "template_body": template_text})
    assert result["failed"] is True
    assert "checks failed for stack" in result["msg"] and "bucket.versioning" in result["msg"]
    assert result["outputs"]["EnvironmentName"] == "dev"  # the report and outputs come with the failure


def test_a_missing_stack_is_named(moto, run):
    result = run(post_deploy, {"stack_name": "no-such-stack"})
    assert result["failed"] is True
    assert "no-such-stack does not exist" in result["msg"]


def test_the_alias_of_a_removed_key_is_deleted(moto, run, template_text):
    """A stack switched to an external key: LocalStack keeps the alias of the removed alias resource."""
    import boto3

    kms = boto3.client("kms", region_name="us-east-1")
    external = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/team/ebooks", TargetKeyId=external)
    create_complete_stack(parameters={"KmsKeyAlias": "alias/team/ebooks"})
    left = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/ebooks-storage-dev", TargetKeyId=left)

    args = {"stack_name": STACK, "template_body": template_text, "localstack_parity": True, "verify": False}
    first = run(post_deploy, args)
    assert "kms_alias.removed" in first["parity"]["applied"], first
    assert "alias/ebooks-storage-dev" not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/team/ebooks" in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "kms_alias.removed" not in run(post_deploy, args)["parity"]["applied"]


# -- drift on AWS: settings changed outside CloudFormation ------------------------------------------------

DRIFTED = ["data_bucket.public_access_block", "data_bucket.encryption", "data_bucket.versioning"]
DRIFTED_CHECKS = {"bucket.public_access_block", "bucket.encryption", "bucket.versioning"}


def drift_data_bucket():
    """What someone does by hand to the data bucket: versioning suspended, AES256, public access block off."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(Bucket=DATA_BUCKET, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.delete_public_access_block(Bucket=DATA_BUCKET)
    return s3


def data_bucket_state(s3):
    encryption = s3.get_bucket_encryption(Bucket=DATA_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    try:
        block = s3.get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        block = None
    return {
        "versioning": s3.get_bucket_versioning(Bucket=DATA_BUCKET).get("Status"),
        "algorithm": encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "public_access_block": block,
    }


def aws_args(template_text, **more):
    return {"stack_name": STACK, "template_body": template_text, "fail_on_failed": False, **more}


def test_on_aws_an_undrifted_stack_has_no_drift_and_nothing_is_written(moto, run, template_text):
    create_complete_stack()
    result = run(post_deploy, aws_args(template_text, repair_drift=True))
    assert result["changed"] is False, result
    assert result["drift"] == {"found": [], "repaired": [], "notes": [],
                               "buckets": {"logging_bucket": LOG_BUCKET, "data_bucket": DATA_BUCKET}}
    assert "parity" not in result
    assert result["failed_checks"] == []
    writes = [op for op in result["api_calls"]["by_operation"] if ":Put" in op or ":Delete" in op]
    assert writes == []


def test_drift_is_found_and_left_as_it_is_without_repair(moto, run, template_text):
    create_complete_stack()
    s3 = drift_data_bucket()
    before = data_bucket_state(s3)

    result = run(post_deploy, aws_args(template_text))
    assert result["failed"] is False and result["changed"] is False, result
    assert result["drift"]["found"] == DRIFTED
    assert result["drift"]["repaired"] == []
    assert set(result["failed_checks"]) >= DRIFTED_CHECKS, result["failed_checks"]
    assert data_bucket_state(s3) == before == {"versioning": "Suspended", "algorithm": "AES256",
                                               "public_access_block": None}
    writes = [op for op in result["api_calls"]["by_operation"] if ":Put" in op or ":Delete" in op]
    assert writes == []


def test_drift_is_repaired_before_the_checks_then_nothing_is_left(moto, run, template_text, tmp_path):
    outputs = create_complete_stack()
    s3 = drift_data_bucket()

    args = aws_args(template_text, repair_drift=True, dest=str(tmp_path))
    first = run(post_deploy, args)
    assert first["failed"] is False, first
    assert first["changed"] is True
    assert first["drift"]["found"] == first["drift"]["repaired"] == DRIFTED
    assert first["drift"]["buckets"]["data_bucket"] == DATA_BUCKET
    # The checks read the bucket again after the repair: every bucket check passes.
    assert set(bucket_results(first).values()) == {"passed"}, bucket_results(first)
    assert first["failed_checks"] == []
    state = data_bucket_state(s3)
    assert state["versioning"] == "Enabled" and state["algorithm"] == "aws:kms"
    assert state["public_access_block"] == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
    rule = s3.get_bucket_encryption(Bucket=DATA_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == outputs["KmsKeyArn"]
    assert rule["BucketKeyEnabled"] is True

    second = run(post_deploy, args)
    assert second["changed"] is False, second
    assert second["drift"]["found"] == second["drift"]["repaired"] == []


def test_drift_of_the_log_bucket_acl_and_logging_is_repaired(moto, run, template_text):
    create_complete_stack()
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={})
    s3.put_bucket_ownership_controls(Bucket=LOG_BUCKET,
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_bucket_acl(Bucket=LOG_BUCKET, ACL="public-read")

    result = run(post_deploy, aws_args(template_text, repair_drift=True))
    assert result["drift"]["found"] == ["logging_bucket.acl", "logging_bucket.ownership", "data_bucket.logging"]
    assert result["drift"]["repaired"] == result["drift"]["found"]
    assert result["failed_checks"] == []
    assert s3.get_bucket_logging(Bucket=DATA_BUCKET)["LoggingEnabled"]["TargetBucket"] == LOG_BUCKET
    ownership = s3.get_bucket_ownership_controls(Bucket=LOG_BUCKET)["OwnershipControls"]["Rules"][0]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"


def test_check_mode_reports_the_repair_and_writes_nothing(moto, run, template_text, tmp_path):
    create_complete_stack()
    s3 = drift_data_bucket()
    before = data_bucket_state(s3)

    result = run(post_deploy, aws_args(template_text, repair_drift=True, dest=str(tmp_path / "out")),
                 check_mode=True)
    assert result["changed"] is True
    assert result["drift"]["found"] == result["drift"]["repaired"] == DRIFTED  # what would be put back
    assert data_bucket_state(s3) == before
    assert set(result["failed_checks"]) >= DRIFTED_CHECKS  # nothing was written, so the checks still fail
    assert not (tmp_path / "out").exists()
    writes = [op for op in result["api_calls"]["by_operation"] if ":Put" in op or ":Delete" in op]
    assert writes == []


def test_repair_drift_is_ignored_on_localstack_where_parity_writes_everything(moto, run, template_text):
    create_complete_stack()
    drift_data_bucket()
    result = run(post_deploy, aws_args(template_text, localstack_parity=True, repair_drift=False))
    assert "drift" not in result
    assert set(DRIFTED) <= set(result["parity"]["applied"]), result["parity"]
    assert result["failed_checks"] == []


def test_a_failed_repair_names_the_setting_and_reports_what_was_found(moto, run, template_text):
    from unittest import mock

    from botocore.exceptions import ClientError

    from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings

    create_complete_stack()
    drift_data_bucket()
    real_put = bucket_settings.put_setting

    def put(session, bucket, name, desired):
        if name == "encryption":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutBucketEncryption")
        return real_put(session, bucket, name, desired)

    with mock.patch.object(bucket_settings, "put_setting", put):
        result = run(post_deploy, aws_args(template_text, repair_drift=True))
    assert result["failed"] is True
    assert f"cannot apply encryption to bucket {DATA_BUCKET}" in result["msg"], result["msg"]
    assert result["drift"]["repaired"] == ["data_bucket.public_access_block"]
    assert result["drift"]["found"] == ["data_bucket.public_access_block", "data_bucket.encryption"]


def test_parity_and_the_drift_repair_find_the_same_bucket_settings(moto, run, template_text):
    """One comparison (drift_repair.reconcile_buckets) for both paths: what parity would apply to the buckets is
    what the drift comparison finds."""
    create_complete_stack(bucket_settings=False)
    args = aws_args(template_text, verify=False)
    parity = run(post_deploy, {**args, "localstack_parity": True}, check_mode=True)["parity"]["applied"]
    drift = run(post_deploy, args)["drift"]
    assert drift["found"] == [item for item in parity if item.split(".")[0] in ("data_bucket", "logging_bucket")]
    assert "data_bucket.encryption" in drift["found"] and drift["repaired"] == []
