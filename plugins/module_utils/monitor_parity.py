# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Monitor settings that LocalStack's CloudFormation drops besides the bucket ones.

Seen with LocalStack 2026.3.0: an AWS::Logs::LogGroup gets neither its
RetentionInDays nor its KmsKeyId, and an AWS::Events::Rule gets no Tags.
The API calls themselves work there (except AssociateKmsKey, which is not
implemented, so a log group is given its key by creating it again).
"""

from __future__ import annotations


def desired_log_group(model, parts):
    """(log group name, {"retention": int or None, "kms_key": str or None, "tags": dict}) or (None, None)."""
    logical_id, name = parts.log_group_of_function()
    if not logical_id or not name:
        return None, None
    props = model.properties(logical_id)
    retention = props.get("RetentionInDays")
    return name, {
        "retention": int(retention) if retention is not None else None,
        "kms_key": props.get("KmsKeyId") or None,
        "tags": {t["Key"]: str(t.get("Value", "")) for t in props.get("Tags") or []},
    }


def live_log_group(session, name):
    groups = session.paginate("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=name)
    return next((g for g in groups if g.get("logGroupName") == name), None)


def log_group_changes(session, keys, name, desired):
    """Names of the log group settings that differ: 'encryption', 'retention'."""
    live = live_log_group(session, name)
    if live is None:
        return ["encryption", "retention"] if desired["kms_key"] else ["retention"]
    changes = []
    if desired["kms_key"] and not keys.same_key(desired["kms_key"], live.get("kmsKeyId")):
        changes.append("encryption")
    if desired["retention"] != live.get("retentionInDays"):
        changes.append("retention")
    return changes


def apply_log_group(session, name, desired, changes, notes):
    if "encryption" in changes:
        # AssociateKmsKey is not implemented by LocalStack: create the group again with its key.
        if live_log_group(session, name) is not None:
            session.call("logs", "delete_log_group", logGroupName=name)
            notes.append(f"log group {name} created again to give it its KMS key (its events were dropped)")
        params = {"logGroupName": name, "kmsKeyId": desired["kms_key"]}
        if desired["tags"]:
            params["tags"] = desired["tags"]
        session.call("logs", "create_log_group", **params)
    if desired["retention"] is not None and ("retention" in changes or "encryption" in changes):
        session.call("logs", "put_retention_policy", logGroupName=name, retentionInDays=desired["retention"])
    elif desired["retention"] is None and "retention" in changes:
        session.call("logs", "delete_retention_policy", logGroupName=name)
    session.forget("logs", "paginate:describe_log_groups", logGroupNamePrefix=name)


def declared_tags(model, logical_id):
    return {t["Key"]: str(t.get("Value", "")) for t in model.properties(logical_id).get("Tags") or []}


def desired_rule_tags(model, parts):
    if not parts.rule:
        return None, {}
    return parts.rule, declared_tags(model, parts.rule)


# LocalStack schedules a rule only when the rule is created: neither a stack update nor put_rule on the
# existing rule reschedules it (measured: no invocation in 200 s after a change to rate(1 minute); after a
# delete and create with the same targets it fired within 30 s). The expression the rule was last created
# with is kept in this tag, so that a rule is created again exactly when its schedule changed.
SCHEDULED_TAG = "tap-localstack-scheduled"


def rule_tags(session, rule_arn):
    live = session.read("events", "list_tags_for_resource", ResourceARN=rule_arn).get("Tags") or []
    return {t["Key"]: t.get("Value", "") for t in live}


def missing_rule_tags(session, rule_arn, declared):
    live = rule_tags(session, rule_arn)
    return {k: v for k, v in declared.items() if live.get(k) != v}


def needs_rescheduling(session, rule, schedule):
    """Whether LocalStack's scheduler may run ``rule`` on anything but ``schedule``."""
    return rule.get("ScheduleExpression") != schedule or rule_tags(session, rule["Arn"]).get(SCHEDULED_TAG) != schedule


def recreate_rule(session, rule, schedule, tags):
    """Delete the rule and create it again with ``schedule``, its targets and ``tags`` (plus SCHEDULED_TAG).

    The name, and so the ARN that the function's resource policy names, stays the same.
    """
    name = rule["Name"]
    targets = session.call("events", "list_targets_by_rule", Rule=name).get("Targets") or []
    if targets:
        session.call("events", "remove_targets", Rule=name, Ids=[t["Id"] for t in targets])
    session.call("events", "delete_rule", Name=name)
    params = {"Name": name, "ScheduleExpression": schedule, "State": rule.get("State", "ENABLED"),
              "Tags": [{"Key": k, "Value": v} for k, v in dict(tags, **{SCHEDULED_TAG: schedule}).items()]}
    if rule.get("Description"):
        params["Description"] = rule["Description"]
    session.call("events", "put_rule", **params)
    if targets:
        session.call("events", "put_targets", Rule=name, Targets=targets)
    session.forget("events", "describe_rule", Name=name)
    session.forget("events", "list_tags_for_resource", ResourceARN=rule["Arn"])


def apply_rule_tags(session, rule_arn, missing):
    session.call(
        "events", "tag_resource", ResourceARN=rule_arn, Tags=[{"Key": k, "Value": v} for k, v in missing.items()]
    )
    session.forget("events", "list_tags_for_resource", ResourceARN=rule_arn)
