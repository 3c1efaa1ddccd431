#!/usr/bin/python

# Copyright (c) 2026 TAP infrastructure team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: template_parameters
short_description: Check stack parameter values against a CloudFormation template, before any API call
version_added: 1.0.0
description:
  - Reads the C(Parameters) section of a CloudFormation template and checks the given values against each
    parameter's C(Type), C(AllowedValues), C(AllowedPattern), C(MinValue), C(MaxValue), C(MinLength) and C(MaxLength).
  - Fails with one message that lists every bad value, names the input it came from and says what is allowed
    (the template's C(ConstraintDescription) where it has one).
  - Makes no API call, so a deploy with a bad value stops before anything is created or changed.
  - Runs on the controller through its action plugin, without a Python process of its own; O(template_path)
    is a path on the controller, relative paths are looked up as other controller files are (role C(files/),
    playbook directory).
author:
  - TAP infrastructure team (@tap-infra)
options:
  template_path:
    description: Path of the CloudFormation template (YAML or JSON).
    required: true
    type: path
  parameters:
    description: Parameter values by their CloudFormation names. Booleans become V(true)/V(false).
    default: {}
    type: dict
  input_names:
    description:
      - How each parameter is called where the user set it, for the error message.
      - Parameters not listed here are named C(<input_prefix><Name>).
    default: {}
    type: dict
  input_prefix:
    description: Prefix for the input name of parameters not in O(input_names).
    default: ""
    type: str
"""

EXAMPLES = r"""
- name: Check the values before deploying
  tap.ebook_storage.template_parameters:
    template_path: files/TapStack.yml
    parameters:
      Environment: dev
      LogRetentionDays: 30
    input_names:
      Environment: ebook_stack_environment
    input_prefix: ebook_stack_parameters.
  register: checked
"""

RETURN = r"""
parameters:
  description: The values as strings, ready for O(amazon.aws.cloudformation#module:template_parameters).
  returned: success
  type: dict
  sample: {"Environment": "dev", "LogRetentionDays": "30"}
names:
  description:
    - The values of the outputs that the template alone decides for these parameters (a C(Ref) to a resource
      whose name the template sets, or to a parameter), whether or not the output's condition holds.
    - What a stack of these parameters calls its buckets, function and rules, also when no stack exists.
  returned: success
  type: dict
  sample: {"EbooksBucketName": "ebooks-storage-dev", "LoggingBucketName": "ebooks-storage-logs-dev"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.parameter_checks import ARGUMENT_SPEC
from ansible_collections.tap.ebook_storage.plugins.module_utils.parameter_checks import validate


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    ok, result = validate(module.params)
    if not ok:
        module.fail_json(**result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
