"""Fixtures: one private LocalStack per session, boto3 clients, function helpers.

Environment:
- EXECUTOR_TEST_LOCALSTACK_VENV: venv with localstack-core and this executor
  (default .venvs/localstack of this checkout)
- EXECUTOR_TEST_PORT: gateway port (default 4610)
- LAMBDA_LOCAL_PYTHON_RUNTIMES: runtime=interpreter pairs for the executor
  (default python3.11=.venvs/lambda-python3.11/bin/python of this checkout)
"""

import os

import pytest
from executor_aws import ROLE_ARN, unique_name
from executor_support import (
    DEFAULT_PORT,
    DEFAULT_RUNTIMES,
    DEFAULT_VENV,
    LocalStackServer,
)

from tests.support.aws import Clients, wait_for_function, zip_source


def pytest_configure(config):
    config.addinivalue_line("markers", "schedule: waits up to ~100 s for an EventBridge schedule to fire")


@pytest.fixture(scope="session")
def localstack(tmp_path_factory):
    server = LocalStackServer(
        venv=os.environ.get("EXECUTOR_TEST_LOCALSTACK_VENV", DEFAULT_VENV),
        port=int(os.environ.get("EXECUTOR_TEST_PORT", DEFAULT_PORT)),
        runtimes=os.environ.get("LAMBDA_LOCAL_PYTHON_RUNTIMES", DEFAULT_RUNTIMES),
        data_dir=tmp_path_factory.mktemp("localstack"),
    )
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"\nLocalStack healthy after {server.startup_seconds:.1f} s")
    yield server
    server.stop()
    strays = server.stray_processes()
    server.kill_strays(strays)
    assert not strays, f"processes left behind after LocalStack stopped: {strays}"


@pytest.fixture(scope="session")
def aws(localstack):
    """aws("lambda") -> a boto3 client for the test LocalStack (dummy credentials, us-east-1)."""
    return Clients(localstack.endpoint)


@pytest.fixture
def create_function(aws):
    """create_function(source, **create_kwargs) -> name of an Active function."""
    lambda_client = aws("lambda")

    def create(source: str, *, filename: str = "index.py", **kwargs):
        name = kwargs.pop("FunctionName", unique_name("exec"))
        params = {
            "Runtime": "python3.11",
            "Handler": "index.handler",
            "Role": ROLE_ARN,
            "Timeout": 10,
        }
        params.update(kwargs)
        lambda_client.create_function(FunctionName=name, Code={"ZipFile": zip_source(source, filename)}, **params)
        config = wait_for_function(lambda_client, name)
        return name, config

    return create


@pytest.fixture
def evidence_bucket(aws):
    """A fresh S3 bucket that handlers write their events into."""
    name = unique_name("executor-evidence")
    aws("s3").create_bucket(Bucket=name)
    return name
