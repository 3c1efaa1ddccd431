# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the bucket policies: ``bucket_policy.<Sid>`` and ``logging_bucket_policy.<Sid>``.

Each statement of the live policy is compared with the template's statement of
the same Sid (resolved for this stack). The data bucket's policy must also
carry the statements named in docs/contracts.md, each a Deny on its condition key.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings as bs
from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok

# The contract of the data bucket's policy, defined here once: Sid -> the condition key the statement is about.
# docs/contracts.md ("Data bucket policy statements") says what each one is for; tests/unit/test_template.py
# imports this to require the template to declare them. The statements themselves are the template's.
CONTRACT_SIDS = {
    "DenyInsecureTransport": "aws:securetransport",
    "DenyOutdatedTls": "s3:tlsversion",
    "DenyWrongEncryptionHeader": "s3:x-amz-server-side-encryption",
    "DenyWrongKmsKey": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "DenyAwsManagedKey": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "DenySseC": "s3:x-amz-server-side-encryption-customer-algorithm",
    "DenyUnauthorisedWriters": "aws:principalarn",
    "DenyUnauthorisedReaders": "aws:principalarn",
}


def _declared_sids(model, policy_lid):
    """The Sids of the policy's statements as the template writes them (only the Sids resolved: the checks
    resolve the rest, each reporting its own error)."""
    if not policy_lid:
        return []
    doc = (model.resources[policy_lid].get("Properties") or {}).get("PolicyDocument") or {}
    path = f"Resources.{policy_lid}.Properties.PolicyDocument.Statement"
    return [str(model.resolve(stmt["Sid"], f"{path}.Sid")) for stmt in pd.statements(doc) if "Sid" in stmt]


class _Policy:
    def __init__(self, ctx, bucket_lid, policy_lid):
        self.ctx = ctx
        self.bucket = ctx.parts.name(bucket_lid)
        self.policy_lid = policy_lid
        self._declared = None

    def declared(self):
        if self._declared is None:
            doc = self.ctx.model.resolve_at(self.policy_lid, "PolicyDocument") if self.policy_lid else None
            self._declared = pd.by_sid(doc or {})
        return self._declared

    def live(self):
        return bs.read_setting(self.ctx.session, self.bucket, "policy")

    def statement(self, sid, contract_key=None):
        def run():
            declared = self.declared().get(sid)
            live_doc = self.live()
            if live_doc is None:
                return bad(_show(declared), None, "the bucket has no bucket policy")
            live = pd.by_sid(live_doc).get(sid)
            if declared is None:
                return bad(None, _show(live), f"the template declares no statement {sid} (required by the contract)")
            if live is None:
                return bad(_show(declared), None, f"the bucket policy has no statement {sid}")
            differences = pd.statement_differences(declared, live)
            if differences:
                return bad(_show(declared), _show(live), f"statement {sid} differs from the template in {differences}")
            if contract_key:
                if live.get("Effect") != "Deny":
                    return bad(_show(declared), _show(live), f"statement {sid} must be a Deny")
                if contract_key not in pd.condition_keys(live):
                    return bad(_show(declared), _show(live), f"statement {sid} must have a condition on {contract_key}")
            return ok(_show(declared), _show(live), f"statement {sid} is as declared")

        return run

    def no_public_allow(self):
        live_doc = self.live()
        if live_doc is None:
            return ok("no Allow for *", None, "the bucket has no policy, so nothing is allowed to *")
        offending = pd.public_allows(live_doc, allow_with_condition=False)
        if offending:
            return bad("no Allow for *", offending, f"statements allow the * principal: {offending}")
        return ok("no Allow for *", [], "no statement allows the * principal")


def _show(stmt):
    return pd.normalize_statement(stmt) if stmt else None


def checks(ctx):
    found = []
    for prefix, bucket_lid, policy_lid, contract in (
        ("bucket_policy", ctx.parts.data_bucket, ctx.parts.data_bucket_policy, CONTRACT_SIDS),
        ("logging_bucket_policy", ctx.parts.logging_bucket, ctx.parts.logging_bucket_policy, {}),
    ):
        if not bucket_lid:
            continue
        policy = _Policy(ctx, bucket_lid, policy_lid)
        resource = ctx.arn(bucket_lid)
        sids = list(contract) + [s for s in _declared_sids(ctx.model, policy_lid) if s not in contract]
        for sid in sids:
            found.append(Check(f"{prefix}.{sid}", resource, policy.statement(sid, contract.get(sid))))
        found.append(Check(f"{prefix}.no_public_allow", resource, policy.no_public_allow))
    return found
