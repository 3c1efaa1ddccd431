# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the alert topic (``sns.*``)."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import declared_tags
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import tags_subset


class _Topic:
    def __init__(self, ctx, logical_id):
        self.ctx = ctx
        self.logical_id = logical_id
        self.arn = ctx.arn(logical_id)

    def attributes(self):
        return self.ctx.session.read("sns", "get_topic_attributes", TopicArn=self.arn).get("Attributes") or {}

    def topic(self):
        attributes = self.attributes()
        return ok(self.arn, attributes.get("TopicArn"), "the topic exists")

    def encryption(self):
        declared = self.ctx.model.resolve_at(self.logical_id, "KmsMasterKeyId")
        live = self.attributes().get("KmsMasterKeyId")
        expected = {"KmsMasterKeyId": declared}
        observed = {"KmsMasterKeyId": live}
        if not declared:
            return bad(expected, observed, "the template declares no KmsMasterKeyId for the topic")
        if not live:
            return bad(expected, observed, "the topic is not encrypted")
        expected["key_arn"] = self.ctx.keys.key_arn_or_guess(declared)
        observed["key_arn"] = self.ctx.keys.key_arn_or_guess(live)
        if expected["key_arn"] != observed["key_arn"]:
            return bad(expected, observed, "the topic is encrypted with another key than the template declares")
        return ok(expected, observed, "the topic is encrypted with the declared key")

    def policy(self):
        live = pd.parse_policy(self.attributes().get("Policy")) or {}
        offending = pd.public_allows(live, allow_with_condition=True)
        declared = {}
        if self.ctx.parts.topic_policy:
            declared = pd.by_sid(self.ctx.model.resolve_at(self.ctx.parts.topic_policy, "PolicyDocument") or {})
        live_sids = pd.by_sid(live)
        expected = {"unconditioned Allow for *": [], "statements": sorted(declared)}
        observed = {"unconditioned Allow for *": offending, "statements": sorted(live_sids)}
        if offending:
            return bad(expected, observed, f"anyone may use the topic: {offending}")
        differing = [
            s for s, stmt in declared.items() if s not in live_sids or pd.statement_differences(stmt, live_sids[s])
        ]
        if differing:
            return bad(
                expected, observed, f"topic policy statements missing or different from the template: {differing}"
            )
        return ok(expected, observed, "publishers are restricted as declared")

    def tags(self):
        declared = declared_tags(self.ctx.model.properties(self.logical_id))
        live = self.ctx.session.read("sns", "list_tags_for_resource", ResourceArn=self.arn).get("Tags") or []
        return tags_subset(declared, {t["Key"]: t.get("Value", "") for t in live}, "the topic")


def checks(ctx):
    if not ctx.parts.topic:
        return []
    topic = _Topic(ctx, ctx.parts.topic)
    return [
        Check("sns.topic", topic.arn, topic.topic),
        Check("sns.encryption", topic.arn, topic.encryption),
        Check("sns.policy", topic.arn, topic.policy),
        Check("sns.tags", topic.arn, topic.tags),
    ]
