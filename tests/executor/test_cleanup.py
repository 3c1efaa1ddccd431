"""Stopping an execution environment ends its worker process."""

import os

from executor_aws import wait_until
from executor_handlers import PROBE

from tests.support.aws import invoke


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie is already dead
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between the open and the read
        return False


def test_deleting_function_stops_its_worker(aws, create_function):
    name, _ = create_function(PROBE)
    lambda_client = aws("lambda")
    _, result = invoke(lambda_client, name)
    pid = result["pid"]
    assert pid != os.getpid() and _alive(pid)

    lambda_client.delete_function(FunctionName=name)

    assert wait_until(lambda: not _alive(pid), timeout=15, interval=0.3)
