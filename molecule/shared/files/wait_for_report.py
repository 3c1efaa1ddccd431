#!/usr/bin/env python3
"""Wait for the storage monitor's report to arrive on an SQS queue subscribed to the alert topic.

    wait_for_report.py QUEUE_NAME TIMEOUT_SECONDS

Polls the queue (long polling) until a notification whose message is a monitor
report arrives, or TIMEOUT_SECONDS pass. Prints one JSON object: the report,
the notification's subject and attributes, the seconds waited and a short
description of every other message seen. Exits 0 with a report, 3 without one
(timeout, or the monitor's on-failure destination reported a failed run); any
other exit code means the script itself failed (traceback on stderr).
Messages read are deleted. The queue is named, not given by URL: on LocalStack
community.aws.sqs_queue returns no queue_url for a queue it creates, and
LocalStack's URLs contain "localstack", which Ansible masks in module results
when that is also the dummy secret key. Endpoint, region and credentials come
from the AWS_* environment variables. The parsing is tests/support/mailbox.py's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.mailbox import classify_report, sns_notification  # noqa: E402

NO_REPORT = 3


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    queue_name, timeout = argv[0], float(argv[1])
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    started = time.monotonic()
    seen = []
    while (left := timeout - (time.monotonic() - started)) > 0:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=int(max(1, min(20, left)))
        )
        for msg in answer.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
            envelope = sns_notification(msg["Body"])
            if envelope is None:
                seen.append({"kind": "not an SNS notification", "body": msg["Body"][:200]})
                continue
            kind, content = classify_report(envelope)
            waited = round(time.monotonic() - started, 1)
            if kind == "report":
                attributes = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
                result = {
                    "report": content,
                    "subject": envelope.get("Subject"),
                    "attributes": attributes,
                    "waited_seconds": waited,
                    "other_messages": seen,
                }
                print(json.dumps(result, indent=1))
                return 0
            if kind == "failure":
                print(
                    json.dumps(
                        {
                            "error": "the monitor failed",
                            "record": content,
                            "waited_seconds": waited,
                            "other_messages": seen,
                        },
                        indent=1,
                    )
                )
                return NO_REPORT
            seen.append({"kind": "other notification", "subject": envelope.get("Subject"), "message": content})
    print(json.dumps({"error": f"no report within {timeout:g} s", "other_messages": seen}, indent=1))
    return NO_REPORT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
