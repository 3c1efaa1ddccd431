#!/usr/bin/env python3
"""Make one read-only AWS API call with boto3 and print its answer as JSON.

    aws_call.py SERVICE OPERATION ['{"Param": "value"}']

For the Molecule verify steps, where no amazon.aws module makes the exact call
(for example cloudformation describe_stack_resources). Only Describe*, Get*
and List* operations are allowed. Endpoint, region and credentials come from
the AWS_* environment variables.
"""

from __future__ import annotations

import json
import re
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

READ_ONLY = re.compile(r"^(describe|get|list)_[a-z0-9_]+$")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    service, operation = argv[0], argv[1]
    if not READ_ONLY.match(operation):
        print(f"{operation}: only describe_*, get_* and list_* operations are allowed", file=sys.stderr)
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
