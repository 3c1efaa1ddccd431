"""The rows of the policy table (tests/unit/policy/policy_table.yml) that can be sent, sent where policies are enforced.

The unit tests decide every row by evaluating the template's policies; this opt-in suite sends the rows whose
principal the suite can act as (``enforce_as`` in the table: ``admin`` is the suite's own principal,
``outsider`` the temporary role of conftest.py) and whose request it can make over TLS, and checks that the
deployment answers as the table says. Rows it cannot send (other principals, TLS versions, service
principals, state after a stack deletion, disabled keys) are listed by ``test_rows_not_sent_here`` so nothing
disappears silently; the unit table decides them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError
from policy_support import SETUP_HELP, configured

from tests.support.aws import key_alias

if not configured():
    pytest.fail(SETUP_HELP, pytrace=False)

TABLE = yaml.safe_load((Path(__file__).resolve().parents[1] / "unit" / "policy" / "policy_table.yml").read_text())
BODY = b"%PDF-1.4 policy table probe\n%%EOF\n"
SENDABLE_REQUEST_KEYS = {"sse", "kms_key", "sse_c"}
OPERATIONS = {  # IAM action -> how to send it (client, bucket, key, headers); reads use the control object
    "s3:PutObject": lambda s3, b, k, h: s3.put_object(Bucket=b, Key=k, Body=BODY, **h),
    "s3:GetObject": lambda s3, b, k, h: s3.get_object(Bucket=b, Key=k)["Body"].read(),
    "s3:GetObjectAttributes": lambda s3, b, k, h: s3.get_object_attributes(Bucket=b, Key=k, ObjectAttributes=["ETag"]),
    "s3:GetObjectVersionTagging": lambda s3, b, k, h: s3.get_object_tagging(
        Bucket=b, Key=k, VersionId=s3.head_object(Bucket=b, Key=k)["VersionId"]),
    "s3:PutObjectVersionTagging": lambda s3, b, k, h: s3.put_object_tagging(
        Bucket=b, Key=k, VersionId="null", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
}
READS = {"s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectVersionTagging", "s3:PutObjectVersionTagging"}


def _sendable(row):
    principal = TABLE["principals"][row["principal"]]
    return (principal.get("enforce_as") and row["action"] in OPERATIONS and row["resource"].startswith("data:")
            and not row.get("after_stack_deletion") and set(row.get("request") or {}) <= SENDABLE_REQUEST_KEYS)


ROWS = [r for r in TABLE["rows"] if _sendable(r)]


@pytest.fixture(scope="session")
def live_config(target, stack):
    """The table's configuration the deployed stack matches, and the key spellings of that stack."""
    found = target.client("cloudformation").describe_stacks(StackName=stack["name"])["Stacks"][0]
    params = {p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue")) for p in found.get("Parameters", [])}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    prefix = stack["key_arn"].rsplit(":", 1)[0] + ":"
    if outputs.get("KmsKeyArn"):
        name, key_arn, alias = "created_key", outputs["KmsKeyArn"], key_alias(target.env)
    else:
        name = "external_alias" if params.get("ExternalKmsKeyArn") else "external_alias_defaults"
        alias = params["KmsKeyAlias"]
        key_arn = params.get("ExternalKmsKeyArn") or prefix + alias  # no key ARN passed: the alias ARN
    spellings = {"key_arn": key_arn, "key_id": key_arn.rsplit("/", 1)[-1], "alias_arn": prefix + alias,
                 "alias_name": alias, "aws_s3_alias_arn": prefix + "alias/aws/s3"}
    return name, spellings


def _headers(row, spellings, foreign_key):
    request = row.get("request") or {}
    headers = {}
    if "sse" in request:
        headers["ServerSideEncryption"] = request["sse"]
    if "kms_key" in request:
        headers["SSEKMSKeyId"] = foreign_key if request["kms_key"] == "other_key_arn" else spellings[request["kms_key"]]
    if request.get("sse_c"):
        headers.update(SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32))
    return headers


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_row(row, target, stack, admin_s3, outsider, probes, control_object, live_config, foreign_key):
    config, spellings = live_config
    expect = row["expect"][config] if isinstance(row["expect"], dict) else row["expect"]
    if TABLE["principals"][row["principal"]]["enforce_as"] == "admin":
        s3 = admin_s3
    else:
        s3 = target.client("s3", credentials=outsider["credentials"])
    key = control_object if row["action"] in READS else probes.key(f"table-{row['id']}.pdf")
    send = OPERATIONS[row["action"]]
    try:
        send(s3, stack["bucket"], key, _headers(row, spellings, foreign_key))
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        assert expect == "Deny", f"{row['id']}: refused with {code}, the table says Allow ({row['reason']})"
        assert code == "AccessDenied", f"{row['id']}: refused, but with {code}: {exc}"
        return
    assert expect == "Allow", f"{row['id']}: allowed, the table says Deny by {row.get('by')} ({row['reason']})"


def test_rows_not_sent_here():
    """Every row is either sent above or decided by the unit table; this names the latter."""
    unsent = [r["id"] for r in TABLE["rows"] if not _sendable(r)]
    assert len(unsent) + len(ROWS) == len(TABLE["rows"])
    print(f"decided by tests/unit/policy only: {', '.join(unsent)}")
