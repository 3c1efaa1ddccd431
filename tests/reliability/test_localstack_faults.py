"""Issue "reliability", case 1 (and case 2's UPDATE_ROLLBACK_FAILED): faults of LocalStack itself.

These tests own their LocalStack (``RELIABILITY_LOCALSTACK_PORT``, default 4571): they kill it, pause it and
restart it, and switch one of its settings. They run in order on it:

1. LocalStack is killed while the stack is CREATE_IN_PROGRESS: the deploy fails at once, naming the endpoint.
2. LocalStack is started again: its state was in memory, so everything is gone; the next deploy.yml creates
   it all again without any manual step.
3. LocalStack stops answering (SIGSTOP) when the deploy reaches its CloudFormation task, during an update of
   a stack that holds e-books: the deploy fails within a bounded time, naming the endpoint; once LocalStack
   answers again, the next deploy applies the update; every e-book version is still there, byte for byte.
4. The dev stack is put into UPDATE_ROLLBACK_FAILED for real: deploy.yml shows why, deletes it and creates it
   again; the e-books are still there. In prod, the same state stops the play before any change.
"""

from __future__ import annotations

import json
import signal
import time

from reliability_support import STUB_TEMPLATE, make_update_rollback_failed, outputs_file, prod_deploy, prod_library

from tests.support.aws import (
    client,
    describe_stack,
    stack_fingerprint,
    stack_name,
    stack_outputs,
    stack_parameters,
    wait_settled,
    wait_stack,
)


DEV = stack_name("dev")
# A killed endpoint refuses connections: botocore gives up after its attempts within seconds.
KILLED_ENDPOINT_BOUND = 60
# A paused endpoint accepts connections and never answers. The role promises that an endpoint that does not
# answer stops the play "within seconds" (roles/ebook_stack/defaults/main.yml): 90 s leaves room for a read
# timeout of 15 s and four attempts (max_attempts 3 counts retries) on a slow machine.
HUNG_ENDPOINT_BOUND = 90


def test_localstack_killed_while_create_in_progress_fails_fast_naming_the_endpoint(own_localstack, ansible):
    own_localstack.ensure_running()
    cfn = client(own_localstack.endpoint, "cloudformation")
    assert describe_stack(cfn, DEV) is None, "the tests' LocalStack is not fresh"
    run = ansible.start("deploy.yml", "inventories/dev", endpoint=own_localstack.endpoint, label="deploy-dev-killed")
    status, deadline = None, time.monotonic() + 240
    while status != "CREATE_IN_PROGRESS":
        assert run.alive(), f"the deploy ended before the stack was CREATE_IN_PROGRESS:\n{run.wait(1).describe()}"
        assert time.monotonic() < deadline, "the stack was never seen CREATE_IN_PROGRESS"
        stack = describe_stack(cfn, DEV)
        status = stack and stack["StackStatus"]
        assert status in (None, "CREATE_IN_PROGRESS"), f"missed CREATE_IN_PROGRESS: the stack is {status}"
        time.sleep(0.1)
    own_localstack.kill()
    killed_at = time.monotonic()
    result = run.wait(KILLED_ENDPOINT_BOUND + 60)
    took = (result.seconds + run.started) - killed_at
    assert result.rc != 0 and not result.timed_out, result.describe()
    assert took <= KILLED_ENDPOINT_BOUND, f"the deploy took {took:.0f} s to notice that LocalStack was gone"
    failure = result.failures()[-1]
    assert "Create or update" in failure.task, f"failed elsewhere than the CloudFormation task:\n{result.describe()}"
    assert own_localstack.endpoint in result.failure_text(), (
        f"the message does not name the endpoint {own_localstack.endpoint}:\n{result.describe()}")
    assert not result.has_traceback(), result.describe()


def test_next_deploy_after_localstack_restart_recreates_everything(own_localstack, own_dev, ansible):
    own_localstack.ensure_running()  # what `make start` / `make deploy` do: start it again
    cfn, s3 = client(own_localstack.endpoint, "cloudformation"), client(own_localstack.endpoint, "s3")
    # LocalStack keeps its state in memory: the half-made stack and everything else went with the process.
    assert describe_stack(cfn, DEV) is None
    assert not s3.list_buckets().get("Buckets"), "a restarted LocalStack still holds buckets"
    run = own_dev.deploy(label="deploy-dev-after-restart")
    assert run.rc == 0, f"the deploy after the restart did not recover:\n{run.describe()}"
    assert run.ran("Create or update"), run.describe()
    assert not run.ran("Delete the failed stack"), "nothing was left to delete after a restart"
    verification = run.verification()
    assert verification and verification["summary"]["failed"] == 0, f"verification failed: {run.failed_checks()}"
    stack = describe_stack(cfn, DEV)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    written = json.loads(outputs_file(ansible).read_text())
    assert written["EbooksBucketName"] == stack_outputs(stack)["EbooksBucketName"]
    own_dev.fill()  # the library that the next tests' faults must not lose


