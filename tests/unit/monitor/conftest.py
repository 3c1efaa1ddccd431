"""Fixtures for the storage monitor's unit tests (moto 5, no network); helpers are in support.py.

``moto`` (dummy credentials, mock_aws) comes from tests/unit/conftest.py.

This directory is a package (empty __init__.py) on purpose: its conftest is then
registered as `monitor.conftest`, not as the top-level `conftest` that other
test directories import by name, so any order of test paths works.
"""

import botocore.client
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from .support import EMBED, MONITOR_VARS, SOURCE, RawBody, Stack, load_module


@pytest.fixture(scope="session")
def mon():
    """The monitor module, imported by path."""
    return load_module("storage_monitor_under_test", SOURCE)


@pytest.fixture(scope="session")
def embed():
    return load_module("embed_monitor_under_test", EMBED)


@pytest.fixture
def aws(moto, monkeypatch):
    """moto for every AWS call, and none of the monitor's settings from the machine: each test sets its own."""
    for name in MONITOR_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stack(aws, monkeypatch, mon):
    return Stack(monkeypatch, mon)


@pytest.fixture
def healthy(stack):
    stack.healthy_content()
    return stack


@pytest.fixture
def fail_call(monkeypatch):
    """Make one API operation raise ClientError (AccessDenied by default), for every client."""
    real = botocore.client.BaseClient._make_api_call

    def install(operation, code="AccessDenied", status=403, message="Access Denied"):
        def fake(self, name, params):
            if name == operation:
                raise ClientError({"Error": {"Code": code, "Message": message},
                                   "ResponseMetadata": {"HTTPStatusCode": status}}, name)
            return real(self, name, params)
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fake)
    return install


@pytest.fixture
def throttle(monkeypatch, mon):
    """Answer the first `times` HTTP attempts of one S3 operation of the monitor with 503 SlowDown.

    Returns the list of attempts made (throttled or passed on to moto)."""
    attempts = []

    def install(operation, times):
        real_client = mon.boto3.client

        def on_send(request, **_):
            attempts.append(request.url)
            if len(attempts) <= times:
                body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, RawBody(body))
            return None

        def client(name, *args, **kwargs):
            made = real_client(name, *args, **kwargs)
            if name == "s3":
                made.meta.events.register_first(f"before-send.s3.{operation}", on_send)
            return made
        monkeypatch.setattr(mon.boto3, "client", client)
        # no real waiting in a unit test: neither the retry backoff nor adaptive mode's client-side rate limit
        monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0)
        monkeypatch.setattr("botocore.retries.bucket.TokenBucket.acquire", lambda self, amount=1, block=True: True)
        return attempts
    return install
