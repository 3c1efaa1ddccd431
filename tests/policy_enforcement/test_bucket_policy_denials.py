"""Every denial of the data bucket's policy, proved where bucket policies are enforced (opt-in).

LocalStack community (what `make test` runs) does not enforce bucket or IAM policies, so there the
verification can only compare the policy documents with the template. This suite sends the requests each
statement must refuse and checks that they are refused, and that the object was not written:

======================  ==========================  ======================================================
statement (Sid)         request                      expected
======================  ==========================  ======================================================
DenyInsecureTransport   PutObject / GetObject over   403 AccessDenied
                        plain HTTP
DenyOutdatedTls         PutObject over TLS 1.0/1.1   TLS handshake refused, or 403 AccessDenied
DenyWrongEncryption...  PutObject with AES256        403 AccessDenied
DenyWrongKmsKey         PutObject with another key   403 AccessDenied
DenySseC                PutObject with SSE-C         403 AccessDenied
DenyUnauthorisedWriters PutObject / DeleteObject by  403 AccessDenied (IAM allows it: only the bucket
                        a role that is not one of     policy can refuse)
                        the two
======================  ==========================  ======================================================

Each runs after a positive control (the same principal, TLS, aws:kms with the stack's key: allowed), so a
refusal is the statement's doing, not a missing permission.
"""

from __future__ import annotations

import os
import ssl

import pytest
from botocore.exceptions import ClientError
from policy_support import SETUP_HELP, client_cannot_offer, configured, put_object_with_tls

if not configured():
    # Not a skip: a suite that cannot prove anything must not look like one that passed.
    pytest.fail(SETUP_HELP, pytrace=False)

BODY = b"%PDF-1.4 policy enforcement probe\n%%EOF\n"


def expect_access_denied(call, what):
    try:
        call()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        status = exc.response["ResponseMetadata"].get("HTTPStatusCode")
        assert code == "AccessDenied" and status == 403, f"{what}: refused, but with {code} ({status}): {exc}"
        return exc.response["Error"].get("Message", "")
    pytest.fail(f"{what}: the request was allowed", pytrace=False)


def require_statement(policy_sids, sid):
    assert sid in policy_sids, f"the live bucket policy has no statement {sid}: {sorted(policy_sids)}"


def test_control_upload_over_tls_with_the_stack_key_is_allowed(control_object, probes):
    assert probes.exists(control_object)


def test_plain_http_requests_are_denied(target, stack, probes, control_object, policy_sids):
    require_statement(policy_sids, "DenyInsecureTransport")
    plain = target.client("s3", plain=True)
    key = probes.key("plain-http.pdf")
    expect_access_denied(lambda: plain.put_object(Bucket=stack["bucket"], Key=key, Body=BODY,
                                                  ServerSideEncryption="aws:kms", SSEKMSKeyId=stack["key_arn"]),
                         "PutObject over plain HTTP")
    expect_access_denied(lambda: plain.get_object(Bucket=stack["bucket"], Key=control_object),
                         "GetObject over plain HTTP")
    assert not probes.exists(key)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["tls1.0", "tls1.1"])
def test_tls_older_than_1_2_is_refused(version, target, stack, probes, control_object, policy_sids):
    require_statement(policy_sids, "DenyOutdatedTls")
    key = probes.key(f"old-tls-{version.name}.pdf")
    reply = put_object_with_tls(target, stack["bucket"], key, BODY,
                                {"x-amz-server-side-encryption": "aws:kms",
                                 "x-amz-server-side-encryption-aws-kms-key-id": stack["key_arn"]}, version)
    if reply.handshake_error is not None:
        assert not client_cannot_offer(reply.handshake_error), (
            f"this client's OpenSSL will not offer {version.name} ({reply.handshake_error}), so nothing was "
            "proved. Run the suite where the TLS library can still speak TLS 1.0/1.1.")
        # The endpoint refused the old protocol before any request: the policy never had to.
    else:
        assert reply.tls_version in ("TLSv1", "TLSv1.1"), f"negotiated {reply.tls_version}, not {version.name}"
        assert reply.status == 403 and "AccessDenied" in reply.body, (
            f"PutObject over {reply.tls_version} answered {reply.status}: {reply.body[:500]}")
    assert not probes.exists(key)


def test_put_with_another_encryption_header_is_denied(admin_s3, stack, probes, control_object, policy_sids):
    require_statement(policy_sids, "DenyWrongEncryptionHeader")
    key = probes.key("aes256.pdf")
    expect_access_denied(lambda: admin_s3.put_object(Bucket=stack["bucket"], Key=key, Body=BODY,
                                                     ServerSideEncryption="AES256"),
                         "PutObject with x-amz-server-side-encryption: AES256")
    assert not probes.exists(key)


def test_put_with_another_kms_key_is_denied(admin_s3, stack, probes, control_object, policy_sids, foreign_key):
    require_statement(policy_sids, "DenyWrongKmsKey")
    key = probes.key("other-key.pdf")
    expect_access_denied(lambda: admin_s3.put_object(Bucket=stack["bucket"], Key=key, Body=BODY,
                                                     ServerSideEncryption="aws:kms", SSEKMSKeyId=foreign_key),
                         f"PutObject with aws:kms and the key {foreign_key}")
    assert not probes.exists(key)


def test_put_with_customer_provided_key_is_denied(admin_s3, stack, probes, control_object, policy_sids):
    require_statement(policy_sids, "DenySseC")
    key = probes.key("sse-c.pdf")
    customer_key = os.urandom(32)
    expect_access_denied(lambda: admin_s3.put_object(Bucket=stack["bucket"], Key=key, Body=BODY,
                                                     SSECustomerAlgorithm="AES256",
                                                     SSECustomerKey=customer_key),  # boto3 encodes it
                         "PutObject with SSE-C")
    assert not probes.exists(key)


def test_writer_that_is_not_one_of_the_two_roles_is_denied(target, stack, probes, control_object, policy_sids,
                                                          outsider):
    require_statement(policy_sids, "DenyUnauthorisedWriters")
    assert outsider["arn"] not in (stack["writer_role"], stack["monitor_role"])
    s3 = target.client("s3", credentials=outsider["credentials"])
    key = probes.key("outsider.pdf")
    expect_access_denied(lambda: s3.put_object(Bucket=stack["bucket"], Key=key, Body=BODY,
                                               ServerSideEncryption="aws:kms", SSEKMSKeyId=stack["key_arn"]),
                         f"PutObject by {outsider['arn']}")
    expect_access_denied(lambda: s3.delete_object(Bucket=stack["bucket"], Key=control_object),
                         f"DeleteObject by {outsider['arn']}")
    expect_access_denied(lambda: s3.put_object_tagging(Bucket=stack["bucket"], Key=control_object,
                                                       Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
                         f"PutObjectTagging by {outsider['arn']}")
    assert not probes.exists(key)
    assert probes.exists(control_object), "the outsider's DeleteObject removed the control object"
