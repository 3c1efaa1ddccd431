"""Plugin discovery, and runtimes the executor cannot serve."""

import subprocess

import pytest
from botocore.exceptions import ClientError
from executor_aws import ROLE_ARN, unique_name
from executor_handlers import NODE, PROBE

from tests.support.aws import wait_for_function, zip_source


def test_plugin_is_registered_with_localstack(localstack):
    code = (
        "from localstack.services.lambda_.invocation.runtime_executor import "
        "EXECUTOR_PLUGIN_MANAGER as m\n"
        "print(m.exists('local-python'), m.load('local-python').load().__name__)"
    )
    output = subprocess.run([str(localstack.python), "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["True", "LocalPythonRuntimeExecutor"]


@pytest.mark.parametrize(
    ("runtime", "handler", "source", "filename"),
    [
        ("nodejs20.x", "index.handler", NODE, "index.js"),
        ("python3.12", "index.handler", PROBE, "index.py"),  # not in LAMBDA_LOCAL_PYTHON_RUNTIMES
    ],
    ids=["nodejs", "unconfigured-python"],
)
def test_unservable_runtime_fails_clearly(aws, runtime, handler, source, filename):
    lambda_client = aws("lambda")
    name = unique_name("exec-unservable")
    lambda_client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Role=ROLE_ARN,
        Code={"ZipFile": zip_source(source, filename)},
    )

    config = wait_for_function(lambda_client, name)

    assert config["State"] == "Failed"
    assert runtime in config["StateReason"]
    assert "LAMBDA_LOCAL_PYTHON_RUNTIMES" in config["StateReason"]
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
