# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bring a LocalStack stack's buckets, log group and schedule rule to what its template declares.

LocalStack's CloudFormation reports CREATE_COMPLETE but drops some settings
(bucket encryption, logging, lifecycle, public access block, ownership, a
private ACL; log-group retention and key; rule tags and schedule updates).
Used by the localstack_parity and post_deploy modules; on AWS it is not needed.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings as bs
from ansible_collections.tap.ebook_storage.plugins.module_utils import monitor_parity as mp
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import rule_name_from_physical_id
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.kms_keys import KeyResolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_resources import StackParts

ACL_DISABLED_ERRORS = ("AccessControlListNotSupported", "InvalidBucketAclWithObjectOwnership")


def put_acl(session, bucket, canned, notes):
    try:
        bs.put_setting(session, bucket, "acl", canned)
    except AWS_ERRORS as e:
        if error_code(e) not in ACL_DISABLED_ERRORS:
            raise
        bs.put_setting(session, bucket, "ownership", "ObjectWriter")
        bs.put_setting(session, bucket, "acl", canned)
        notes.append(f"{bucket}: ownership set to ObjectWriter to replace the ACL, then set as declared")


def apply_bucket(module, session, keys, part, bucket, desired, applied, notes):
    for setting in bs.SETTING_NAMES:
        if not bs.managed(setting, desired):
            continue
        want = desired[setting]
        try:
            live = bs.read_setting(session, bucket, setting)
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg=f"cannot read {setting} of bucket {bucket}", applied=applied)
        if bs.setting_matches(setting, want, live, keys):
            continue
        applied.append(f"{part}.{setting}")
        if module.check_mode:
            continue
        try:
            if setting == "acl":
                put_acl(session, bucket, want, notes)
                bs.forget_setting(session, bucket, "ownership")
            else:
                bs.put_setting(session, bucket, setting, want)
        except AWS_ERRORS as e:
            module.fail_json_aws(e, msg=f"cannot apply {setting} to bucket {bucket}", applied=applied)


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
    try:
        rule = session.read("events", "describe_rule", Name=rule_name)
        missing = mp.missing_rule_tags(session, rule["Arn"], tags) if tags else {}
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read rule {rule_name}", applied=applied)
    # LocalStack's CloudFormation does not update an existing rule: a new
    # schedule expression reaches UPDATE_COMPLETE and the rule keeps the old one.
    schedule = model.properties(rule_lid).get("ScheduleExpression")
    if schedule and rule.get("ScheduleExpression") != schedule:
        applied.append("schedule_rule.schedule")
        if not module.check_mode:
            try:
                mp.apply_rule_schedule(session, rule, schedule)
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"cannot set the schedule of rule {rule_name}", applied=applied)
    if missing:
        applied.append("schedule_rule.tags")
        if not module.check_mode:
            try:
                mp.apply_rule_tags(session, rule["Arn"], missing)
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


def bucket_targets(model, parts):
    """[(part, bucket name, desired settings)], the log bucket first: the data bucket's logging needs its target.

    Raises TemplateResolutionError when the template has no data bucket or a bucket has no physical id.
    """
    if not parts.data_bucket:
        raise TemplateResolutionError("Outputs.EbooksBucketName", "cannot find the data bucket in the template")
    buckets = []
    for part, logical_id in (("logging_bucket", parts.logging_bucket), ("data_bucket", parts.data_bucket)):
        if not logical_id:
            continue
        name = parts.name(logical_id)
        if not name:
            raise TemplateResolutionError(f"Resources.{logical_id}", "the stack has no physical id for this bucket")
        buckets.append((part, name, bs.desired_settings(model.properties(logical_id), name)))
    return buckets


def apply_parity(module, session, model):
    """Apply what differs (nothing in check mode); returns {applied, notes, desired}.

    Raises TemplateResolutionError like bucket_targets; an AWS error fails the module with what was applied.
    """
    parts = StackParts(model)
    buckets = bucket_targets(model, parts)
    keys = KeyResolver(session, model.region, model.account_id, model.partition)
    applied = []
    notes = []
    for part, name, desired in buckets:
        apply_bucket(module, session, keys, part, name, desired, applied, notes)
    apply_monitor(module, session, keys, model, parts, applied, notes)
    apply_removed_aliases(module, session, model, applied)
    return {
        "applied": applied,
        "notes": notes,
        "desired": {part: {"bucket": name, "settings": desired} for part, name, desired in buckets},
    }
