"""Handler sources the tests deploy, as strings (they are zipped as index.py)."""

# One probe handler whose behaviour the event chooses, so most tests deploy the
# same code. With EVIDENCE_BUCKET set it also stores every event in S3, which
# is how asynchronous and scheduled invocations become observable.
PROBE = r"""
import json
import logging
import os
import sys
import time

import boto3

INVOCATIONS = 0
logger = logging.getLogger("probe")
logger.setLevel(logging.INFO)


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    bucket = os.environ.get("EVIDENCE_BUCKET")
    if bucket:
        key = f"{event.get('source', 'direct')}/{context.aws_request_id}.json"
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(event))
    action = event.get("action")
    marker = event.get("marker", "")
    if action == "raise":
        raise ValueError(f"probe failure {marker}")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        sys.exit(3)
    if action == "log":
        print(f"stdout-{marker}")
        print(f"stderr-{marker}", file=sys.stderr)
        logger.info("logging-%s", marker)
    return {
        "invocations": INVOCATIONS,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "event": event,
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": dict(os.environ),
    }
"""

IMPORT_FAILS = """
import module_that_does_not_exist  # noqa: F401


def handler(event, context):
    return "unreachable"
"""

NODE = """
exports.handler = async () => ({ ok: true });
"""
