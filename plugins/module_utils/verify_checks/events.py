# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the rules that invoke the monitor: the schedule (``events.*``) and the upload check
(``events.upload_check.*``), each against its resolved template properties."""

from __future__ import annotations

import json

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import rule_name_from_physical_id
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import declared_tags
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import tags_subset


class _Rule:
    def __init__(self, ctx, logical_id):
        self.ctx = ctx
        self.logical_id = logical_id
        self.name = rule_name_from_physical_id(ctx.parts.name(logical_id))
        bus = ctx.model.resolve_at(logical_id, "EventBusName")
        self.bus = {"EventBusName": bus} if bus else {}

    def live(self):
        return self.ctx.session.read("events", "describe_rule", Name=self.name, **self.bus)

    def rule(self):
        props = self.ctx.model.properties(self.logical_id)
        expected = {"State": props.get("State") or "ENABLED", "ScheduleExpression": props.get("ScheduleExpression")}
        live = self.live()
        observed = {"State": live.get("State"), "ScheduleExpression": live.get("ScheduleExpression")}
        if expected["State"] != "ENABLED":
            return bad(expected, observed, f"the template declares the rule {expected['State']}")
        if observed != expected:
            return bad(expected, observed, "the rule's state or schedule differs from the template")
        return ok(expected, observed, f"the rule is enabled with schedule {observed['ScheduleExpression']}")

    def state(self):
        want = self.ctx.model.properties(self.logical_id).get("State") or "ENABLED"
        got = self.live().get("State")
        if want != "ENABLED":
            return bad(want, got, f"the template declares the rule {want}")
        if got != want:
            return bad(want, got, f"the rule is {got}, the template declares {want}")
        return ok(want, got, "the rule is enabled")

    def pattern(self):
        declared = self.ctx.model.properties(self.logical_id).get("EventPattern")
        if isinstance(declared, str):  # CloudFormation takes the pattern as an object or as JSON text
            declared = json.loads(declared)
        live = self.live().get("EventPattern")
        observed = json.loads(live) if live else None
        if normal_pattern(observed) != normal_pattern(declared):
            return bad(declared, observed, "the rule's event pattern differs from the template")
        return ok(declared, observed, "the rule's event pattern is as declared")

    def target(self):
        declared = self.ctx.model.resolve_at(self.logical_id, "Targets") or []
        expected = sorted(t.get("Arn") for t in declared)
        function_arn = self.ctx.arn(self.ctx.parts.function) if self.ctx.parts.function else None
        targets = self.ctx.session.paginate("events", "list_targets_by_rule", "Targets", Rule=self.name, **self.bus)
        observed = sorted(t.get("Arn") for t in targets)
        if function_arn not in expected:
            return bad(expected, observed, f"the template does not target the monitor function {function_arn}")
        if observed != expected:
            return bad(expected, observed, "the rule's targets differ from the template")
        return ok(expected, observed, "the rule targets the monitor function")

    def tags(self):
        declared = declared_tags(self.ctx.model.properties(self.logical_id))
        if not declared:
            return ok({}, None, "the template declares no tags for the rule")
        live = self.ctx.session.read("events", "list_tags_for_resource", ResourceARN=self.live().get("Arn")).get("Tags")
        return tags_subset(declared, {t["Key"]: t.get("Value", "") for t in live or []}, "the rule")


def normal_pattern(pattern):
    """An event pattern with its lists sorted: EventBridge matches a list's values in any order."""
    if isinstance(pattern, dict):
        return {k: normal_pattern(v) for k, v in pattern.items()}
    if isinstance(pattern, list):
        return sorted((normal_pattern(v) for v in pattern), key=lambda v: json.dumps(v, sort_keys=True))
    return pattern


def checks(ctx):
    found = []
    if ctx.parts.rule:
        rule = _Rule(ctx, ctx.parts.rule)
        resource = ctx.arn(ctx.parts.rule)
        found += [
            Check("events.rule", resource, rule.rule),
            Check("events.target", resource, rule.target),
            Check("events.tags", resource, rule.tags),
        ]
    if ctx.parts.upload_rule:
        rule = _Rule(ctx, ctx.parts.upload_rule)
        resource = ctx.arn(ctx.parts.upload_rule)
        found += [
            Check("events.upload_check.rule", resource, rule.state),
            Check("events.upload_check.pattern", resource, rule.pattern),
            Check("events.upload_check.target", resource, rule.target),
            Check("events.upload_check.tags", resource, rule.tags),
        ]
    return found
