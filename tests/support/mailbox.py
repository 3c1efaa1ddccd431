"""SNS to SQS: a queue subscribed to a topic, and reading what arrives (SNS envelopes, monitor reports)."""

from __future__ import annotations

import json
import time


class Mailbox:
    """An SQS queue subscribed to a topic; ``wait_for(predicate)`` polls until a matching message arrives.

    ``aws``: service -> boto3 client (a tests.support.aws.Clients).
    """

    def __init__(self, aws, topic_arn, name):
        self.sqs, self.sns = aws("sqs"), aws("sns")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "AllowTheAlertTopic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": self.arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": json.dumps(policy)})
        self.subscription = self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=self.arn,
                                               ReturnSubscriptionArn=True)["SubscriptionArn"]
        self.received = []  # SNS envelopes (dicts), in arrival order

    def drain(self, wait_seconds=1):
        reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        for message in reply.get("Messages", []):
            self.received.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, predicate, timeout=60):
        """The first envelope for which predicate(envelope) is true; None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for envelope in self.received:
                if predicate(envelope):
                    return envelope
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.drain(wait_seconds=max(1, min(5, int(left))))

    def close(self):
        try:
            self.sns.unsubscribe(SubscriptionArn=self.subscription)
        finally:
            self.sqs.delete_queue(QueueUrl=self.url)


def sns_notification(body):
    """The SNS envelope of an SQS message body (None if it is not one)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    return envelope if isinstance(envelope, dict) and envelope.get("Type") == "Notification" else None


def sns_message_json(envelope):
    """The envelope's Message, decoded from JSON (None if it is not JSON)."""
    try:
        return json.loads(envelope.get("Message", ""))
    except ValueError:
        return None


def classify_report(envelope):
    """('report', dict), ('failure', dict) or ('other', str) for one SNS notification of the alert topic."""
    try:
        message = json.loads(envelope.get("Message", ""))
    except ValueError:
        return "other", envelope.get("Message", "")[:200]
    if isinstance(message, dict) and "generated_at" in message and "trigger" in message:
        return "report", message
    if isinstance(message, dict) and "requestContext" in message:
        # Lambda's on-failure destination record: the monitor run failed.
        return "failure", message
    return "other", json.dumps(message)[:200]
