# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""preflight: each check in order, the first failure named; the endpoint probe against real sockets."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from unittest import mock

import boto3
import pytest
from tap_moto_stack import REGION
from tap_moto_stack import DATA_BUCKET
from tap_moto_stack import LOG_BUCKET
from tap_moto_stack import STACK
from tap_moto_stack import create_stack

from ansible_collections.tap.ebook_storage.plugins.module_utils import preflight_checks
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.modules import preflight


def test_credentials_and_an_absent_stack(moto, run):
    result = run(preflight, {"stack_name": STACK})
    assert result["failed"] is False, result
    assert result["changed"] is False
    assert result["caller"]["account"] == "123456789012"
    assert result["target"] == {"endpoint": None, "is_localstack": False, "localstack_version": None}
    assert result["stack"]["exists"] is False and result["stack"]["status"] == "NONE"
    assert result["stack"]["failed"] is False and result["stack"]["in_progress"] is False


def test_a_deployed_stack_is_read_with_its_outputs(moto, run):
    outputs = create_stack()
    result = run(preflight, {"stack_name": STACK})
    stack = result["stack"]
    assert stack["exists"] is True and stack["status"] == "CREATE_COMPLETE"
    assert stack["outputs"] == outputs
    assert stack["parameters"]["Environment"] == "dev"
    assert stack["failure_reasons"] == [] and stack["failed"] is False


def test_a_failed_stack_comes_with_its_reasons(moto, run):
    create_stack()
    failed = {"StackName": STACK, "StackId": "id", "StackStatus": "ROLLBACK_COMPLETE",
              "StackStatusReason": "The following resource(s) failed to create: [Bucket]."}
    events = {"StackEvents": [
        {"ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "Bucket already exists"},
        {"ResourceStatus": "CREATE_COMPLETE", "ResourceStatusReason": "fine"},
        {"ResourceStatus": "ROLLBACK_FAILED", "ResourceStatusReason": "Bucket already exists"},
    ]}
    answers = {"DescribeStacks": {"Stacks": [failed]}, "DescribeStackEvents": events}
    real = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call

    def answer(client, operation, params):
        return answers[operation] if operation in answers else real(client, operation, params)

    with mock.patch("botocore.client.BaseClient._make_api_call", answer):
        result = run(preflight, {"stack_name": STACK})
    assert result["stack"]["failed"] is True
    assert result["stack"]["failure_reasons"] == [failed["StackStatusReason"], "Bucket already exists"]


def test_a_stack_of_an_unexecuted_change_set_is_not_waited_for(moto, run):
    """REVIEW_IN_PROGRESS (a failed IMPORT leaves it): nothing runs, so no wait; the deploy must handle it."""
    review = {"StackName": STACK, "StackId": "id", "StackStatus": "REVIEW_IN_PROGRESS"}
    real = __import__("botocore.client", fromlist=["BaseClient"]).BaseClient._make_api_call

    def answer(client, operation, params):
        if operation == "DescribeStacks":
            return {"Stacks": [review]}
        if operation == "DescribeStackEvents":
            return {"StackEvents": []}
        return real(client, operation, params)

    with mock.patch("botocore.client.BaseClient._make_api_call", answer):
        result = run(preflight, {"stack_name": STACK})
    assert result["stack"]["in_progress"] is False
    assert result["stack"]["failed"] is True


def test_the_external_key_must_exist_and_be_enabled(moto, run):
    missing = run(preflight, {"kms_key_alias": "alias/nope"})
    assert missing["failed"] is True and missing["preflight_failure"] == "kms_key"
    assert "alias/nope: no key has this alias in us-east-1" in missing["msg"]

    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/ebooks-test", TargetKeyId=key_id)
    enabled = run(preflight, {"kms_key_alias": "alias/ebooks-test"})
    assert enabled["failed"] is False, enabled
    assert enabled["kms_key"]["key_id"] == key_id and enabled["kms_key"]["key_state"] == "Enabled"

    kms.disable_key(KeyId=key_id)
    disabled = run(preflight, {"kms_key_alias": "alias/ebooks-test", "stack_name": STACK})
    assert disabled["failed"] is True and disabled["preflight_failure"] == "kms_key"
    assert f"the key {key_id} behind alias/ebooks-test is Disabled" in disabled["msg"]
    assert "stack" not in disabled  # the checks stop at the first failure


def test_credentials_that_do_not_work_are_named(aws_env, run):
    def deny(client, operation, params):
        from botocore.exceptions import ClientError
        raise ClientError({"Error": {"Code": "InvalidClientTokenId", "Message": "bad token"}}, operation)

    with mock.patch("botocore.client.BaseClient._make_api_call", deny):
        result = run(preflight, {"stack_name": STACK})
    assert result["failed"] is True and result["preflight_failure"] == "credentials"
    assert "InvalidClientTokenId: bad token" in result["msg"]
    assert "stack" not in result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_endpoint():
    """A local HTTP server: / answers 404 (as S3 endpoints may), /_localstack/health as LocalStack does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path == "/_localstack/health":
                body = json.dumps({"version": "2026.3.0", "services": {}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_any_http_answer_counts_and_localstack_is_recognised(http_endpoint):
    preflight_checks.probe_endpoint(http_endpoint, 2)  # 404 on / is an answer
    assert preflight_checks.localstack_version(http_endpoint, 2) == "2026.3.0"
    assert preflight_checks.localstack_version(http_endpoint + "/other", 2) is None


def test_an_endpoint_that_does_not_answer_stops_the_module(aws_env, run):
    url = f"http://127.0.0.1:{free_port()}"
    result = run(preflight, {"endpoint_url": url, "aws_config": {"connect_timeout": 1}})
    assert result["failed"] is True and result["preflight_failure"] == "endpoint"
    assert f"{url} does not answer" in result["msg"]
    assert "caller" not in result


def test_an_unknown_profile_is_a_credentials_failure(aws_env, run, tmp_path, monkeypatch):
    # amazon.aws fails the module while making the client; the failure still names the check.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    result = run(preflight, {"profile": "no-such-profile", "stack_name": STACK})
    assert result["failed"] is True and result["preflight_failure"] == "credentials", result
    assert "no-such-profile" in result["msg"]


def test_buckets_the_stack_would_create_over_are_found(moto, run, template_text):
    """A retained data bucket and no stack (it was deleted): a create on AWS would fail half way."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=DATA_BUCKET)
    args = {"stack_name": STACK, "template_body": template_text, "parameters": {"Environment": "dev"}}
    result = run(preflight, args)
    assert result["failed"] is False, result
    assert result["stack"]["unowned_buckets"] == [
        {"logical_id": "EbooksS3Bucket", "bucket": DATA_BUCKET, "owner": "this account"}]


def test_buckets_the_stack_holds_are_not_reported(moto, run, template_text):
    create_stack()
    args = {"stack_name": STACK, "template_body": template_text, "parameters": {"Environment": "dev"}}
    result = run(preflight, args)
    assert result["stack"]["unowned_buckets"] == [], result["stack"]


def test_a_log_bucket_left_by_logging_turned_off_is_found(moto, run, template_text):
    create_stack(parameters={"EnableLogging": "false"})
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=LOG_BUCKET)
    args = {"stack_name": STACK, "template_body": template_text,
            "parameters": {"Environment": "dev", "EnableLogging": "true"}}
    result = run(preflight, args)
    assert [b["logical_id"] for b in result["stack"]["unowned_buckets"]] == ["LoggingBucket"], result["stack"]