def test_endpoint_that_stops_answering_mid_update_fails_in_bounded_time_and_next_deploy_recovers(
        own_localstack, own_dev, ansible):
    own_dev.ensure_stack()
    ledger = own_dev.ledger
    expected_uploads = "3300"  # reaches the function's environment (LocalStack cannot update an Events rule)
    paused = {}

    def pause_at_cloudformation_task(line, running):
        if not paused and line.startswith("TASK [") and f"Create or update {DEV}]" in line:
            own_localstack.signal(signal.SIGSTOP)
            paused["at"] = time.monotonic()

    change = {"ebook_stack_parameters": {"ExpectedDailyUploads": expected_uploads}}
    run = ansible.start("deploy.yml", "inventories/dev", change, endpoint=own_localstack.endpoint,
                        on_line=pause_at_cloudformation_task, label="deploy-dev-paused")
    try:
        reached = run.wait_for_line(rf"^TASK \[.*Create or update {DEV}\]", 240)
        assert reached, f"the deploy never reached its CloudFormation task:\n{run.wait(1).describe()}"
        result = run.wait(HUNG_ENDPOINT_BOUND)
    finally:
        if paused:
            own_localstack.signal(signal.SIGCONT)
            wait_settled(own_dev.cfn(), DEV)
    took = (result.seconds + run.started) - paused["at"]
    # Every finding is collected: the recovery and the e-books are checked even when the bound was missed.
    findings = []
    if result.timed_out:
        findings.append(
            f"the deploy was still waiting {HUNG_ENDPOINT_BOUND} s after the endpoint stopped answering (killed "
            "then): botocore's read timeout is 60 s a call with 4 attempts (max_attempts 3 = 3 retries), and the "
            "role sets only connect_timeout (roles/ebook_stack/tasks/main.yml)")
    else:
        if result.rc == 0:
            findings.append("the deploy succeeded although the endpoint did not answer")
        if took > HUNG_ENDPOINT_BOUND:
            findings.append(f"the deploy took {took:.0f} s to fail (bound {HUNG_ENDPOINT_BOUND} s)")
        if own_localstack.endpoint not in result.failure_text():
            findings.append(f"the message does not name the endpoint {own_localstack.endpoint}")
        if result.has_traceback():
            findings.append("a Python traceback instead of a message")

    # LocalStack answers again: the next run of the same command applies the change.
    again = own_dev.deploy(change, label="deploy-dev-after-pause")
    stack = describe_stack(own_dev.cfn(), DEV)
    if again.rc != 0 or (again.verification() or {}).get("summary", {}).get("failed") != 0:
        findings.append(f"the deploy after the pause did not recover:\n{again.describe()}")
    elif stack_parameters(stack)["ExpectedDailyUploads"] != expected_uploads:
        findings.append("the change was not applied: "
                        f"ExpectedDailyUploads={stack_parameters(stack)['ExpectedDailyUploads']}")
    else:
        function = client(own_localstack.endpoint, "lambda").get_function_configuration(
            FunctionName=stack_outputs(stack)["StorageMonitoringFunctionName"])
        if function["Environment"]["Variables"]["EXPECTED_DAILY_UPLOADS"] != expected_uploads:
            findings.append("the live function does not have the change")
    problems = ledger.problems()
    if problems:
        findings.append(f"e-books lost or changed ({ledger.summary()}): {problems}")
    assert not findings, "\n".join(findings) + f"\n\nthe paused run:\n{result.describe()}"


def test_dev_stack_in_update_rollback_failed_is_recreated_and_keeps_the_ebooks(own_localstack, own_dev):
    own_dev.ensure_stack()
    ledger = own_dev.ledger
    cfn = own_dev.cfn()
    failed = make_update_rollback_failed(own_localstack.endpoint, DEV)
    reason = failed.get("StackStatusReason") or ""
    run = own_dev.deploy(label="deploy-dev-update-rollback-failed")
    assert run.rc == 0, f"deploy.yml did not recover dev from UPDATE_ROLLBACK_FAILED:\n{run.describe()}"
    shown = run.tasks("Show why the stack is recreated")
    assert shown, f"the play did not say why it recreates the stack:\n{run.describe()}"
    message = shown[-1].data["msg"]
    assert f"{DEV} is in UPDATE_ROLLBACK_FAILED" in message, message
    assert reason[:60] in message, f"the reason recorded by CloudFormation ({reason[:60]}...) is not shown: {message}"
    assert run.ran("Delete the failed stack"), run.describe()
    stack = describe_stack(cfn, DEV)
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["StackId"] != failed["StackId"], (
        f"the stack was not created again: {stack['StackStatus']} {stack['StackId']}")
    assert run.verification()["summary"]["failed"] == 0, run.failed_checks()
    problems = ledger.problems()
    assert not problems, f"e-books lost or changed ({ledger.summary()}): {problems}"


def test_prod_stack_in_update_rollback_failed_stops_before_any_change(own_localstack, ansible):
    endpoint = own_localstack.endpoint
    own_localstack.ensure_running()
    cfn = client(endpoint, "cloudformation")
    library, _key = prod_library(endpoint)
    name = stack_name("prod")
    cfn.create_stack(StackName=name, TemplateBody=STUB_TEMPLATE)
    assert wait_stack(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    make_update_rollback_failed(endpoint, name)
    before = stack_fingerprint(cfn, name)
    run = prod_deploy(ansible, endpoint, label="deploy-prod-update-rollback-failed")
    assert run.rc != 0, f"prod deploy went on with a stack in UPDATE_ROLLBACK_FAILED:\n{run.describe()}"
    message = run.failure_text()
    assert f"Stack {name} is in UPDATE_ROLLBACK_FAILED. In prod this play does not delete stacks." in message, message
    assert f"aws cloudformation continue-update-rollback --stack-name {name}" in message, message
    assert "docs/runbooks/deploy-environment.md" in message, message
    assert not run.ran("Delete the failed stack") and not run.ran("Create or update"), run.describe()
    assert not run.has_traceback(), run.describe()
    assert stack_fingerprint(cfn, name) == before, "the prod stack changed although the play stopped"
    problems = library.problems()
    assert not problems, f"e-books lost or changed ({library.summary()}): {problems}"
