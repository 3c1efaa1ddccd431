# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Round trips (``functional.*``, only with ``functional: true``) that leave nothing behind."""

from __future__ import annotations

import contextlib
import json
import uuid

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_summary
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok

PROBE_PREFIX = "_verify-probe/"
PROBE_BODY = b"%PDF-1.4\n% tap.ebook_storage storage_verify probe object\n%%EOF\n"
ENVIRONMENT_KEYS = ("environment", "env", "environment_name", "environmentname")


def remove_probe(session, bucket, key):
    """Delete every version and delete marker of one probe key; returns what is left (empty when clean)."""
    errors = []
    for _attempt in range(3):
        answer = session.call("s3", "list_object_versions", Bucket=bucket, Prefix=key)
        entries = [
            e for e in (answer.get("Versions") or []) + (answer.get("DeleteMarkers") or []) if e.get("Key") == key
        ]
        if not entries:
            return []
        errors = []
        for entry in entries:
            try:
                session.call("s3", "delete_object", Bucket=bucket, Key=key, VersionId=entry.get("VersionId") or "null")
            except AWS_ERRORS as e:
                errors.append({"VersionId": entry.get("VersionId"), **error_summary(e)})
    return errors or [{"Key": key, "message": "versions are still listed after deletion"}]


class _Functional:
    def __init__(self, ctx):
        self.ctx = ctx

    def probe_object(self):
        bucket = self.ctx.parts.name(self.ctx.parts.data_bucket)
        declared_key = self.ctx.declared_data_key()
        expected = {
            "ServerSideEncryption": "aws:kms",
            "key_arn": self.ctx.keys.key_arn_or_guess(declared_key) if declared_key else None,
            "VersionId": "present",
            "left_behind": [],
        }
        key = f"{PROBE_PREFIX}{uuid.uuid4().hex}.pdf"
        session = self.ctx.session
        observed = {"Key": key}
        try:
            put = session.call(
                "s3", "put_object", Bucket=bucket, Key=key, Body=PROBE_BODY, ContentType="application/pdf"
            )
            params = {"Bucket": bucket, "Key": key}
            if put.get("VersionId"):
                params["VersionId"] = put["VersionId"]
            head = session.call("s3", "head_object", **params)
            live_key = head.get("SSEKMSKeyId")
            observed.update(
                {
                    "ServerSideEncryption": head.get("ServerSideEncryption"),
                    "SSEKMSKeyId": live_key,
                    "key_arn": self.ctx.keys.key_arn_or_guess(live_key) if live_key else None,
                    "VersionId": head.get("VersionId") or put.get("VersionId"),
                }
            )
        finally:
            try:
                observed["left_behind"] = remove_probe(session, bucket, key)
            except AWS_ERRORS as e:
                observed["left_behind"] = [error_summary(e)]
        problems = []
        if observed.get("ServerSideEncryption") != "aws:kms":
            problems.append(f"the probe object is encrypted with {observed.get('ServerSideEncryption')}, not aws:kms")
        elif observed.get("key_arn") != expected["key_arn"]:
            problems.append("the probe object is encrypted with another key")
        if not observed.get("VersionId") or observed.get("VersionId") == "null":
            problems.append("the probe object got no version id")
        if observed["left_behind"]:
            problems.append("the probe object could not be removed completely")
        if problems:
            return bad(expected, observed, "; ".join(problems))
        return ok(expected, observed, "a probe PDF was stored SSE-KMS with the key, versioned, and removed")

    def monitor_invoke(self):
        name = self.ctx.parts.name(self.ctx.parts.function)
        variables = (self.ctx.model.resolve_at(self.ctx.parts.function, "Environment") or {}).get("Variables") or {}
        environment = variables.get("ENVIRONMENT") or self.ctx.model.outputs.get("EnvironmentName")
        expected = {"FunctionError": None, "report": "JSON", "environment": environment}
        answer = self.ctx.session.call(
            "lambda",
            "invoke",
            FunctionName=name,
            InvocationType="RequestResponse",
            Payload=json.dumps({"source": "manual"}).encode("utf-8"),
        )
        raw = answer["Payload"].read() if answer.get("Payload") is not None else b""
        text = raw.decode("utf-8", "replace")
        observed = {"FunctionError": answer.get("FunctionError"), "StatusCode": answer.get("StatusCode")}
        if answer.get("FunctionError"):
            observed["payload"] = text[:2000]
            return bad(expected, observed, f"the monitor failed: {text[:300]}")
        try:
            report = json.loads(text)
        except ValueError:
            observed["payload"] = text[:2000]
            return bad(expected, observed, "the monitor's answer is not JSON")
        if isinstance(report, dict) and isinstance(report.get("body"), str):
            with contextlib.suppress(ValueError):
                report = json.loads(report["body"])
        observed["report_keys"] = sorted(report) if isinstance(report, dict) else type(report).__name__
        observed["environment"] = _find_environment(report)
        if observed["environment"] != environment:
            return bad(expected, observed, f"the report does not name the environment {environment!r}")
        return ok(expected, observed, f"the monitor ran and reported on {environment}")


def _find_environment(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in ENVIRONMENT_KEYS and isinstance(item, str):
                return item
        for item in value.values():
            found = _find_environment(item)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _find_environment(item)
            if found is not None:
                return found
    return None


def checks(ctx):
    functional = _Functional(ctx)
    found = []
    if ctx.parts.data_bucket:
        found.append(
            Check("functional.probe_object", ctx.arn(ctx.parts.data_bucket), functional.probe_object, functional=True)
        )
    if ctx.parts.function:
        found.append(
            Check("functional.monitor_invoke", ctx.arn(ctx.parts.function), functional.monitor_invoke, functional=True)
        )
    return found
