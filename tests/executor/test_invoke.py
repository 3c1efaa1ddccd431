"""Synchronous invocations: results, context, environment, warm reuse, errors."""

import time

from executor_handlers import IMPORT_FAILS, PROBE

from tests.support.aws import invoke


def test_sync_invoke_returns_handler_result_and_context(aws, create_function):
    name, config = create_function(PROBE, MemorySize=256, Timeout=7)
    assert config["State"] == "Active", config.get("StateReason")

    response, result = invoke(aws("lambda"), name, {"marker": "sync"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert result["event"] == {"marker": "sync"}
    context = result["context"]
    assert context["function_name"] == name
    assert context["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert context["invoked_function_arn"] == config["FunctionArn"]
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert 0 < context["remaining_ms"] <= 7000


def test_environment_variables_reach_handler(aws, create_function, localstack):
    name, _ = create_function(PROBE, Environment={"Variables": {"PROBE_SETTING": "on", "TZ": "Europe/Paris"}})

    _, result = invoke(aws("lambda"), name)

    env = result["env"]
    assert env["PROBE_SETTING"] == "on"
    assert env["TZ"] == "Europe/Paris"  # the function's own values win
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_ENDPOINT_URL"] == localstack.endpoint
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["_HANDLER"] == "index.handler"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]
    # LocalStack's own settings stay out of the handler's environment.
    assert "GATEWAY_LISTEN" not in env
    assert "LAMBDA_LOCAL_PYTHON_RUNTIMES" not in env


def test_warm_invocation_reuses_the_worker(aws, create_function):
    name, _ = create_function(PROBE)
    lambda_client = aws("lambda")

    started = time.monotonic()
    _, first = invoke(lambda_client, name)
    cold_seconds = time.monotonic() - started
    started = time.monotonic()
    _, second = invoke(lambda_client, name)
    warm_seconds = time.monotonic() - started
    print(f"cold invoke {cold_seconds:.3f} s, warm invoke {warm_seconds:.3f} s")

    assert second["pid"] == first["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)


def test_handler_exception_returns_lambda_error_shape(aws, create_function):
    name, _ = create_function(PROBE)

    response, error = invoke(aws("lambda"), name, {"action": "raise", "marker": "m1"})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "probe failure m1"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert any("index.py" in frame and "in handler" in frame for frame in error["stackTrace"])
    # The worker survives a handled exception.
    _, result = invoke(aws("lambda"), name)
    assert result["invocations"] == 2


def test_timeout_kills_worker_and_next_invocation_works(aws, create_function):
    name, _ = create_function(PROBE, Timeout=2)
    lambda_client = aws("lambda")
    _, before = invoke(lambda_client, name)

    started = time.monotonic()
    response, error = invoke(lambda_client, name, {"action": "sleep", "seconds": 10})
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    assert 2 <= elapsed < 6
    _, after = invoke(lambda_client, name, {"marker": "after-timeout"})
    assert after["event"] == {"marker": "after-timeout"}
    assert after["pid"] != before["pid"]  # a fresh worker, as after a timeout on AWS
    assert after["invocations"] == 1


def test_handler_exit_reports_runtime_exit_error(aws, create_function):
    name, _ = create_function(PROBE)
    lambda_client = aws("lambda")

    response, error = invoke(lambda_client, name, {"action": "exit"})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    _, result = invoke(lambda_client, name)
    assert result["invocations"] == 1


def test_import_error_is_reported_like_aws(aws, create_function):
    name, _ = create_function(IMPORT_FAILS)

    response, error = invoke(aws("lambda"), name)

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'index'" in error["errorMessage"]
    assert "module_that_does_not_exist" in error["errorMessage"]
