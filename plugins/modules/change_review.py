#!/usr/bin/python

# Copyright (c) 2026 TAP infrastructure team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: change_review
short_description: Show what a stack deploy would change and which changes can delete stored data
version_added: 1.1.0
description:
  - Compares the stack's current parameters with the ones a deploy would pass (the template's defaults filled
    in) and lists each parameter's old and new value.
  - Marks every change that can delete stored data, read from the template - a parameter that sets an expiry
    (S3 lifecycle C(ExpirationInDays) or C(NoncurrentVersionExpiration.NoncurrentDays), CloudWatch Logs
    C(RetentionInDays)) and gets smaller, and a change-set entry that replaces or removes a bucket, a KMS key
    or a log group.
  - Makes no API call and changes nothing. Runs on the controller through its action plugin.
author:
  - TAP infrastructure team (@tap-infra)
options:
  template_path:
    description: Path of the CloudFormation template the deploy uses.
    required: true
    type: path
  stack_parameters:
    description: The stack's current parameters (DescribeStacks); empty for a stack that does not exist.
    type: dict
    default: {}
  parameters:
    description: The parameters the deploy passes; the others take the template's defaults.
    type: dict
    default: {}
  changes:
    description:
      - The change set's C(Changes), as M(amazon.aws.cloudformation) returns them in check mode (its C(meta)).
      - Anything that is not a list (its message when nothing changes) counts as no change.
    type: raw
    default: []
  stack_exists:
    description: Whether the stack exists; a new stack has no parameter changes to compare.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Review a change of prod
  tap.ebook_storage.change_review:
    template_path: files/TapStack.yml
    stack_parameters: "{{ preflight.stack.parameters }}"
    parameters: {"Environment": "prod", "NoncurrentVersionExpirationDays": "365"}
    changes: "{{ change_set.meta }}"
  register: review

- name: Stop before a change that deletes data
  ansible.builtin.fail:
    msg: "{{ review.data_loss }}"
  when: review.data_loss | length > 0
"""

RETURN = r"""
parameters:
  description: The parameters whose value changes.
  returned: success
  type: list
  elements: dict
  sample: [{"parameter": "NoncurrentVersionExpirationDays", "old": "730", "new": "365",
            "data_loss": "NoncurrentVersionExpirationDays 730 -> 365: a shorter expiry; ..."}]
resources:
  description: The change set's resource changes.
  returned: success
  type: list
  elements: dict
  sample: [{"action": "Modify", "logical_id": "EbooksS3Bucket", "type": "AWS::S3::Bucket",
            "replacement": "False", "data_loss": null}]
data_loss:
  description: Why each data-deleting change deletes data; empty when none does.
  returned: success
  type: list
  elements: str
table:
  description: The review as text lines; data-deleting rows start with C(!!).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.change_review import ARGUMENT_SPEC
from ansible_collections.tap.ebook_storage.plugins.module_utils.change_review import run_review


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run_review(module.params)
    except (OSError, TemplateError) as e:
        module.fail_json(msg=f"Could not read the template {module.params['template_path']}: {e}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
