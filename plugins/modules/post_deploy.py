#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: post_deploy
short_description: After a deploy, collect the stack's outputs and verify what is deployed, in one step
version_added: 1.1.0
description:
  - The step that follows M(amazon.aws.cloudformation) in the C(ebook_stack) role. It reads the stack, its
    deployed template and its resources once, then in order
  - 1. with O(localstack_parity=true) (LocalStack only), applies the settings LocalStack's CloudFormation
    drops, as M(tap.ebook_storage.localstack_parity) does;
    with O(localstack_parity=false) (AWS), compares the buckets' settings with what the template declares
    and, with O(repair_drift=true), puts back those changed outside CloudFormation (drift), which
    CloudFormation never undoes (RV(drift));
  - 2. returns the outputs and, with O(dest), writes C(stack-outputs.json) and C(flat-outputs.json), as
    M(tap.ebook_storage.stack_outputs) does;
  - 3. with O(verify=true), runs every check of M(tap.ebook_storage.storage_verify) and returns its report.
  - One module run instead of three saves two Python start-ups and the repeated reads of the stack and its
    template; the reads the parity step or the drift comparison makes are reused by the checks unless
    they wrote.
author:
  - TAP infrastructure team (@tap-infra)
options:
  localstack_parity:
    description:
      - Apply the bucket, log-group and rule settings that LocalStack's CloudFormation drops.
      - Only for LocalStack; on AWS, CloudFormation applies them and this must stay V(false) (there
        O(repair_drift) puts back what was changed outside CloudFormation).
    type: bool
    default: false
  repair_drift:
    description:
      - With O(localstack_parity=false), put the bucket settings that differ from what the template declares
        back as declared, before the checks run. They were changed outside CloudFormation, which does not undo
        such a change. Compared and written as the parity step does, for the data bucket and the access-log
        bucket - versioning, default encryption, public access block, ACL, ownership controls, lifecycle rules
        and access logging.
      - With V(false) nothing is written; RV(drift) still lists what differs, and the checks of those
        settings fail.
      - Ignored with O(localstack_parity=true), where the parity step writes every declared setting.
    type: bool
    default: false
  dest:
    description:
      - Directory to write C(stack-outputs.json) and C(flat-outputs.json) into; created when missing.
      - When not given, no file is written.
    type: path
  verify:
    description:
      - Run the verification checks.
    type: bool
    default: true
  functional:
    description:
      - Also run the functional checks (a probe object round trip and a monitor invocation); see
        M(tap.ebook_storage.storage_verify).
    type: bool
    default: false
  fail_on_failed:
    description:
      - Fail the task when a check failed. With V(false) the result still lists the failed checks.
    type: bool
    default: true
notes:
  - Supports check mode; nothing is written (no parity change, no drift repair, no file, no probe object),
    and C(changed) tells whether the parity step, the drift repair or the files would change.
  - C(changed) is V(true) when the parity step applied a setting, the drift repair put one back or an output
    file changed; the checks never change anything but the functional probe object, which they remove again.
extends_documentation_fragment:
  - tap.ebook_storage.stack
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Deploy
  amazon.aws.cloudformation:
    stack_name: ebooks-storage-dev
    state: present
    template_body: "{{ lookup('ansible.builtin.file', 'files/TapStack.yml') }}"
    capabilities: [CAPABILITY_NAMED_IAM]

- name: Parity, outputs and verification of the dev stack on LocalStack
  tap.ebook_storage.post_deploy:
    stack_name: ebooks-storage-dev
    localstack_parity: true
    dest: "{{ playbook_dir }}/cfn-outputs"
    fail_on_failed: false
    endpoint_url: http://127.0.0.1:4566
  register: deployed

- name: Outputs and verification on AWS, bucket settings changed outside CloudFormation put back
  tap.ebook_storage.post_deploy:
    stack_name: ebooks-storage-prod
    repair_drift: true
    dest: "{{ playbook_dir }}/cfn-outputs"
    fail_on_failed: false
  register: deployed

- name: Show what was put back
  ansible.builtin.debug:
    msg: "{{ deployed.drift.buckets[item.split('.')[0]] }}: {{ item.split('.')[1] }} put back as declared"
  loop: "{{ deployed.drift.repaired }}"

- name: Use an output
  ansible.builtin.debug:
    msg: "{{ deployed.outputs.EbooksBucketName }}: {{ deployed.summary.passed }} checks passed"
"""

RETURN = r"""
parity:
  description: What the parity step applied (or would apply in check mode) and its remarks.
  returned: when O(localstack_parity=true)
  type: dict
  contains:
    applied:
      description: Settings written, as C(<part>.<setting>); see M(tap.ebook_storage.localstack_parity).
      type: list
      elements: str
      returned: always
    notes:
      description: Remarks on how settings were applied.
      type: list
      elements: str
      returned: always
  sample: {"applied": ["data_bucket.encryption"], "notes": []}
