# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of every IAM role of the stack: ``iam.<LogicalId>.<check>``."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import declared_tags
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import tags_subset


class _Role:
    def __init__(self, ctx, logical_id):
        self.ctx = ctx
        self.logical_id = logical_id
        self.name = ctx.parts.name(logical_id)

    def role(self):
        return self.ctx.session.read("iam", "get_role", RoleName=self.name)["Role"]

    def live_inline(self):
        names = self.ctx.session.paginate("iam", "list_role_policies", "PolicyNames", RoleName=self.name)
        docs = {}
        for name in names:
            answer = self.ctx.session.read("iam", "get_role_policy", RoleName=self.name, PolicyName=name)
            docs[name] = pd.parse_policy(answer.get("PolicyDocument"))
        return docs

    def trust_policy(self):
        declared = self.ctx.model.resolve_at(self.logical_id, "AssumeRolePolicyDocument")
        live = pd.parse_policy(self.role().get("AssumeRolePolicyDocument"))
        expected = [pd.normalize_statement(s) for s in pd.statements(declared or {})]
        observed = [pd.normalize_statement(s) for s in pd.statements(live or {})]
        if not pd.documents_equal(declared or {}, live or {}):
            return bad(expected, observed, "the trust policy differs from the template")
        return ok(expected, observed, "the trust policy is as declared")

    def inline_only(self):
        attached = self.ctx.session.paginate(
            "iam", "list_attached_role_policies", "AttachedPolicies", RoleName=self.name
        )
        arns = sorted(p.get("PolicyArn") for p in attached)
        declared = self.ctx.model.resolve_at(self.logical_id, "ManagedPolicyArns") or []
        if declared:
            return bad([], arns, f"the template attaches managed policies {declared}; only inline policies are allowed")
        if arns:
            return bad([], arns, f"managed policies are attached: {arns}")
        return ok([], [], "no managed policy is attached")

    def inline_policies(self):
        declared = self.ctx.parts.inline_policies_of_role(self.logical_id)
        live = self.live_inline()
        expected = sorted(declared)
        observed = sorted(live)
        if expected != observed:
            return bad(expected, observed, "the role's inline policy names differ from the template")
        differing = [name for name in expected if not pd.documents_equal(declared[name] or {}, live[name] or {})]
        if differing:
            return bad(expected, observed, f"inline policies differ from the template: {differing}")
        return ok(expected, observed, "inline policies are as declared")

    def no_admin(self):
        offending = {}
        for name, doc in self.live_inline().items():
            found = pd.admin_allows(doc or {})
            if found:
                offending[name] = found
        if offending:
            return bad(
                "no Allow of * on *", offending, f"policies allow every action on every resource: {sorted(offending)}"
            )
        return ok("no Allow of * on *", {}, "no inline policy allows * on *")

    def tags(self):
        declared = declared_tags(self.ctx.model.properties(self.logical_id))
        live = {t["Key"]: t.get("Value", "") for t in self.role().get("Tags") or []}
        if declared and not live:
            tags = self.ctx.session.paginate("iam", "list_role_tags", "Tags", RoleName=self.name)
            live = {t["Key"]: t.get("Value", "") for t in tags}
        return tags_subset(declared, live, "the role")


def checks(ctx):
    found = []
    for logical_id in ctx.parts.roles:
        role = _Role(ctx, logical_id)
        resource = ctx.arn(logical_id)
        prefix = f"iam.{logical_id}"
        found.extend(
            [
                Check(f"{prefix}.trust_policy", resource, role.trust_policy),
                Check(f"{prefix}.inline_only", resource, role.inline_only),
                Check(f"{prefix}.inline_policies", resource, role.inline_policies),
                Check(f"{prefix}.no_admin", resource, role.no_admin),
                Check(f"{prefix}.tags", resource, role.tags),
            ]
        )
    return found
