#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: localstack_parity
short_description: Apply the settings that LocalStack's CloudFormation drops
version_added: 1.0.0
description:
  - B(For LocalStack only.) LocalStack's CloudFormation reports C(CREATE_COMPLETE) for an C(AWS::S3::Bucket)
    but does not apply some of its properties (default encryption, access logging, ...) and creates the
    bucket with a public-read ACL when C(AccessControl) is left out. On AWS, CloudFormation applies all of
    them and this module is not needed; it does not check which one it talks to, the caller decides.
  - Reads the stack's deployed template (or O(template_body)), resolves it for the stack's parameters and
    resources, and applies to the data bucket and, when the stack has one, the access-log bucket the
    settings the template declares, directly through the S3 API.
  - "Settings, in the order applied: the ACL (C(AccessControl), default private), ownership controls,
    public access block, default encryption (SSE-KMS with the resolved key and C(BucketKeyEnabled)),
    versioning, lifecycle rules, access logging (target bucket and prefix)."
  - The ACL is set before ownership controls, because ACL calls fail once C(BucketOwnerEnforced) is in
    force; if the bucket already enforces it, ownership is relaxed to C(ObjectWriter) for the ACL call
    and then set as declared.
  - Idempotent. Each setting is read and compared with the declared one, normalised (key ids, aliases
    and ARNs of the same KMS key are equal, lifecycle rules are compared field by field), and only the
    settings that differ are written.
  - A template without C(LoggingConfiguration) or C(LifecycleConfiguration) for a bucket means none, so
    live ones are removed; settings the template leaves out otherwise are not touched.
  - Also the monitor's log group (C(RetentionInDays) and C(KmsKeyId); LocalStack does not implement
    C(AssociateKmsKey), so a log group without its key is deleted and created again with it, which drops
    its log events), the tags of the schedule rule, which LocalStack's CloudFormation drops as well, and the
    rule's schedule expression, which it does not update.
author:
  - TAP infrastructure team (@tap-infra)
options:
  stack_name:
    description:
      - Name or id of the CloudFormation stack.
    type: str
    required: true
  template_body:
    description:
      - Template text (YAML or JSON) to use instead of the stack's deployed template.
      - Meant for tests; normally leave it out so that the deployed template is the reference.
    type: str
notes:
  - Supports check mode; RV(applied) then lists what would be written and nothing is written.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Bring the LocalStack buckets to what the template declares
  tap.ebook_storage.localstack_parity:
    stack_name: ebooks-storage-dev
    endpoint_url: http://127.0.0.1:4566
  when: target_is_localstack | bool

- name: What would change
  tap.ebook_storage.localstack_parity:
    stack_name: ebooks-storage-dev
    endpoint_url: http://127.0.0.1:4566
  check_mode: true
  register: parity
"""

RETURN = r"""
applied:
  description:
    - Settings written (or that would be written in check mode), as C(<bucket part>.<setting>) where the
      part is C(data_bucket) or C(logging_bucket).
  returned: always
  type: list
  elements: str
  sample: ["logging_bucket.encryption", "data_bucket.acl", "data_bucket.encryption", "data_bucket.logging"]
desired:
  description: The settings declared for each bucket, in S3 API shapes, by bucket part.
  returned: always
  type: dict
  sample: {"data_bucket": {"bucket": "ebooks-storage-dev-123456789012", "settings": {"versioning": "Enabled"}}}
notes:
  description: Remarks on how settings were applied (for example a temporary ownership change).
  returned: always
  type: list
  elements: str
  sample: []
api_calls:
  description: AWS API calls made by this run.
  returned: always
  type: dict
  contains:
    total:
      description: Number of calls.
      type: int
      returned: always
    by_operation:
      description: Number of calls per C(service:Operation).
      type: dict
      returned: always
  sample: {"total": 2, "by_operation": {"cloudformation:DescribeStacks": 1, "s3:GetBucketAcl": 1}}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings as bs
from ansible_collections.tap.ebook_storage.plugins.module_utils import monitor_parity as mp
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import load_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import rule_name_from_physical_id
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
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


def main():
    argument_spec = dict(
        stack_name=dict(type="str", required=True),
        template_body=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    stack_name = module.params["stack_name"]
    session = AwsSession(module)

    try:
        model = load_stack(session, stack_name, module.params["template_body"])
        parts = StackParts(model)
        if not parts.data_bucket:
            raise TemplateResolutionError("Outputs.EbooksBucketName", "cannot find the data bucket in the template")
        buckets = []
        # The log bucket first: the data bucket's logging needs its target ready.
        for part, logical_id in (("logging_bucket", parts.logging_bucket), ("data_bucket", parts.data_bucket)):
            if not logical_id:
                continue
            name = parts.name(logical_id)
            if not name:
                raise TemplateResolutionError(f"Resources.{logical_id}", "the stack has no physical id for this bucket")
            buckets.append((part, name, bs.desired_settings(model.properties(logical_id), name)))
    except StackNotFoundError as e:
        module.fail_json(msg=str(e))
    except (TemplateError, TemplateResolutionError) as e:
        module.fail_json(msg=f"cannot read the template of stack {stack_name}: {e}")
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read stack {stack_name}")

    keys = KeyResolver(session, model.region, model.account_id, model.partition)
    applied = []
    notes = []
    for part, name, desired in buckets:
        apply_bucket(module, session, keys, part, name, desired, applied, notes)
    apply_monitor(module, session, keys, model, parts, applied, notes)

    module.exit_json(
        changed=bool(applied),
        applied=applied,
        notes=notes,
        desired={part: {"bucket": name, "settings": desired} for part, name, desired in buckets},
        api_calls=session.api_calls(),
    )


if __name__ == "__main__":
    main()
