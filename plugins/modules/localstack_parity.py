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
    versioning, lifecycle rules, access logging (target bucket and prefix), inventory configurations
    (C(InventoryConfigurations), matched by id; undeclared ones are deleted), event notifications
    (C(NotificationConfiguration); one put replaces the whole configuration, so it holds every declared kind,
    C(EventBridgeConfiguration) included)."
  - The ACL is set before ownership controls, because ACL calls fail once C(BucketOwnerEnforced) is in
    force; if the bucket already enforces it, ownership is relaxed to C(ObjectWriter) for the ACL call
    and then set as declared.
  - Idempotent. Each setting is read and compared with the declared one, normalised (key ids, aliases
    and ARNs of the same KMS key are equal, lifecycle rules are compared field by field), and only the
    settings that differ are written.
  - A template without C(LoggingConfiguration), C(LifecycleConfiguration), C(InventoryConfigurations) or
    C(NotificationConfiguration) for a bucket means none, so
    live ones are removed; settings the template leaves out otherwise are not touched.
  - Also the monitor's log group (C(RetentionInDays) and C(KmsKeyId); LocalStack does not implement
    C(AssociateKmsKey), so a log group without its key is deleted and created again with it, which drops
    its log events), the tags of the schedule rule and of the upload check rule, which LocalStack's
    CloudFormation drops as well, and the
    rule's schedule expression, which it does not update.
  - The alias of a C(AWS::KMS::Alias) resource whose condition is now false (a stack switched to an external
    key) is deleted. LocalStack keeps it, AWS deletes it with the resource, and left behind it would make a
    later create of the stack fail (reported as C(kms_alias.removed)).
author:
  - TAP infrastructure team (@tap-infra)
notes:
  - Supports check mode; RV(applied) then lists what would be written and nothing is written.
extends_documentation_fragment:
  - tap.ebook_storage.stack
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

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import load_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.localstack_parity import apply_parity


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
        parity = apply_parity(module, session, model)
    except StackNotFoundError as e:
        module.fail_json(msg=str(e))
    except (TemplateError, TemplateResolutionError) as e:
        module.fail_json(msg=f"cannot read the template of stack {stack_name}: {e}")
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read stack {stack_name}")

    module.exit_json(changed=bool(parity["applied"]), api_calls=session.api_calls(), **parity)


if __name__ == "__main__":
    main()
