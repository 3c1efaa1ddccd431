# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the data bucket (``bucket.*``) and the access-log bucket (``logging_bucket.*``).

Expected values come from the bucket's resolved template properties
(bucket_settings.desired_settings). The data bucket must also meet a small
security floor whatever the template says (SSE-KMS, bucket key, versioning,
public access block, BucketOwnerEnforced): a template that drops one of these
fails here instead of passing as declared.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings as bs
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import tags_subset

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


class _Bucket:
    def __init__(self, ctx, logical_id, is_data):
        self.ctx = ctx
        self.logical_id = logical_id
        self.is_data = is_data
        self.name = ctx.parts.name(logical_id)
        self._desired = None

    @property
    def desired(self):
        if self._desired is None:
            props = self.ctx.model.properties(self.logical_id)
            self._desired = bs.desired_settings(props, self.name)
        return self._desired

    def live(self, setting):
        return bs.read_setting(self.ctx.session, self.name, setting)

    # -- checks ---------------------------------------------------------------------

    def encryption(self):
        declared = self.desired["encryption"]
        live = self.live("encryption")
        live_rule = ((live or {}).get("Rules") or [{}])[0]
        live_default = live_rule.get("ApplyServerSideEncryptionByDefault") or {}
        observed = {
            "SSEAlgorithm": live_default.get("SSEAlgorithm"),
            "KMSMasterKeyID": live_default.get("KMSMasterKeyID"),
        }
        if declared is None:
            if self.is_data:
                return bad(None, observed, "the template declares no BucketEncryption for the data bucket")
            if live is None:
                return bad("any default encryption", observed, "the bucket has no default encryption")
            return ok("any default encryption", observed, "no encryption declared; the bucket has a default")
        want = (declared.get("Rules") or [{}])[0].get("ApplyServerSideEncryptionByDefault") or {}
        expected = {"SSEAlgorithm": want.get("SSEAlgorithm"), "KMSMasterKeyID": want.get("KMSMasterKeyID")}
        if self.is_data and want.get("SSEAlgorithm") not in KMS_ALGORITHMS:
            return bad(expected, observed, "the template does not declare SSE-KMS for the data bucket")
        if live is None:
            return bad(expected, None, "the bucket has no default encryption configuration")
        if observed["SSEAlgorithm"] != expected["SSEAlgorithm"]:
            return bad(
                expected,
                observed,
                f"default encryption is {observed['SSEAlgorithm']}, the template declares {expected['SSEAlgorithm']}",
            )
        if expected["KMSMasterKeyID"]:
            keys = self.ctx.keys
            expected["key_arn"] = keys.key_arn_or_guess(expected["KMSMasterKeyID"])
            observed["key_arn"] = (
                keys.key_arn_or_guess(observed["KMSMasterKeyID"]) if observed["KMSMasterKeyID"] else None
            )
            if expected["key_arn"] != observed["key_arn"]:
                return bad(expected, observed, "default encryption uses another KMS key than the template declares")
        return ok(expected, observed, f"default encryption is {expected['SSEAlgorithm']} with the declared key")

    def bucket_key(self):
        declared = self.desired["encryption"]
        want = bool(((declared or {}).get("Rules") or [{}])[0].get("BucketKeyEnabled", False))
        live = self.live("encryption")
        got = bool(((live or {}).get("Rules") or [{}])[0].get("BucketKeyEnabled", False))
        if self.is_data and not want:
            return bad(True, got, "the template does not enable the S3 bucket key for the data bucket")
        if want != got:
            return bad(want, got, f"BucketKeyEnabled is {got}, the template declares {want}")
        return ok(want, got, "bucket key setting is as declared")

    def versioning(self):
        want = self.desired["versioning"]
        got = self.live("versioning")
        if self.is_data and want != "Enabled":
            return bad("Enabled", got, f"the template declares versioning {want!r} for the data bucket")
        if want is None:
            return ok(None, got, "no versioning declared")
        if got != want:
            return bad(want, got, f"versioning is {got or 'never enabled'}, the template declares {want}")
        return ok(want, got, f"versioning is {got}")

    def public_access_block(self):
        want = bs.normalize_public_access_block(self.desired["public_access_block"])
        got = bs.normalize_public_access_block(self.live("public_access_block"))
        if self.is_data and (want is None or not all(want.values())):
            return bad(
                dict.fromkeys(bs.PAB_FLAGS, True), got, "the template does not set all four public access block flags"
            )
        if want is None:
            return ok(None, got, "no public access block declared")
        if got != want:
            off = sorted(k for k in bs.PAB_FLAGS if (got or {}).get(k) != want[k])
            return bad(want, got, f"public access block flags differ: {off}")
        return ok(want, got, "public access block is as declared")

    def ownership(self):
        want = self.desired["ownership"]
        got = self.live("ownership")
        if self.is_data and want != "BucketOwnerEnforced":
            return bad("BucketOwnerEnforced", got, f"the template declares object ownership {want!r}")
        if want is None:
            return ok(None, got, "no ownership controls declared")
        if got != want:
            return bad(want, got, f"object ownership is {got or 'not set'}, the template declares {want}")
        return ok(want, got, f"object ownership is {got}")

    def acl(self):
        canned = self.desired["acl"]
        live = self.live("acl")
        grants = sorted("/".join(g for g in grant if g) for grant in bs.grant_set(live))
        public = bs.public_grants(live)
        if public:
            return bad(canned, grants, f"the ACL grants {', '.join(public)}")
        want = bs.canned_grant_set(canned)
        extra = bs.grant_set(live) - want if want is not None else set()
        if extra:
            return bad(canned, grants, f"the ACL has grants that the {canned} ACL does not give: {sorted(extra)}")
        return ok(canned, grants, "no public grants; the ACL is as declared")

    def logging(self):
        want = self.desired["logging"]
        compare_format = bool(want and want.get("TargetObjectKeyFormat"))
        want_n = bs.normalize_logging(want, compare_format)
        got_n = bs.normalize_logging(self.live("logging"), compare_format)
        if want_n is None:
            if got_n is not None:
                return bad("disabled", got_n, "access logging is on but the template declares none")
            return ok("disabled", None, "access logging is off, as declared")
        if got_n != want_n:
            return bad(want_n, got_n, "access logging differs from the template (target bucket/prefix)")
        return ok(want_n, got_n, f"access logs go to {want_n['bucket']}/{want_n['prefix']}")

    def lifecycle(self):
        want = self.desired["lifecycle"]
        live = self.live("lifecycle")
        problems = bs.lifecycle_differences(want, live)
        expected = [r.get("ID") for r in want or []]
        observed = [r.get("ID") for r in live or []]
        if problems:
            return bad(want, live, "; ".join(problems))
        return ok(expected, observed, "lifecycle rules are as declared")

    def inventory(self):
        want = self.desired["inventory"]
        live = self.live("inventory")
        expected = {c["Id"]: bs.normalize_inventory_config(c) for c in want or []}
        observed = {c.get("Id"): bs.normalize_inventory_config(c) for c in live or []}
        problems = bs.inventory_differences(want, live)
        if problems:
            return bad(expected, observed, "; ".join(problems))
        if not want:
            return ok(None, None, "no inventory configuration, as declared")
        return ok(expected, observed, f"inventory configurations {sorted(expected)} are as declared")

    def notifications(self):
        want = bs.normalize_notifications(self.desired["notifications"])
        got = bs.normalize_notifications(self.live("notifications"))
        if got != want:
            kinds = sorted(k for k in want if want[k] != got[k])
            return bad(want, got, f"event notifications differ from the template: {', '.join(kinds)}")
        if want["eventbridge"]:
            return ok(want, got, "events go to EventBridge; the notification configuration is as declared")
        return ok(want, got, "the notification configuration is as declared")

    def tags(self):
        return tags_subset(self.desired["tags"], self.live("tags"), "the bucket")


SETTINGS = (
    "encryption",
    "bucket_key",
    "versioning",
    "public_access_block",
    "ownership",
    "acl",
    "logging",
    "lifecycle",
    "inventory",
    "notifications",
    "tags",
)


def checks(ctx):
    found = []
    for prefix, logical_id, is_data in (
        ("bucket", ctx.parts.data_bucket, True),
        ("logging_bucket", ctx.parts.logging_bucket, False),
    ):
        if not logical_id:
            continue
        bucket = _Bucket(ctx, logical_id, is_data)
        resource = ctx.arn(logical_id)
        for setting in SETTINGS:
            found.append(Check(f"{prefix}.{setting}", resource, getattr(bucket, setting)))
    return found
