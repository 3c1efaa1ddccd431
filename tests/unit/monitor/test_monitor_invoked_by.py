"""The report's `invoked_by`: the EventBridge event that started the run, or a direct invocation."""

import json

import pytest

# What EventBridge sends to a target without Input for a schedule rule (EventBridge user guide,
# "Creating a rule that runs on a schedule"; the same shape arrives from LocalStack).
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/eBook-StorageMonitoring-Schedule-dev"
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-12-02T06:40:00Z",
    "region": "us-east-1",
    "resources": [RULE_ARN],
    "detail": {},
}


def test_a_scheduled_event_is_recorded_and_published(healthy):
    report = healthy.run(dict(SCHEDULED_EVENT))
    assert report["invoked_by"] == {
        "source": "aws.events", "detail-type": "Scheduled Event", "id": SCHEDULED_EVENT["id"],
        "time": "2026-12-02T06:40:00Z", "resources": [RULE_ARN]}
    assert report["trigger"] == "schedule"  # the existing key is unchanged
    [envelope] = healthy.messages()
    assert json.loads(envelope["Message"])["invoked_by"] == report["invoked_by"]


@pytest.mark.parametrize("event", [
    {}, None, {"source": "manual"}, {"source": "aws.events"},  # no detail-type: not an EventBridge event
    {"detail-type": "Scheduled Event", "source": "manual", "resources": [RULE_ARN]}])
def test_anything_else_is_a_direct_invocation(healthy, mon, event):
    assert mon.handler(event, None)["invoked_by"] == {"source": "direct"}
