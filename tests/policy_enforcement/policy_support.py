"""Where the bucket-policy denials are proved, and how to talk to it.

Two kinds of target, chosen by the environment:

``POLICY_ENFORCEMENT_ENDPOINT``
    A LocalStack that enforces IAM and resource policies: the official image with an account token,
    ``ENFORCE_IAM=1`` (``LOCALSTACK_AUTH_TOKEN=... docker compose -f docker-compose.yml up`` with
    ``ENFORCE_IAM=1`` in its environment). Give its TLS URL, e.g. ``https://localhost.localstack.cloud:4566``;
    the plain-HTTP URL for the non-TLS case is the same with ``http://`` (or ``POLICY_ENFORCEMENT_PLAIN_ENDPOINT``).
    Credentials: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` when set, else LocalStack's root ``test``/``test``.

``POLICY_ENFORCEMENT_AWS_PROFILE``
    A named profile of a real AWS account (``~/.aws/config``), an administrator there: the account root or an
    IAM Identity Center ``AdministratorAccess`` role, the principals that ``DenyUnauthorisedWriters`` admits.

Both need a stack deployed first by this collection (``ebooks-storage-<POLICY_ENFORCEMENT_ENV>``, env default
``test``; region ``POLICY_ENFORCEMENT_REGION``, default ``us-east-1``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import ssl
import urllib.parse
from dataclasses import dataclass

import boto3
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from tests.support.aws import stack_name

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

SETUP_HELP = (
    "The policy-enforcement suite proves the bucket policy's denials where they are enforced, so it needs such "
    "a place and never passes without one. Set one of:\n"
    "  POLICY_ENFORCEMENT_ENDPOINT=https://localhost.localstack.cloud:4566   (LocalStack with ENFORCE_IAM=1, "
    "the official image with LOCALSTACK_AUTH_TOKEN)\n"
    "  POLICY_ENFORCEMENT_AWS_PROFILE=<profile>   (an administrator profile of a real AWS account)\n"
    "and deploy the stack there first (POLICY_ENFORCEMENT_ENV, default test). See docs/reliability.md, "
    "\"Policy enforcement (opt-in)\"."
)


def configured():
    return bool(os.environ.get("POLICY_ENFORCEMENT_ENDPOINT") or os.environ.get("POLICY_ENFORCEMENT_AWS_PROFILE"))


@dataclass
class Target:
    """Where the requests go and as whom."""

    kind: str  # "localstack" or "aws"
    region: str
    env: str
    endpoint: str | None  # TLS endpoint; None for AWS's own
    plain_endpoint: str  # plain-HTTP endpoint for the non-TLS case
    session: boto3.Session

    @property
    def stack_name(self):
        return stack_name(self.env)

    def client(self, service, *, endpoint=None, plain=False, credentials=None):
        kwargs = {"region_name": self.region, "config": Config(
            retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=60,
            s3={"addressing_style": "path" if self.kind == "localstack" else "virtual"})}
        if plain:
            kwargs["endpoint_url"] = self.plain_endpoint
            kwargs["use_ssl"] = False
        elif endpoint or self.endpoint:
            kwargs["endpoint_url"] = endpoint or self.endpoint
        if self.kind == "localstack":
            # Its certificate (localhost.localstack.cloud, or self-signed offline) is not what is tested here.
            kwargs["verify"] = False
        if credentials:
            kwargs.update(aws_access_key_id=credentials["AccessKeyId"],
                          aws_secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["SessionToken"])
            return boto3.client(service, **kwargs)
        return self.session.client(service, **kwargs)

    def object_url(self, bucket, key):
        """HTTPS URL of an object (path style on LocalStack, virtual-hosted on AWS)."""
        quoted = urllib.parse.quote(key)
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{bucket}/{quoted}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{quoted}"


def target_from_environment():
    region = os.environ.get("POLICY_ENFORCEMENT_REGION") or "us-east-1"
    env = os.environ.get("POLICY_ENFORCEMENT_ENV") or "test"
    endpoint = (os.environ.get("POLICY_ENFORCEMENT_ENDPOINT") or "").rstrip("/")
    profile = os.environ.get("POLICY_ENFORCEMENT_AWS_PROFILE") or ""
    if endpoint and profile:
        raise ValueError("set POLICY_ENFORCEMENT_ENDPOINT or POLICY_ENFORCEMENT_AWS_PROFILE, not both")
    if endpoint:
        if not endpoint.startswith("https://"):
            raise ValueError(f"POLICY_ENFORCEMENT_ENDPOINT={endpoint} must be the TLS (https://) URL: the suite "
                             "sends plain HTTP only for the non-TLS case (POLICY_ENFORCEMENT_PLAIN_ENDPOINT)")
        plain = os.environ.get("POLICY_ENFORCEMENT_PLAIN_ENDPOINT") or "http://" + endpoint[len("https://"):]
        session = boto3.Session(aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
                                aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
                                region_name=region)
        return Target("localstack", region, env, endpoint, plain, session)
    session = boto3.Session(profile_name=profile, region_name=region)
    return Target("aws", region, env, None, f"http://s3.{region}.amazonaws.com", session)


# --------------------------------------------------------------------------- a PutObject over a chosen TLS version


@dataclass
class RawReply:
    status: int | None  # HTTP status, None when no TLS session could be made
    body: str
    tls_version: str | None
    handshake_error: str | None


def put_object_with_tls(target, bucket, key, body, headers, max_version):
    """A SigV4-signed PutObject sent over a TLS connection whose highest version is ``max_version``.

    botocore cannot be told which TLS versions to offer, so the request is signed with botocore and sent with
    http.client over an SSLContext of our own.
    """
    url = target.object_url(bucket, key)
    parts = urllib.parse.urlsplit(url)
    headers = dict(headers, **{"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    S3SigV4Auth(target.session.get_credentials().get_frozen_credentials(), "s3", target.region).add_auth(request)
    prepared = request.prepare()

    context = ssl.create_default_context()
    if target.kind == "localstack":  # its certificate is for localhost.localstack.cloud; the check is not the point
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = max_version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL offer the old versions at all
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=30)
    try:
        connection.connect()
    except ssl.SSLError as exc:
        return RawReply(None, "", None, f"{exc.reason or ''} {exc}")
    try:
        version = connection.sock.version()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("PUT", path, body=body, headers=dict(prepared.headers.items()))
        reply = connection.getresponse()
        return RawReply(reply.status, reply.read().decode(errors="replace"), version, None)
    finally:
        connection.close()


def client_cannot_offer(handshake_error):
    """True when the TLS failure is ours (this OpenSSL will not speak the old version), not the server's."""
    text = (handshake_error or "").upper()
    return "NO_PROTOCOLS_AVAILABLE" in text or "NO PROTOCOLS AVAILABLE" in text or "NO_CIPHERS_AVAILABLE" in text
