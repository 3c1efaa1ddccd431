"""An EventBridge rate(1 minute) rule invokes the function (waits up to ~100 s)."""

import json

import pytest
from executor_aws import unique_name, wait_until
from executor_handlers import PROBE


@pytest.mark.schedule
def test_rate_rule_invokes_function(aws, create_function, evidence_bucket):
    name, config = create_function(PROBE, Environment={"Variables": {"EVIDENCE_BUCKET": evidence_bucket}})
    events, lambda_client, s3 = aws("events"), aws("lambda"), aws("s3")
    rule_name = unique_name("executor-every-minute")
    rule_arn = events.put_rule(Name=rule_name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    lambda_client.add_permission(
        FunctionName=name,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(Rule=rule_name, Targets=[{"Id": "fn", "Arn": config["FunctionArn"]}])

    def scheduled_event():
        listing = s3.list_objects_v2(Bucket=evidence_bucket, Prefix="aws.events/")
        items = listing.get("Contents", [])
        if not items:
            return None
        body = s3.get_object(Bucket=evidence_bucket, Key=items[0]["Key"])["Body"].read()
        return json.loads(body)

    try:
        event = wait_until(scheduled_event, timeout=100, interval=2)
    finally:
        events.remove_targets(Rule=rule_name, Ids=["fn"])
        events.delete_rule(Name=rule_name)

    assert event, "the rate(1 minute) rule did not invoke the function within 100 s"
    assert event["detail-type"] == "Scheduled Event"
    assert rule_arn in event["resources"]
