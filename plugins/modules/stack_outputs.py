#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_outputs
short_description: Read a CloudFormation stack's outputs, parameters, status and tags
version_added: 1.0.0
description:
  - Reads one CloudFormation stack with C(DescribeStacks) and returns its outputs (as a flat mapping and
    as the raw list), parameters, status, tags and id.
  - When O(dest) is given, also writes C(<dest>/stack-outputs.json) (the raw list of outputs) and
    C(<dest>/flat-outputs.json) (an object of output key to value). Each file is written to a temporary
    file and moved into place, and only when its content changes.
  - Fails with a message naming the stack, the region and the endpoint when the stack does not exist.
author:
  - TAP infrastructure team (@tap-infra)
options:
  stack_name:
    description:
      - Name or id of the CloudFormation stack.
    type: str
    required: true
  dest:
    description:
      - Directory to write C(stack-outputs.json) and C(flat-outputs.json) into.
      - Created when it does not exist.
      - When not given, no file is written.
    type: path
notes:
  - Supports check mode; in check mode the files are not written, and C(changed) tells whether they would change.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the outputs of the dev stack
  tap.ebook_storage.stack_outputs:
    stack_name: ebooks-storage-dev
    region: us-east-1
  register: stack

- name: Use an output
  ansible.builtin.debug:
    msg: "Bucket: {{ stack.outputs.EbooksBucketName }}"

- name: Write cfn-outputs/stack-outputs.json and cfn-outputs/flat-outputs.json
  tap.ebook_storage.stack_outputs:
    stack_name: ebooks-storage-dev
    dest: "{{ playbook_dir }}/../cfn-outputs"

- name: Against LocalStack
  tap.ebook_storage.stack_outputs:
    stack_name: ebooks-storage-dev
    endpoint_url: http://127.0.0.1:4566
"""

RETURN = r"""
outputs:
  description: Outputs of the stack as a mapping of output key to value.
  returned: always
  type: dict
  sample: {"EbooksBucketName": "ebooks-storage-dev-123456789012", "EnvironmentName": "dev"}
stack_outputs:
  description: Outputs of the stack as DescribeStacks returns them.
  returned: always
  type: list
  elements: dict
  contains:
    OutputKey:
      description: Name of the output.
      type: str
      returned: always
    OutputValue:
      description: Value of the output.
      type: str
      returned: always
    Description:
      description: Description of the output.
      type: str
      returned: when the template gives one
    ExportName:
      description: Export name of the output.
      type: str
      returned: when the output is exported
  sample: [{"OutputKey": "EnvironmentName", "OutputValue": "dev", "ExportName": "ebooks-storage-dev-EnvironmentName"}]
parameters:
  description: Parameters of the stack as a mapping of parameter key to value.
  returned: always
  type: dict
  sample: {"Environment": "dev", "EnableLogging": "true"}
status:
  description: Status of the stack.
  returned: always
  type: str
  sample: CREATE_COMPLETE
tags:
  description: Tags of the stack as a mapping.
  returned: always
  type: dict
  sample: {"Project": "ebook-storage"}
stack_id:
  description: Id (ARN) of the stack.
  returned: always
  type: str
  sample: arn:aws:cloudformation:us-east-1:123456789012:stack/ebooks-storage-dev/0a1b2c3d-4e5f-6789-abcd-ef0123456789
files:
  description: Paths of the files written (or that would be written in check mode), and whether each changed.
  returned: when O(dest) is given
  type: dict
  contains:
    stack_outputs:
      description: Path of C(stack-outputs.json).
      type: str
      returned: always
    flat_outputs:
      description: Path of C(flat-outputs.json) (the last deploy's, whichever environment it was).
      type: str
      returned: always
    environment_dir:
      description:
        - Folder of the stack's environment (its C(EnvironmentName) output) beside them, with the same two files
          and C(outputs.env) (shell assignments, for C(. cfn-outputs/prod/outputs.env)); null without that output.
      type: str
      returned: always
    changed:
      description: Names (relative to O(dest)) of the files whose content changed (or would change).
      type: list
      elements: str
      returned: always
  sample:
    stack_outputs: /srv/cfn-outputs/stack-outputs.json
    flat_outputs: /srv/cfn-outputs/flat-outputs.json
    environment_dir: /srv/cfn-outputs/dev
    changed: ["flat-outputs.json", "dev/flat-outputs.json"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import describe_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.output_files import stack_summary
from ansible_collections.tap.ebook_storage.plugins.module_utils.output_files import write_outputs


def main():
    argument_spec = dict(
        stack_name=dict(type="str", required=True),
        dest=dict(type="path"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    stack_name = module.params["stack_name"]
    session = AwsSession(module)

    try:
        stack = describe_stack(session, stack_name)
    except StackNotFoundError as e:
        module.fail_json(msg=str(e))
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot describe stack {stack_name}")

    result = dict(changed=False, **stack_summary(stack))
    if module.params["dest"]:
        files = write_outputs(module, module.params["dest"], result["stack_outputs"], result["outputs"])
        result["files"] = files
        result["changed"] = bool(files["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
