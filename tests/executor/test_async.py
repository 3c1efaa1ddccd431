"""An asynchronous (Event) invocation runs the handler."""

import json
import uuid

from executor_aws import wait_until
from executor_handlers import PROBE


def test_event_invocation_runs_handler(aws, create_function, evidence_bucket):
    name, _ = create_function(PROBE, Environment={"Variables": {"EVIDENCE_BUCKET": evidence_bucket}})
    marker = uuid.uuid4().hex

    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"marker": marker}))
    assert response["StatusCode"] == 202

    s3 = aws("s3")

    def stored_events():
        listing = s3.list_objects_v2(Bucket=evidence_bucket, Prefix="direct/")
        return [
            json.loads(s3.get_object(Bucket=evidence_bucket, Key=item["Key"])["Body"].read())
            for item in listing.get("Contents", [])
        ]

    events = wait_until(stored_events, timeout=30)
    assert events == [{"marker": marker}]
