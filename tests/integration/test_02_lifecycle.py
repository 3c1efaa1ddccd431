"""Issue "Deploy roles", done-when: the deploy lifecycle of dev and test through the playbooks.

dev and test are deployed side by side (at the same time), re-deployed without change, test's logging is
switched off, a parameter change is reviewed (review mode and --check) without executing it, and test is torn
down: refused while its bucket holds e-books, done with purge. prod's teardown is refused before any change.
dev stays deployed for the monitor and bad-input tests (the session tears it down at the end).
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.aws import (
    bucket_exists,
    bucket_names,
    bucket_versions,
    describe_stack,
    key_alias,
    key_state,
    purge_bucket,
    stack_name,
    stack_outputs,
    stack_parameters,
    template_outputs,
    wait_stack,
)
from tests.support.ebooks import sample_mobi, sample_pdf
from tests.support.environment import DUMMY_CREDENTIALS

ENVS = ("dev", "test")


def function_environment(aws, env):
    function = template_outputs(env)["StorageMonitoringFunctionName"]
    return aws("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]


def assert_deployed_and_verified(result, env):
    assert result.rc == 0, f"deploy of {env} failed:\n{result.describe()}"
    assert result.recap["failed"] == 0, result.describe()
    verification = result.verification()
    assert verification is not None, f"the deploy of {env} did not verify:\n{result.describe()}"
    assert verification["summary"]["failed"] == 0, f"verification of {env} failed: {result.failed_checks()}"
    skipped = [c["id"] for c in verification["checks"] if c["status"] == "skipped"]
    assert all(c.startswith("functional.") for c in skipped), f"checks skipped: {skipped}"
    assert verification["summary"]["passed"] >= 40, verification["summary"]


@pytest.fixture(scope="module")
def pair(deployments):
    """dev and test, deployed at the same time (or earlier in this session)."""
    return deployments.ensure(*ENVS)


def test_deploy_dev_and_test_side_by_side(pair, aws):
    cfn = aws("cloudformation")
    buckets = set()
    for env in ENVS:
        result = pair[env]
        assert_deployed_and_verified(result, env)
        assert result.recap["changed"] >= 1, f"first deploy of {env} reported no change:\n{result.describe()}"
        stack = describe_stack(cfn, stack_name(env))
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]
        assert stack_parameters(stack)["Environment"] == env
        outputs = stack_outputs(stack)
        assert (outputs["EbooksBucketName"], outputs["LoggingBucketName"]) == bucket_names(env)
        buckets.add(outputs["EbooksBucketName"])
        # The monitor of each environment points at its own bucket and topic.
        variables = function_environment(aws, env)
        assert variables["BUCKET_NAME"] == outputs["EbooksBucketName"]
        assert variables["SNS_TOPIC_ARN"] == outputs["SNSTopicArn"]
        assert variables["EXPECTED_KMS_KEY"] == outputs["EncryptionKeyArn"]
    assert len(buckets) == 2


def test_outputs_files_name_the_right_buckets(pair, aws, deployments):
    cfn = aws("cloudformation")
    for env in ENVS:
        folder = deployments.outputs_dir(env)
        raw = json.loads((folder / "stack-outputs.json").read_text())
        flat = json.loads((folder / "flat-outputs.json").read_text())
        live = describe_stack(cfn, stack_name(env))["Outputs"]
        assert isinstance(raw, list) and raw, raw
        assert all({"OutputKey", "OutputValue"} <= set(item) for item in raw), raw
        assert {o["OutputKey"]: o["OutputValue"] for o in raw} == {o["OutputKey"]: o["OutputValue"] for o in live}
        assert flat == {o["OutputKey"]: o["OutputValue"] for o in live}
        assert (flat["EbooksBucketName"], flat["LoggingBucketName"]) == bucket_names(env)
        assert flat["EnvironmentName"] == env


def test_rerun_changes_nothing(pair, deployments, aws):
    cfn = aws("cloudformation")
    before = {env: describe_stack(cfn, stack_name(env)) for env in ENVS}
    files_before = {env: (deployments.outputs_dir(env) / "flat-outputs.json").stat().st_mtime_ns for env in ENVS}
    results = dict(zip(ENVS, deployments.deploy(*ENVS), strict=True))
    for env in ENVS:
        result = results[env]
        assert_deployed_and_verified(result, env)
        assert result.recap["changed"] == 0, (
            f"re-run of {env} changed "
            f"{[n for n, _a, r in result.host_results() if r.get('changed')]}:\n{result.describe()}")
        after = describe_stack(cfn, stack_name(env))
        assert after.get("LastUpdatedTime") == before[env].get("LastUpdatedTime"), "the stack was updated"
        assert (deployments.outputs_dir(env) / "flat-outputs.json").stat().st_mtime_ns == files_before[env]


def test_logging_off_on_test(pair, deployments, aws):
    s3, cfn = aws("s3"), aws("cloudformation")
    (result,) = deployments.deploy("test", extra_vars={"ebook_stack_enable_logging": False})
    assert_deployed_and_verified(result, "test")
    assert result.recap["changed"] >= 1, result.describe()
    checks = {c["id"]: c for c in result.verification()["checks"]}
    assert checks["bucket.logging"]["status"] == "passed", checks["bucket.logging"]
    assert not [c for c in checks if c.startswith("logging_bucket")], "still verifies an access-log bucket"

    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket_names("test")[0]), "access logging still on"
    stack = describe_stack(cfn, stack_name("test"))
    assert stack_parameters(stack)["EnableLogging"] == "false"
    assert "LoggingBucketName" not in stack_outputs(stack)
    flat = json.loads((deployments.outputs_dir("test") / "flat-outputs.json").read_text())
    assert "LoggingBucketName" not in flat
    assert function_environment(aws, "test")["LOGGING_BUCKET"] == ""
    # dev, beside it, is untouched.
    dev_data, dev_logs = bucket_names("dev")
    dev_logging = s3.get_bucket_logging(Bucket=dev_data).get("LoggingEnabled") or {}
    assert dev_logging.get("TargetBucket") == dev_logs

    # The updated stack is as stable as a created one: the same run again changes nothing.
    (again,) = deployments.deploy("test", extra_vars={"ebook_stack_enable_logging": False})
    assert_deployed_and_verified(again, "test")
    assert again.recap["changed"] == 0, (
        f"re-run after the update changed {[n for n, _a, r in again.host_results() if r.get('changed')]}:\n"
        f"{again.describe()}")


@pytest.mark.parametrize("mode", ["review", "check"])
def test_review_shows_the_change_and_changes_nothing(mode, pair, deployments, aws):
    cfn = aws("cloudformation")
    before = describe_stack(cfn, stack_name("test"))
    env_before = function_environment(aws, "test")
    extra = {"ebook_stack_enable_logging": False, "ebook_stack_parameters": {"ExpectedDailyUploads": 10}}
    if mode == "review":
        extra["ebook_stack_review"] = True
    (result,) = deployments.deploy("test", extra_vars=extra, check=mode == "check")
    assert result.rc == 0, result.describe()
    assert result.recap["failed"] == 0, result.describe()
    shown = [line for r in result.find(name="Show what would change") for line in r["msg"]]
    assert shown, f"no review output:\n{result.describe()}"
    review = "\n".join(shown)
    assert "nothing was executed" in review, review
    assert "StorageMonitoringFunction" in review and "Modify" in review, f"the change is not listed:\n{review}"
    assert any(line.split()[:1] == ["ExpectedDailyUploads"] and line.endswith("-> 10") for line in shown), review
    deployed = [r for r in result.find(name="Create or update") if not r.get("skipped")]
    assert not deployed, "the stack was deployed in review mode"

    after = describe_stack(cfn, stack_name("test"))
    assert stack_parameters(after) == stack_parameters(before)
    assert stack_parameters(after)["ExpectedDailyUploads"] != "10"
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
    assert function_environment(aws, "test") == env_before
    assert not cfn.list_change_sets(StackName=stack_name("test")).get("Summaries"), "a change set was left behind"


def test_teardown_of_test_refused_while_it_holds_ebooks_then_purged(pair, deployments, aws):
    s3, cfn, kms = aws("s3"), aws("cloudformation"), aws("kms")
    outputs = stack_outputs(describe_stack(cfn, stack_name("test")))
    bucket = outputs["EbooksBucketName"]
    books = {"keep/dune.pdf": sample_pdf("Dune"), "keep/emma.mobi": sample_mobi("Emma")}
    for key, body in books.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=outputs["EncryptionKeyArn"])
    versions_before, _ = bucket_versions(s3, bucket)

    refused = deployments.teardown("test", purge=False)
    assert refused.rc != 0, f"teardown deleted a bucket holding e-books:\n{refused.describe()}"
    assert refused.recap["changed"] == 0, refused.describe()
    message = "\n".join(refused.failures())
    assert "ebook_stack_purge_data=true" in message and bucket in message, refused.describe()
    assert "2 e-books" in message, message
    assert describe_stack(cfn, stack_name("test")) is not None, "the stack was deleted"
    versions_after, markers = bucket_versions(s3, bucket)
    assert not markers and {v["VersionId"] for v in versions_after} == {v["VersionId"] for v in versions_before}
    for key, body in books.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body

    purged = deployments.teardown("test", purge=True)
    assert purged.rc == 0, purged.describe()
    assert describe_stack(cfn, stack_name("test")) is None
    assert not bucket_exists(s3, bucket)
    assert not bucket_exists(s3, bucket_names("test")[1])
    assert key_state(kms, outputs["KmsKeyId"]) == "PendingDeletion"
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert key_alias("test") not in aliases
    # dev, beside it, is untouched.
    assert describe_stack(cfn, stack_name("dev"))["StackStatus"].endswith("_COMPLETE")
    assert bucket_exists(s3, bucket_names("dev")[0])


@pytest.fixture
def prod_lookalike(aws):
    """A stack and a bucket with prod's names (a tiny stand-in, not the template), removed afterwards."""
    cfn, s3 = aws("cloudformation"), aws("s3")
    name, (bucket, _logs) = stack_name("prod"), bucket_names("prod")
    topic = f"itest-prod-lookalike-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic}}},
        "Outputs": {"EbooksBucketName": {"Value": bucket}}}))
    wait_stack(cfn, name)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="catalogue/prod.pdf", Body=sample_pdf("prod"))
    yield name
    if describe_stack(cfn, name):
        cfn.delete_stack(StackName=name)
        wait_stack(cfn, name)
    purge_bucket(s3, bucket)


def test_teardown_of_prod_refused_before_any_change(prod_lookalike, run_playbook, aws, localstack_endpoint):
    cfn, s3 = aws("cloudformation"), aws("s3")
    before = describe_stack(cfn, prod_lookalike)
    result = run_playbook("playbooks/teardown.yml", "inventories/prod", extra_vars={
        # LocalStack instead of AWS, and dummy credentials: this run cannot reach an AWS account.
        "ebook_stack_endpoint_url": localstack_endpoint,
        "ebook_stack_aws_env": DUMMY_CREDENTIALS,
        "ebook_stack_purge_data": True,
    })
    assert result.rc != 0, f"prod teardown was not refused:\n{result.describe()}"
    assert result.recap["changed"] == 0, result.describe()
    assert "refuses prod" in "\n".join(result.failures()), result.describe()
    ran = result.task_names()
    assert not [n for n in ran if "Delete" in n or "Count what" in n or "Schedule the deletion" in n], ran
    after = describe_stack(cfn, prod_lookalike)
    assert after is not None and after["StackId"] == before["StackId"]
    bucket = bucket_names("prod")[0]
    assert s3.get_object(Bucket=bucket, Key="catalogue/prod.pdf")["Body"].read() == sample_pdf("prod")
