# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the KMS key in use (``kms.*``): the stack's own key, or the external one."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import declared_tags
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import skip
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import tags_subset


class _CreatedKey:
    def __init__(self, ctx, logical_id):
        self.ctx = ctx
        self.logical_id = logical_id
        self.key_id = ctx.parts.name(logical_id)

    def metadata(self):
        return self.ctx.keys.metadata(self.key_id)

    def enabled(self):
        meta = self.metadata()
        observed = {"KeyState": meta.get("KeyState"), "Enabled": meta.get("Enabled")}
        if meta.get("KeyState") != "Enabled" or not meta.get("Enabled"):
            return bad({"KeyState": "Enabled"}, observed, f"the key is {meta.get('KeyState')}")
        return ok({"KeyState": "Enabled"}, observed, "the key is enabled")

    def rotation(self):
        declared = self.ctx.model.resolve_at(self.logical_id, "EnableKeyRotation")
        want = str(declared).lower() == "true"
        got = bool(self.ctx.session.read("kms", "get_key_rotation_status", KeyId=self.key_id).get("KeyRotationEnabled"))
        if not want:
            return bad(True, got, "the template does not enable key rotation")
        if got != want:
            return bad(want, got, "key rotation is off")
        return ok(want, got, "key rotation is on")

    def alias(self):
        declared = []
        for lid in self.ctx.parts.kms_aliases:
            declared.append(self.ctx.model.resolve_at(lid, "AliasName"))
        if not declared:
            return bad("an alias", None, "the template declares no AWS::KMS::Alias for the key")
        aliases = self.ctx.session.paginate("kms", "list_aliases", "Aliases", KeyId=self.metadata()["KeyId"])
        live = sorted(a["AliasName"] for a in aliases if a.get("TargetKeyId") in (None, self.metadata()["KeyId"]))
        missing = [a for a in declared if a not in live]
        if missing:
            return bad(declared, live, f"aliases {missing} do not point at the key")
        return ok(declared, live, "the declared alias points at the key")

    def key_policy(self):
        answer = self.ctx.session.read("kms", "get_key_policy", KeyId=self.key_id, PolicyName="default")
        live = pd.parse_policy(answer.get("Policy"))
        offending = pd.public_allows(live, allow_with_condition=True)
        declared = pd.by_sid(self.ctx.model.resolve_at(self.logical_id, "KeyPolicy") or {})
        live_sids = pd.by_sid(live)
        expected = {"no unconditioned Allow for *": True, "statements": sorted(declared)}
        observed = {"unconditioned Allow for *": offending, "statements": sorted(live_sids)}
        if offending:
            return bad(expected, observed, f"the key policy allows * without a condition: {offending}")
        differing = [
            sid
            for sid, stmt in declared.items()
            if sid not in live_sids or pd.statement_differences(stmt, live_sids[sid])
        ]
        if differing:
            return bad(expected, observed, f"key policy statements missing or different from the template: {differing}")
        return ok(expected, observed, "key policy is as declared and allows * only under conditions")

    def tags(self):
        declared = declared_tags(self.ctx.model.properties(self.logical_id))
        live = self.ctx.session.paginate("kms", "list_resource_tags", "Tags", KeyId=self.key_id)
        return tags_subset(declared, {t["TagKey"]: t.get("TagValue", "") for t in live}, "the key")


class _ExternalKey:
    def __init__(self, ctx):
        self.ctx = ctx

    @property
    def reference(self):
        return self.ctx.declared_data_key()

    def enabled(self):
        if not self.reference:
            return bad("a key", None, "the template names no KMS key for the data bucket")
        meta = self.ctx.keys.metadata(self.reference)
        observed = {"KeyState": meta.get("KeyState"), "Enabled": meta.get("Enabled"), "Arn": meta.get("Arn")}
        if meta.get("KeyState") == "PendingDeletion":
            return bad({"KeyState": "Enabled"}, observed, "the external key is pending deletion")
        if meta.get("KeyState") != "Enabled" or not meta.get("Enabled"):
            return bad({"KeyState": "Enabled"}, observed, f"the external key is {meta.get('KeyState')}")
        return ok({"KeyState": "Enabled"}, observed, "the external key is enabled")

    def alias(self):
        if not self.reference:
            return bad("a key", None, "the template names no KMS key for the data bucket")
        meta = self.ctx.keys.metadata(self.reference)
        return ok(self.reference, meta.get("Arn"), f"{self.reference} resolves to {meta.get('Arn')}")

    def rotation(self):
        return skip("external key: rotation is managed by its owner")

    def key_policy(self):
        return skip("external key: its policy is managed by its owner")

    def tags(self):
        return skip("external key: not tagged by this stack")


def checks(ctx):
    if ctx.parts.kms_key:
        key = _CreatedKey(ctx, ctx.parts.kms_key)
        resource = ctx.arn(ctx.parts.kms_key)
    else:
        key = _ExternalKey(ctx)
        try:
            resource = key.reference
        except TemplateResolutionError:
            resource = "external KMS key"
    return [
        Check("kms.enabled", resource, key.enabled),
        Check("kms.rotation", resource, key.rotation),
        Check("kms.alias", resource, key.alias),
        Check("kms.key_policy", resource, key.key_policy),
        Check("kms.tags", resource, key.tags),
    ]
