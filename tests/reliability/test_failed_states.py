"""Issue "reliability", case 2: a stack left in a failed state by an earlier failure.

What roles/ebook_stack/tasks/stack_state.yml and failed_state.yml promise: in dev and test the play shows the
reason, deletes the stack (the data bucket and the key are retained) and creates it again; in prod it stops
before any change and says what to do.

The states are made for real on the deploy tests' LocalStack where LocalStack can reach them:

* ROLLBACK_COMPLETE: a CREATE change set whose template fails (LocalStack's change-set executor ends a failed
  create in ROLLBACK_COMPLETE);
* CREATE_FAILED: CreateStack with the same template (LocalStack's CreateStack ends in CREATE_FAILED, where AWS
  would roll back to ROLLBACK_COMPLETE);
* DELETE_FAILED: LocalStack 2026.3.0 never leaves a stack in it (its DeleteStack worker records a resource
  that fails to delete, then sets DELETE_COMPLETE anyway): a proxy between the role and LocalStack reports
  DELETE_FAILED for a real, working stack. Everything else the role does is real.

UPDATE_ROLLBACK_FAILED needs a LocalStack whose settings the tests may switch: see test_localstack_faults.py.
"""

from __future__ import annotations

import pytest
from reliability_support import FAILURE_REASON, STUB_TEMPLATE, FaultProxy, create_failed_stack, prod_deploy

from tests.support.aws import client, describe_stack, stack_fingerprint, stack_name, stack_outputs, wait_stack


PROD = stack_name("prod")
RUNBOOK = "docs/runbooks/deploy-environment.md"


@pytest.mark.parametrize("state", ["ROLLBACK_COMPLETE", "CREATE_FAILED", "DELETE_FAILED"])
def test_prod_stack_in_failed_state_stops_before_any_change(state, shared_endpoint, shared_prod_library, ansible):
    cfn = client(shared_endpoint, "cloudformation")
    try:
        if state == "DELETE_FAILED":
            cfn.create_stack(StackName=PROD, TemplateBody=STUB_TEMPLATE)
            assert wait_stack(cfn, PROD)["StackStatus"] == "CREATE_COMPLETE"
        else:
            create_failed_stack(cfn, PROD, state)
        before = stack_fingerprint(cfn, PROD)
        with FaultProxy(shared_endpoint, stack=PROD) as proxy:
            if state == "DELETE_FAILED":
                proxy.status = "DELETE_FAILED"
            run = prod_deploy(ansible, proxy.url, label=f"deploy-prod-{state}")
            assert state != "DELETE_FAILED" or proxy.rewritten, "the proxy never reported DELETE_FAILED"
        assert run.rc != 0, f"prod deploy went on with a stack in {state}:\n{run.describe()}"
        assert not run.has_traceback(), run.describe()
        message = run.failure_text()
        assert f"Stack {PROD} is in {state}. In prod this play does not delete stacks." in message, run.describe()
        assert "ROLLBACK_COMPLETE / DELETE_FAILED: delete the stack" in message and RUNBOOK in message, message
        if state != "DELETE_FAILED":
            assert FAILURE_REASON in message, f"the reason recorded by CloudFormation is not shown: {message}"
        assert not run.ran("Delete the failed stack"), run.describe()
        assert not run.ran("Create or update"), run.describe()
        assert stack_fingerprint(cfn, PROD) == before, f"the prod stack in {state} changed"
        problems = shared_prod_library.problems()
        assert not problems, f"e-books lost or changed ({shared_prod_library.summary()}): {problems}"
    finally:
        if describe_stack(cfn, PROD):
            cfn.delete_stack(StackName=PROD)
            wait_stack(cfn, PROD)


def test_test_stack_in_rollback_complete_is_recreated_and_keeps_the_ebooks(shared_test_stack, shared_endpoint):
    """The test stack was deleted (its data retained) and the next create failed: the deploy recovers."""
    cfn, s3 = client(shared_endpoint, "cloudformation"), client(shared_endpoint, "s3")
    ledger = shared_test_stack.ledger
    name = shared_test_stack.name
    old = describe_stack(cfn, name)
    shared_test_stack.old_keys.add(stack_outputs(old)["KmsKeyId"])
    cfn.delete_stack(StackName=name)
    assert wait_stack(cfn, name) is None
    assert s3.head_bucket(Bucket=ledger.bucket), "deleting the stack deleted the data bucket"
    failed = create_failed_stack(cfn, name, "ROLLBACK_COMPLETE")

    # Review never changes anything, not even a failed stack that a deploy would delete.
    before = stack_fingerprint(cfn, name)
    review = shared_test_stack.deploy({"ebook_stack_review": True}, label="review-test-rollback-complete")
    assert review.rc == 0, review.describe()
    said = review.tasks("Say what a deploy would do with the failed stack")
    assert said and "Review only, nothing was changed." in said[-1].data.get("msg", ""), review.describe()
    assert "deletes it and creates it again" in said[-1].data["msg"], said[-1].data["msg"]
    assert not review.ran("Delete the failed stack") and not review.ran("Create or update"), review.describe()
    assert stack_fingerprint(cfn, name) == before, "review mode changed the failed stack"

    run = shared_test_stack.deploy(label="deploy-test-rollback-complete")
    assert run.rc == 0, f"deploy.yml did not recover test from ROLLBACK_COMPLETE:\n{run.describe()}"
    shown = run.tasks("Show why the stack is recreated")
    assert shown, f"the play did not say why it recreates the stack:\n{run.describe()}"
    message = shown[-1].data.get("msg", "")
    assert f"{name} is in ROLLBACK_COMPLETE" in message and FAILURE_REASON in message, message
    assert "deleted and created again; retained buckets and keys keep their data" in message, message
    assert run.ran("Delete the failed stack"), run.describe()
    stack = describe_stack(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["StackId"] != failed["StackId"]
    assert stack_outputs(stack)["EbooksBucketName"] == ledger.bucket
    assert run.verification()["summary"]["failed"] == 0, run.failed_checks()
    problems = ledger.problems()
    assert not problems, f"e-books lost or changed ({ledger.summary()}): {problems}"
