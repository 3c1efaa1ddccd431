"""Small helpers of the executor tests; clients, packages, waits and invocations come from tests.support.aws."""

import time
import uuid

ROLE_ARN = "arn:aws:iam::000000000000:role/executor-test-role"


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(check, timeout: float, interval: float = 1.0):
    """Call check() until it returns something truthy or the time is up; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
