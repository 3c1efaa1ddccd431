"""Issue "reliability", case 3: two deploys of the same environment at once.

On AWS an update takes minutes, and the second deploy finds the stack *_IN_PROGRESS: the role waits
(roles/ebook_stack/tasks/stack_state.yml) and then applies its own change. On LocalStack 2026.3.0 an update of
this stack is over in about 0.1 s and LocalStack accepts an UpdateStack while another one runs (AWS refuses
it), so two plain runs would only race. Here both deploys start at the same moment; the second one talks to
LocalStack through a proxy that reports the stack UPDATE_IN_PROGRESS until the first deploy has finished, the
view it would have on AWS. Every call is real; only that status is the proxy's.
"""

from __future__ import annotations

from reliability_support import FaultProxy

from tests.support.aws import client, describe_stack, stack_outputs, stack_parameters


WAIT_TASK = "Wait while another deploy is in progress"


def uploads(expected):
    return {"ebook_stack_parameters": {"ExpectedDailyUploads": expected}}


def test_two_deploys_at_once_the_second_waits_then_applies_its_change(shared_test_stack, shared_endpoint, ansible):
    ledger = shared_test_stack.ledger
    # ExpectedDailyUploads reaches the function's environment; LocalStack's AWS::Events::Rule cannot be updated
    # (its provider raises NotImplementedError), so a schedule change would fail there for another reason.
    first, second = "3100", "3200"
    with FaultProxy(shared_endpoint, stack=shared_test_stack.name) as proxy:
        proxy.status = "UPDATE_IN_PROGRESS"
        run_a = ansible.start("deploy.yml", "inventories/test", uploads(first), endpoint=shared_endpoint,
                              label="deploy-test-concurrent-first")
        run_b = ansible.start("deploy.yml", "inventories/test", uploads(second), endpoint=proxy.url,
                              label="deploy-test-concurrent-second")
        try:
            waiting = run_b.wait_for_line(rf"^FAILED - RETRYING: .*{WAIT_TASK}", 240)
            result_a = run_a.wait(300)
        finally:
            proxy.status = None  # from now on the second deploy sees the real status
        result_b = run_b.wait(300)

    assert result_a.rc == 0, f"the first deploy failed:\n{result_a.describe()}"
    assert not result_a.ran(WAIT_TASK), "the first deploy waited although nothing else was running"
    assert waiting, f"the second deploy did not wait for the first one:\n{result_b.describe()}"
    assert result_b.rc == 0, f"the second deploy failed after waiting:\n{result_b.describe()}"
    waited = result_b.tasks(WAIT_TASK)[-1].data
    assert waited.get("attempts", 0) >= 2, f"the wait task did not poll again: {waited}"
    assert not result_b.has_traceback() and not result_a.has_traceback()

    # The second deploy ran its update after the first had finished: its change is the one that stays, the
    # live function has it, and its verification (the last thing that ran) passed.
    stack = describe_stack(client(shared_endpoint, "cloudformation"), shared_test_stack.name)
    assert stack["StackStatus"].endswith("_COMPLETE"), stack["StackStatus"]
    assert stack_parameters(stack)["ExpectedDailyUploads"] == second
    function = client(shared_endpoint, "lambda").get_function_configuration(
        FunctionName=stack_outputs(stack)["StorageMonitoringFunctionName"])
    assert function["Environment"]["Variables"]["EXPECTED_DAILY_UPLOADS"] == second
    assert result_b.verification()["summary"]["failed"] == 0, result_b.failed_checks()
    problems = ledger.problems()
    assert not problems, f"e-books lost or changed ({ledger.summary()}): {problems}"