drift:
  description:
    - The bucket settings that differ from what the template declares (changed outside CloudFormation), and
      those put back.
  returned: when O(localstack_parity=false)
  type: dict
  contains:
    found:
      description:
        - Settings that differed when the module read them, as C(<part>.<setting>) where the part is
          C(data_bucket) or C(logging_bucket) and the setting one of C(acl), C(ownership),
          C(public_access_block), C(encryption), C(versioning), C(lifecycle), C(logging).
      type: list
      elements: str
      returned: always
    repaired:
      description:
        - Settings put back as declared (in check mode, that would be put back); empty with
          O(repair_drift=false). The checks see them as put back.
      type: list
      elements: str
      returned: always
    notes:
      description: Remarks on how settings were put back (for example a temporary ownership change).
      type: list
      elements: str
      returned: always
    buckets:
      description: Name of the bucket of each part.
      type: dict
      returned: always
  sample: {"found": ["data_bucket.encryption", "data_bucket.versioning"],
           "repaired": ["data_bucket.encryption", "data_bucket.versioning"], "notes": [],
           "buckets": {"data_bucket": "ebooks-storage-prod", "logging_bucket": "ebooks-storage-logs-prod"}}
outputs:
  description: Outputs of the stack as a mapping of output key to value.
  returned: always
  type: dict
  sample: {"EbooksBucketName": "ebooks-storage-dev", "EnvironmentName": "dev"}
stack_outputs:
  description: Outputs of the stack as DescribeStacks returns them (key, value, description, export name).
  returned: always
  type: list
  elements: dict
  sample: [{"OutputKey": "EnvironmentName", "OutputValue": "dev", "ExportName": "ebooks-storage-dev-EnvironmentName"}]
parameters:
  description: Parameters of the stack as a mapping.
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
  description:
    - Paths of the output files and the names of those that changed (or would change); see
      M(tap.ebook_storage.stack_outputs) (the last deploy's files, and the environment's folder with
      C(outputs.env)).
  returned: when O(dest) is given
  type: dict
  sample: {"stack_outputs": "/srv/cfn-outputs/stack-outputs.json", "flat_outputs": "/srv/cfn-outputs/flat-outputs.json",
           "environment_dir": "/srv/cfn-outputs/dev", "changed": []}
checks:
  description: The verification report, one entry per check; see M(tap.ebook_storage.storage_verify).
  returned: when O(verify=true)
  type: list
  elements: dict
  sample: [{"id": "bucket.versioning", "resource": "arn:aws:s3:::ebooks-storage-dev", "status": "passed",
            "expected": "Enabled", "observed": "Enabled", "message": "versioning is Enabled"}]
summary:
  description: Number of checks per status (passed, failed, skipped, total).
  returned: when O(verify=true)
  type: dict
  sample: {"passed": 63, "failed": 0, "skipped": 2, "total": 65}
failed_checks:
  description: Ids of the failed checks.
  returned: when O(verify=true)
  type: list
  elements: str
  sample: []
api_calls:
  description: AWS API calls made by this run, in all and per C(service:Operation).
  returned: always
  type: dict
  sample: {"total": 3, "by_operation": {"cloudformation:DescribeStacks": 1, "cloudformation:GetTemplate": 1,
           "s3:GetBucketVersioning": 1}}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import load_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.drift_repair import bucket_drift
from ansible_collections.tap.ebook_storage.plugins.module_utils.localstack_parity import apply_parity
from ansible_collections.tap.ebook_storage.plugins.module_utils.output_files import stack_summary
from ansible_collections.tap.ebook_storage.plugins.module_utils.output_files import write_outputs
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.runner import PlanError
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.runner import verify_stack


def main():
    argument_spec = dict(
        stack_name=dict(type="str", required=True),
        localstack_parity=dict(type="bool", default=False),
        repair_drift=dict(type="bool", default=False),
        dest=dict(type="path"),
        verify=dict(type="bool", default=True),
        functional=dict(type="bool", default=False),
        fail_on_failed=dict(type="bool", default=True),
        template_body=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    stack_name = params["stack_name"]
    session = AwsSession(module)
    result = dict(changed=False)

    try:
        model = load_stack(session, stack_name, params["template_body"])
        if params["localstack_parity"]:
            parity = apply_parity(module, session, model)
            result["parity"] = {"applied": parity["applied"], "notes": parity["notes"]}
            result["changed"] = bool(parity["applied"])
            if parity["applied"] and not module.check_mode:
                session.forget_all()  # the checks must read what the parity step wrote
        else:
            # On AWS, CloudFormation does not undo a change made outside it: find it, repair it when asked.
            drift = bucket_drift(module, session, model, params["repair_drift"])
            result["drift"] = drift
            result["changed"] = bool(drift["repaired"])
            if drift["repaired"] and not module.check_mode:
                session.forget_all()  # the checks must read what the repair wrote
        result.update(stack_summary(model.stack))
        if params["dest"]:
            result["files"] = write_outputs(module, params["dest"], result["stack_outputs"], result["outputs"])
            result["changed"] = result["changed"] or bool(result["files"]["changed"])
        if params["verify"]:
            result.update(verify_stack(module, session, model, params["functional"]))
    except StackNotFoundError as e:
        module.fail_json(msg=str(e), api_calls=session.api_calls(), **result)
    except (TemplateError, TemplateResolutionError, PlanError) as e:
        module.fail_json(msg=f"cannot read the template of stack {stack_name}: {e}", api_calls=session.api_calls())
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read stack {stack_name}", api_calls=session.api_calls())

    result["api_calls"] = session.api_calls()
    failed = result.get("failed_checks") or []
    if failed and params["fail_on_failed"]:
        total = result["summary"]["total"]
        message = f"{len(failed)} of {total} checks failed for stack {stack_name}: {', '.join(failed)}"
        module.fail_json(msg=message, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
