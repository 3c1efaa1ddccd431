#!/usr/bin/env python3
"""Make AWS API calls with boto3 and print the answers as JSON.

    aws_call.py [--write] SERVICE OPERATION ['{"Param": "value"}']
    aws_call.py [--write] --calls '[["SERVICE", "OPERATION", {"Param": "value"}], ...]'

For the Molecule steps that need a call no amazon.aws or community.aws module
makes (for example cloudformation describe_stack_resources, kms delete_alias,
s3 head_object). The first form prints the answer; --calls makes the calls in
order in one process and prints a list of the answers. Without --write only
describe_*, get_*, head_* and list_* operations are allowed. Exits 1 when a
call fails, with {"Error": {"Code", "Message"}} as the answer of that call
(with --calls, after the answers of the calls before it; the rest are not
made). Endpoint, region and credentials come from the AWS_* environment
variables.
"""

from __future__ import annotations

import json
import re
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

READ_ONLY = re.compile(r"^(describe|get|head|list)_[a-z0-9_]+$")


def call(clients, service, operation, params):
    """(answer, ok) of one call."""
    if service not in clients:
        clients[service] = boto3.client(service)
    try:
        answer = getattr(clients[service], operation)(**params)
    except ClientError as e:
        error = e.response.get("Error", {})
        return {"Error": {"Code": error.get("Code"), "Message": error.get("Message")}}, False
    except BotoCoreError as e:
        return {"Error": {"Code": type(e).__name__, "Message": str(e)}}, False
    answer.pop("ResponseMetadata", None)
    return answer, True


def main(argv):
    write = bool(argv) and argv[0] == "--write"
    if write:
        argv = argv[1:]
    if len(argv) == 2 and argv[0] == "--calls":
        calls, single = json.loads(argv[1]), False
    elif len(argv) in (2, 3) and not argv[0].startswith("--"):
        calls, single = [[argv[0], argv[1], json.loads(argv[2]) if len(argv) == 3 else {}]], True
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for _service, operation, _params in calls:
        if not write and not READ_ONLY.match(operation):
            print(f"{operation}: only describe_*, get_*, head_* and list_* operations are allowed without --write",
                  file=sys.stderr)
            return 2
    clients, answers, ok = {}, [], True
    for service, operation, params in calls:
        answer, ok = call(clients, service, operation, params)
        answers.append(answer)
        if not ok:
            break
    print(json.dumps(answers[0] if single else answers, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
