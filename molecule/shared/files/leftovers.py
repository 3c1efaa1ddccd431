#!/usr/bin/env python3
"""List what a Molecule scenario of tap.ebook_storage could have left behind.

    leftovers.py ENVIRONMENT

Prints one JSON object: for each kind of resource, the names still there that
belong to the stack ebooks-storage-<ENVIRONMENT> or to the scenarios' own
fixtures (names starting with ebook-molecule-, KMS keys tagged
ebook-molecule-scenario). Every list empty means nothing is left. KMS keys
cannot be deleted at once: a key scheduled for deletion counts as gone.
Endpoint, region and credentials come from the AWS_* environment variables.
"""

from __future__ import annotations

import json
import sys

import boto3

FIXTURE_PREFIX = "ebook-molecule-"
GONE_KEY_STATES = ("PendingDeletion", "PendingReplicaDeletion")


def pages(client, operation, key, **params):
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def stacks(env):
    cfn = boto3.client("cloudformation")
    return [
        s["StackName"]
        for s in pages(cfn, "list_stacks", "StackSummaries")
        if s["StackName"] == f"ebooks-storage-{env}" and s["StackStatus"] != "DELETE_COMPLETE"
    ]


def buckets(env):
    names = {f"ebooks-storage-{env}", f"ebooks-storage-logs-{env}"}
    found = boto3.client("s3").list_buckets().get("Buckets", [])
    return [b["Name"] for b in found if b["Name"] in names or b["Name"].startswith(FIXTURE_PREFIX)]


def roles(env):
    names = {f"eBook-S3Access-{env}", f"eBook-StorageMonitoring-{env}"}
    return [r["RoleName"] for r in pages(boto3.client("iam"), "list_roles", "Roles") if r["RoleName"] in names]


def functions(env):
    found = pages(boto3.client("lambda"), "list_functions", "Functions")
    return [f["FunctionName"] for f in found if f["FunctionName"] == f"eBook-StorageMonitoring-{env}"]


def topics(env):
    arns = [t["TopicArn"] for t in pages(boto3.client("sns"), "list_topics", "Topics")]
    return [a for a in arns if a.rsplit(":", 1)[-1] == f"eBook-Alerts-{env}" or ":" + FIXTURE_PREFIX in a]


def queues(_env):
    answer = boto3.client("sqs").list_queues(QueueNamePrefix=FIXTURE_PREFIX)
    return answer.get("QueueUrls", [])


def rules(env):
    found = boto3.client("events").list_rules(NamePrefix=f"eBook-StorageMonitoring-Schedule-{env}").get("Rules", [])
    return [r["Name"] for r in found if r["Name"] == f"eBook-StorageMonitoring-Schedule-{env}"]


def log_groups(env):
    name = f"/aws/lambda/eBook-StorageMonitoring-{env}"
    found = pages(boto3.client("logs"), "describe_log_groups", "logGroups", logGroupNamePrefix=name)
    return [g["logGroupName"] for g in found if g["logGroupName"] == name]


def aliases(env):
    kms = boto3.client("kms")
    return [
        a["AliasName"]
        for a in pages(kms, "list_aliases", "Aliases")
        if a["AliasName"] == f"alias/ebooks-storage-{env}" or a["AliasName"].startswith("alias/" + FIXTURE_PREFIX)
    ]


def keys(env):
    kms = boto3.client("kms")
    left = []
    for key in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") in GONE_KEY_STATES:
            continue
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
        ours = tags.get("Project") == "ebook-storage" and tags.get("Environment") == env
        if ours or "ebook-molecule-scenario" in tags:
            left.append(f"{key['KeyId']} ({meta.get('KeyState')})")
    return left


KINDS = {
    "stacks": stacks,
    "buckets": buckets,
    "iam_roles": roles,
    "lambda_functions": functions,
    "sns_topics": topics,
    "sqs_queues": queues,
    "event_rules": rules,
    "log_groups": log_groups,
    "kms_aliases": aliases,
    "kms_keys": keys,
}


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps({kind: find(argv[0]) for kind, find in KINDS.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
