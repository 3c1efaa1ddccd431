# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import shlex
import subprocess

from tap_moto_stack import STACK
from tap_moto_stack import create_stack

from ansible_collections.tap.ebook_storage.plugins.modules import stack_outputs


def test_reads_outputs_parameters_status_and_tags(moto, run):
    outputs = create_stack()
    result = run(stack_outputs, {"stack_name": STACK})
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["outputs"] == outputs
    assert result["outputs"]["EnvironmentName"] == "dev"
    assert {o["OutputKey"] for o in result["stack_outputs"]} == set(outputs)
    assert all(set(o) <= {"OutputKey", "OutputValue", "Description", "ExportName"} for o in result["stack_outputs"])
    assert result["parameters"]["Environment"] == "dev"
    assert result["status"] == "CREATE_COMPLETE"
    assert result["tags"] == {"Project": "ebook-storage"}
    assert result["stack_id"].startswith("arn:aws:cloudformation:us-east-1:")
    assert "files" not in result


def test_writes_files_once(moto, run, tmp_path):
    create_stack()
    dest = tmp_path / "cfn-outputs"
    first = run(stack_outputs, {"stack_name": STACK, "dest": str(dest)})
    assert first["changed"] is True
    env = first["outputs"]["EnvironmentName"]
    assert sorted(first["files"]["changed"]) == sorted(
        ["flat-outputs.json", "stack-outputs.json", f"{env}/flat-outputs.json", f"{env}/stack-outputs.json",
         f"{env}/outputs.env"]
    )
    raw = json.loads((dest / "stack-outputs.json").read_text())
    flat = json.loads((dest / "flat-outputs.json").read_text())
    assert raw == first["stack_outputs"]
    assert flat == first["outputs"]
    assert first["files"]["environment_dir"] == str(dest / env)
    assert json.loads((dest / env / "flat-outputs.json").read_text()) == flat
    assert json.loads((dest / env / "stack-outputs.json").read_text()) == raw
    assert not [p for d in (dest, dest / env) for p in os.listdir(d) if p.startswith(".tmp-")]

    second = run(stack_outputs, {"stack_name": STACK, "dest": str(dest)})
    assert second["changed"] is False
    assert second["files"]["changed"] == []

    (dest / "flat-outputs.json").write_text("{}\n")
    third = run(stack_outputs, {"stack_name": STACK, "dest": str(dest)})
    assert third["changed"] is True
    assert third["files"]["changed"] == ["flat-outputs.json"]
    assert json.loads((dest / "flat-outputs.json").read_text()) == flat


def test_outputs_env_is_sourceable(moto, run, tmp_path):
    """The per-environment outputs.env gives every output as a shell variable, quoted for the shell."""
    create_stack()
    dest = tmp_path / "cfn-outputs"
    result = run(stack_outputs, {"stack_name": STACK, "dest": str(dest)})
    env_file = dest / result["outputs"]["EnvironmentName"] / "outputs.env"
    script = f". {shlex.quote(str(env_file))} && env -0 | grep -z -E '^(EbooksBucketName|EncryptionKeyArn)='"
    shown = subprocess.run(["bash", "-c", "set -a; " + script], capture_output=True, text=True, check=True).stdout
    values = dict(item.split("=", 1) for item in shown.split("\0") if item)
    assert values == {k: result["outputs"][k] for k in ("EbooksBucketName", "EncryptionKeyArn")}


def test_check_mode_writes_nothing(moto, run, tmp_path):
    create_stack()
    dest = tmp_path / "out"
    result = run(stack_outputs, {"stack_name": STACK, "dest": str(dest)}, check_mode=True)
    assert result["changed"] is True
    assert not dest.exists()


def test_missing_stack_names_stack_region_and_endpoint(moto, run):
    result = run(stack_outputs, {"stack_name": "nope", "region": "eu-west-1"})
    assert result["failed"] is True
    assert result["msg"] == "stack nope does not exist in region eu-west-1 (endpoint the default AWS endpoint)"


def test_missing_stack_message_shows_the_endpoint(moto, run):
    import boto3
    from unittest import mock

    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "Stack with id nope does not exist"}}, "DescribeStacks"
    )
    with mock.patch.object(boto3.session.Session, "client") as client:
        client.return_value.describe_stacks.side_effect = error
        result = run(stack_outputs, {"stack_name": "nope", "endpoint_url": "http://127.0.0.1:4566"})
    assert result["msg"] == "stack nope does not exist in region us-east-1 (endpoint http://127.0.0.1:4566)"


def test_other_errors_fail_naming_the_stack(moto, run):
    from unittest import mock

    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeStacks")
    with mock.patch("botocore.client.BaseClient._make_api_call", side_effect=error):
        result = run(stack_outputs, {"stack_name": STACK})
    assert result["failed"] is True
    assert result["msg"].startswith(f"cannot describe stack {STACK}: ")