def test_the_import_template_adds_only_the_buckets(moto, run, template_text):
    """The whole import is in test_preflight_adoption.py; here: an existing stack gets only the bucket added."""
    create_stack(parameters={"EnableLogging": "false"})
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=LOG_BUCKET)
    args = {"stack_name": STACK, "template_body": template_text,
            "parameters": {"Environment": "dev", "EnableLogging": "true"}}
    stack = run(preflight, args)["stack"]
    deployed = boto3.client("cloudformation", region_name=REGION).get_template(StackName=STACK)["TemplateBody"]
    resources = stack["import_template"]["Resources"]
    assert set(resources) - set(load_template(deployed)["Resources"]) == {"LoggingBucket"}
    logs = resources["LoggingBucket"]
    assert logs["Type"] == "AWS::S3::Bucket" and "Condition" not in logs
    assert logs["DeletionPolicy"] == "Retain" and logs["UpdateReplacePolicy"] == "Retain"
    # The bucket's name as the template writes it, not a literal: the next deploy must not read a replacement.
    declared = load_template(template_text)["Resources"]["LoggingBucket"]["Properties"]["BucketName"]
    assert logs["Properties"]["BucketName"] == declared and isinstance(declared, dict)
    assert stack["resources_to_import"] == [{"ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "LoggingBucket",
                                             "ResourceIdentifier": {"BucketName": LOG_BUCKET}}]
