# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the monitor function (``lambda.*``): configuration, log group, destination, permission."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import rule_name_from_physical_id
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_logical_id
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import compare
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import declared_tags
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import tags_subset

# CloudFormation's defaults for properties a template may leave out.
DEFAULTS = {"Timeout": 3, "MemorySize": 128}


class _Function:
    def __init__(self, ctx, logical_id):
        self.ctx = ctx
        self.logical_id = logical_id
        self.name = ctx.parts.name(logical_id)

    def config(self):
        return self.ctx.session.read("lambda", "get_function_configuration", FunctionName=self.name)

    def declared(self, prop):
        value = self.ctx.model.resolve_at(self.logical_id, prop)
        return DEFAULTS.get(prop) if value is None else value

    def field(self, prop, cast=str):
        def run():
            want = self.declared(prop)
            got = self.config().get(prop)
            return compare(cast(want) if want is not None else None, cast(got) if got is not None else None, prop)

        return run

    def role(self):
        want = self.declared("Role")
        got = self.config().get("Role")
        return compare(want, got, "the execution role")

    def environment(self):
        declared = (self.declared("Environment") or {}).get("Variables") or {}
        declared = {k: str(v) for k, v in declared.items()}
        live = ((self.config().get("Environment") or {}).get("Variables")) or {}
        live = {k: str(v) for k, v in live.items()}
        problems = []
        if declared != live:
            names = sorted(k for k in set(declared) | set(live) if declared.get(k) != live.get(k))
            problems.append(f"variables differ from the template: {names}")
        bucket = self.ctx.parts.name(self.ctx.parts.data_bucket)
        if "BUCKET_NAME" in live and live["BUCKET_NAME"] != bucket:
            problems.append(f"BUCKET_NAME is {live['BUCKET_NAME']}, not this stack's bucket {bucket}")
        topic = self.ctx.arn(self.ctx.parts.topic) if self.ctx.parts.topic else None
        if "SNS_TOPIC_ARN" in live and live["SNS_TOPIC_ARN"] != topic:
            problems.append(f"SNS_TOPIC_ARN is {live['SNS_TOPIC_ARN']}, not this stack's topic {topic}")
        if problems:
            return bad(declared, live, "; ".join(problems))
        return ok(declared, live, "environment variables are as declared and point at this stack's bucket and topic")

    def _log_group(self):
        logical_id, name = self.ctx.parts.log_group_of_function()
        groups = self.ctx.session.paginate("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=name)
        live = next((g for g in groups if g.get("logGroupName") == name), None)
        declared = (self.ctx.model.properties(logical_id) if logical_id else {}) or {}
        return name, declared, live

    def log_group(self):
        name, declared, live = self._log_group()
        expected = {"logGroupName": name}
        if declared.get("RetentionInDays") is not None:
            expected["retentionInDays"] = int(declared["RetentionInDays"])
        if live is None:
            return bad(expected, None, f"log group {name} does not exist")
        observed = {key: live.get(key) for key in expected}
        if observed != expected:
            return bad(
                expected,
                observed,
                f"retention is {observed.get('retentionInDays')}, the template declares {expected['retentionInDays']}",
            )
        return ok(expected, observed, f"log group {name} exists as declared")

    def log_group_encryption(self):
        name, declared, live = self._log_group()
        want = declared.get("KmsKeyId")
        if live is None:
            return bad(want, None, f"log group {name} does not exist")
        got = live.get("kmsKeyId")
        if not want:
            return ok(None, got, "the template declares no key for the log group")
        if not self.ctx.keys.same_key(want, got):
            return bad(want, got, f"the log group is encrypted with {got}, not the declared key")
        return ok(want, got, "the log group is encrypted with the declared key")

    def on_failure_destination(self):
        configs = self.ctx.parts.invoke_configs
        topic = self.ctx.arn(self.ctx.parts.topic) if self.ctx.parts.topic else None
        if not configs:
            return bad(topic, None, "the template declares no AWS::Lambda::EventInvokeConfig for the function")
        props = self.ctx.model.properties(configs[0])
        want = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        expected = {"OnFailure": want}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if props.get(key) is not None:
                expected[key] = int(props[key])
        params = {"FunctionName": self.name}
        qualifier = props.get("Qualifier")
        if qualifier and qualifier != "$LATEST":
            params["Qualifier"] = qualifier
        try:
            live = self.ctx.session.read("lambda", "get_function_event_invoke_config", **params)
        except AWS_ERRORS as e:
            if error_code(e) == "ResourceNotFoundException":
                return bad(expected, None, "the function has no event invoke configuration")
            raise
        observed = {"OnFailure": ((live.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")}
        for key in expected:
            if key != "OnFailure":
                observed[key] = live.get(key)
        if want != topic:
            return bad(expected, observed, f"the template sends failures to {want}, not to the stack's topic {topic}")
        if observed != expected:
            return bad(expected, observed, "the event invoke configuration differs from the template")
        return ok(expected, observed, "failures go to the alert topic")

    def _granted_rules(self):
        """{declared SourceArn: live ARN} of the stack's rules that the template's permissions name."""
        found = {}
        for lid in self.ctx.parts.permissions:
            source = (self.ctx.model.resources[lid].get("Properties") or {}).get("SourceArn")
            rule_lid = referenced_logical_id(source)
            if not rule_lid or self.ctx.model.resource_type(rule_lid) != "AWS::Events::Rule":
                continue
            rule_name = rule_name_from_physical_id(self.ctx.parts.name(rule_lid))
            live = self.ctx.session.read("events", "describe_rule", Name=rule_name).get("Arn")
            found[self.ctx.model.properties(lid).get("SourceArn")] = live
        return found

    def permission(self):
        declared = []
        for lid in self.ctx.parts.permissions:
            props = self.ctx.model.properties(lid)
            declared.append({"Principal": props.get("Principal"), "SourceArn": props.get("SourceArn")})
        rules = self._granted_rules()
        try:
            answer = self.ctx.session.read("lambda", "get_policy", FunctionName=self.name)
        except AWS_ERRORS as e:
            if error_code(e) == "ResourceNotFoundException":
                return bad(declared, None, "the function has no resource policy")
            raise
        observed = [_statement_source(stmt) for stmt in pd.statements(answer.get("Policy"))]
        problems = [f"the template grants {want}, but that rule's ARN is {got}" for want, got in rules.items()
                    if got != want]
        problems += [f"the template grants {stmt['SourceArn']}, which is not a rule of the stack"
                     for stmt in declared if stmt["SourceArn"] not in rules]
        for stmt in observed:
            if stmt["SourceArn"] is None:
                problems.append(f"a statement for {stmt['Principal']} has no SourceArn condition")
            elif stmt not in declared:
                problems.append(f"a statement for {stmt['Principal']} from {stmt['SourceArn']} is not declared")
        for stmt in declared:
            if stmt not in observed:
                problems.append(f"the declared permission for {stmt['Principal']} from {stmt['SourceArn']} is missing")
        if not observed:
            problems.append("the resource policy has no statement")
        if problems:
            return bad(declared, observed, "; ".join(problems))
        return ok(declared, observed, f"only the rules the template grants may invoke the function: {sorted(rules)}")

    def tags(self):
        declared = declared_tags(self.ctx.model.properties(self.logical_id))
        arn = self.config().get("FunctionArn")
        live = self.ctx.session.read("lambda", "list_tags", Resource=arn).get("Tags") or {}
        return tags_subset(declared, live, "the function")


def _statement_source(stmt):
    """{"Principal", "SourceArn"} of a statement of the function's resource policy."""
    principal = stmt.get("Principal")
    if isinstance(principal, dict):
        principal = principal.get("Service") or principal.get("AWS")
    source = None
    for entries in (stmt.get("Condition") or {}).values():
        for key, value in (entries or {}).items():
            if key.lower() == "aws:sourcearn":
                source = value if isinstance(value, str) else (value or [None])[0]
    return {"Principal": principal, "SourceArn": source}


def checks(ctx):
    if not ctx.parts.function:
        return []
    fn = _Function(ctx, ctx.parts.function)
    resource = ctx.arn(ctx.parts.function)
    return [
        Check("lambda.runtime", resource, fn.field("Runtime")),
        Check("lambda.handler", resource, fn.field("Handler")),
        Check("lambda.timeout", resource, fn.field("Timeout", int)),
        Check("lambda.memory_size", resource, fn.field("MemorySize", int)),
        Check("lambda.role", resource, fn.role),
        Check("lambda.environment", resource, fn.environment),
        Check("lambda.log_group", resource, fn.log_group),
        Check("lambda.log_group_encryption", resource, fn.log_group_encryption),
        Check("lambda.on_failure_destination", resource, fn.on_failure_destination),
        Check("lambda.permission", resource, fn.permission),
        Check("lambda.tags", resource, fn.tags),
    ]
