"""Small boto3 helpers shared by the executor tests."""

import io
import json
import time
import uuid
import zipfile

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::000000000000:role/executor-test-role"


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def zip_source(source: str, filename: str = "index.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def wait_for_state(lambda_client, name: str, timeout: float = 30) -> dict:
    """Wait until the function has left Pending; return its configuration."""
    deadline = time.monotonic() + timeout
    while True:
        config = lambda_client.get_function_configuration(FunctionName=name)
        if config["State"] != "Pending" or time.monotonic() > deadline:
            return config
        time.sleep(0.3)


def invoke(lambda_client, name: str, event: dict | None = None, **kwargs):
    """Invoke synchronously; return (response, decoded payload)."""
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def wait_until(check, timeout: float, interval: float = 1.0):
    """Call check() until it returns something truthy or the time is up; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
