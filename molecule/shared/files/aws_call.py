#!/usr/bin/env python3
"""Make one AWS API call with boto3 and print its answer as JSON.

    aws_call.py [--write] SERVICE OPERATION ['{"Param": "value"}']

For the Molecule steps that need a call no amazon.aws or community.aws module
makes (for example cloudformation describe_stack_resources, kms delete_alias).
Without --write only describe_*, get_* and list_* operations are allowed.
Exits 1 with {"Error": {"Code", "Message"}} when the call fails. Endpoint,
region and credentials come from the AWS_* environment variables.
"""

from __future__ import annotations

import json
import re
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

READ_ONLY = re.compile(r"^(describe|get|list)_[a-z0-9_]+$")


def main(argv):
    write = bool(argv) and argv[0] == "--write"
    if write:
        argv = argv[1:]
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    service, operation = argv[0], argv[1]
    if not write and not READ_ONLY.match(operation):
        print(f"{operation}: only describe_*, get_* and list_* operations are allowed without --write", file=sys.stderr)
        return 2
    params = json.loads(argv[2]) if len(argv) == 3 else {}
    client = boto3.client(service)
    try:
        answer = getattr(client, operation)(**params)
    except ClientError as e:
        error = e.response.get("Error", {})
        print(json.dumps({"Error": {"Code": error.get("Code"), "Message": error.get("Message")}}))
        return 1
    except BotoCoreError as e:
        print(json.dumps({"Error": {"Code": type(e).__name__, "Message": str(e)}}))
        return 1
    answer.pop("ResponseMetadata", None)
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
