"""The handler's stdout, stderr and logging reach CloudWatch Logs."""

import base64
import uuid

from executor_aws import wait_until
from executor_handlers import PROBE

from tests.support.aws import invoke


def test_output_reaches_cloudwatch_logs(aws, create_function):
    name, _ = create_function(PROBE)
    marker = uuid.uuid4().hex[:12]

    response, _ = invoke(aws("lambda"), name, {"action": "log", "marker": marker}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]

    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"stdout-{marker}" in tail
    expected = [
        f"START RequestId: {request_id}",
        f"stdout-{marker}",
        f"stderr-{marker}",
        f"\t{request_id}\tlogging-{marker}",
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}",
    ]
    logs = aws("logs")

    def all_lines_stored():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        text = "".join(event["message"] for event in events)
        return text if all(line in text for line in expected) else None

    text = wait_until(all_lines_stored, timeout=20)
    assert text, f"log lines missing from /aws/lambda/{name}: {expected}"
    assert "[INFO]" in text
