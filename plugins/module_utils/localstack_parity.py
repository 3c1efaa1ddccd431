# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bring a LocalStack stack's buckets, log group and rules to what its template declares.

LocalStack's CloudFormation reports CREATE_COMPLETE but drops some settings
(bucket encryption, logging, lifecycle, inventory, EventBridge notifications, public access block,
ownership, a private ACL; log-group retention and key; rule tags and schedule updates; the inline policies of a role
that it replaces when its trust policy changes).
Used by the localstack_parity and post_deploy modules; on AWS it is not needed
(there drift_repair.bucket_drift compares the same bucket settings, with the same
loop, and puts them back only when asked).
"""

from __future__ import annotations

import json

from ansible_collections.tap.ebook_storage.plugins.module_utils import monitor_parity as mp
from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import rule_name_from_physical_id
from ansible_collections.tap.ebook_storage.plugins.module_utils.drift_repair import bucket_plan
from ansible_collections.tap.ebook_storage.plugins.module_utils.drift_repair import reconcile_buckets


def apply_monitor(module, session, keys, model, parts, applied, notes):
    """The log group's retention and key, and the schedule rule's tags (also dropped by LocalStack)."""
    try:
        name, desired = mp.desired_log_group(model, parts)
        changes = mp.log_group_changes(session, keys, name, desired) if name else []
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="cannot read the monitor's log group", applied=applied)
    applied.extend(f"log_group.{change}" for change in changes)
    if changes and not module.check_mode:
        try:
            mp.apply_log_group(session, name, desired, changes, notes)
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg=f"cannot apply {', '.join(changes)} to log group {name}", applied=applied)

    rule_lid, tags = mp.desired_rule_tags(model, parts)
    if not rule_lid:
        return
    rule_name = rule_name_from_physical_id(parts.name(rule_lid))
    schedule = model.properties(rule_lid).get("ScheduleExpression")
    try:
        rule = session.read("events", "describe_rule", Name=rule_name)
        reschedule = bool(schedule) and mp.needs_rescheduling(session, rule, schedule)
        missing = mp.missing_rule_tags(session, rule["Arn"], tags) if tags else {}
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read rule {rule_name}", applied=applied)
    # The deployed schedule must be the one that fires: LocalStack schedules a rule only when it is created.
    if reschedule:
        applied.append("schedule_rule.schedule")
        if not module.check_mode:
            try:
                mp.recreate_rule(session, rule, schedule, dict(mp.rule_tags(session, rule["Arn"]), **tags))
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"cannot create rule {rule_name} again with {schedule}", applied=applied)
        return  # created again with the declared tags
    if missing:
        applied.append("schedule_rule.tags")
        if not module.check_mode:
            try:
                mp.apply_rule_tags(session, rule["Arn"], missing)
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"cannot tag rule {rule_name}", applied=applied)


def apply_upload_rule_tags(module, session, model, parts, applied):
    """The upload check rule's tags, dropped like the schedule rule's (its pattern and target are kept)."""
    if not parts.upload_rule:
        return
    tags = mp.declared_tags(model, parts.upload_rule)
    rule_name = rule_name_from_physical_id(parts.name(parts.upload_rule))
    try:
        rule_arn = session.read("events", "describe_rule", Name=rule_name)["Arn"]
        missing = mp.missing_rule_tags(session, rule_arn, tags) if tags else {}
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read rule {rule_name}", applied=applied)
    if not missing:
        return
    applied.append("upload_rule.tags")
    if not module.check_mode:
        try:
            mp.apply_rule_tags(session, rule_arn, missing)
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg=f"cannot tag rule {rule_name}", applied=applied)


def removed_aliases(model):
    """Names of the template's KMS aliases whose condition is false now (their resource left the stack)."""
    return [
        model.resolve_at(lid, "AliasName")
        for lid, resource in model.resources.items()
        if resource.get("Type") == "AWS::KMS::Alias" and not model.active(lid)
    ]


def apply_removed_aliases(module, session, model, applied):
    """LocalStack keeps the alias of a removed AWS::KMS::Alias resource (a stack switched to an external key);
    AWS deletes it. Left, it points at the stack's earlier key and makes a later create of the stack fail."""
    for name in filter(None, removed_aliases(model)):
        try:
            present = any(a["AliasName"] == name for a in session.paginate("kms", "list_aliases", "Aliases"))
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg="cannot list the KMS aliases", applied=applied)
        if not present:
            continue
        applied.append("kms_alias.removed")
        if not module.check_mode:
            try:
                session.call("kms", "delete_alias", AliasName=name)
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"cannot delete the alias {name}", applied=applied)


def apply_role_policies(module, session, parts, applied):
    """LocalStack replaces a role whose trust policy changes (delete, then create) and drops the inline policies
    that AWS::IAM::Policy resources put on it (S3AccessPolicy after a change of PublisherPrincipalArns); AWS
    updates the trust policy in place. Put back the inline policies the template declares."""
    for role_lid in parts.roles:
        role = parts.name(role_lid)
        if not role:
            continue
        try:
            live = set(session.call("iam", "list_role_policies", RoleName=role).get("PolicyNames", []))
            for policy_name, document in parts.inline_policies_of_role(role_lid).items():
                current = None
                if policy_name in live:
                    current = session.call("iam", "get_role_policy", RoleName=role, PolicyName=policy_name)
                    current = current["PolicyDocument"]
                if current is not None and pd.documents_equal(document or {}, current):
                    continue
                applied.append(f"iam.{role_lid}.inline_policies")
                if not module.check_mode:
                    session.call("iam", "put_role_policy", RoleName=role, PolicyName=policy_name,
                                 PolicyDocument=json.dumps(document))
                    session.forget_all()  # the verification reads the role's policies next
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg=f"cannot put back the inline policies of role {role}", applied=applied)


def apply_parity(module, session, model):
    """Apply what differs (nothing in check mode); returns {applied, notes, desired}.

    The buckets go through drift_repair.reconcile_buckets, as a repair of drift on AWS does, with every
    setting that differs written. Raises TemplateResolutionError like drift_repair.bucket_targets; an AWS
    error fails the module with what was applied.
    """
    parts, buckets, keys = bucket_plan(session, model)
    applied = []
    notes = []
    reconcile_buckets(module, session, keys, buckets, applied, notes, written=[], failure=lambda: {"applied": applied})
    apply_monitor(module, session, keys, model, parts, applied, notes)
    apply_upload_rule_tags(module, session, model, parts, applied)
    apply_role_policies(module, session, parts, applied)
    apply_removed_aliases(module, session, model, applied)
    return {
        "applied": applied,
        "notes": notes,
        "desired": {part: {"bucket": name, "settings": desired} for part, name, desired in buckets},
    }
