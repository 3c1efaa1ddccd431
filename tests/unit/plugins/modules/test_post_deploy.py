# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""post_deploy: parity, outputs and verification in one run, each as its own module does it."""

from __future__ import annotations

import json

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


def test_without_parity_or_verification_it_only_reads_the_outputs(moto, run, template_text):
    create_complete_stack()
    result = run(post_deploy, {"stack_name": STACK, "template_body": template_text, "verify": False})
    assert result["changed"] is False
    assert "parity" not in result and "checks" not in result and "files" not in result
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
