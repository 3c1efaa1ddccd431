#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: storage_verify
short_description: Verify a deployed eBook storage stack against its own template
version_added: 1.0.0
description:
  - Reads back the deployed state of an eBook storage stack (S3, bucket policies, KMS, IAM, Lambda,
    EventBridge, SNS) and compares it with what the stack's template declares.
  - The expected values are never restated here. The module fetches the deployed template
    (C(GetTemplate)), the stack's parameters (C(DescribeStacks)) and physical resource ids
    (C(ListStackResources)), and resolves the template's intrinsic functions and conditions for this
    stack (those files/TapStack.yml uses, C(SUPPORTED) in C(plugins/module_utils/cfn_template.py)).
  - The resources are found through the output names of the interface contract (for example the
    C(EbooksBucketName) output's C(Ref) names the data bucket), not through hard-coded logical ids.
  - The data bucket must also meet a security floor whatever the template says (the C(bucket.*) checks,
    C(plugins/module_utils/verify_checks/bucket.py)), and its policy must carry the statements of the
    interface contract, each a C(Deny) on its condition key (C(CONTRACT_SIDS) in
    C(plugins/module_utils/verify_checks/bucket_policy.py); C(docs/contracts.md) says what each is for).
  - Read-only unless O(functional=true); then a probe object is written and removed, and the
    monitor function is invoked once.
  - An AWS error on a read (for example AccessDenied) fails that check, with the error in its
    C(observed) and C(message); it does not stop the other checks.
  - Check ids are C(stack.status); C(bucket.encryption), C(bucket.bucket_key), C(bucket.versioning),
    C(bucket.public_access_block), C(bucket.ownership), C(bucket.acl), C(bucket.logging),
    C(bucket.lifecycle), C(bucket.inventory), C(bucket.notifications), C(bucket.tags) and the same under
    C(logging_bucket.) when the stack has an
    access-log bucket; C(bucket_policy.<Sid>), C(bucket_policy.no_public_allow) and the same under
    C(logging_bucket_policy.); C(kms.enabled), C(kms.rotation), C(kms.alias), C(kms.key_policy),
    C(kms.tags); for each role C(iam.<LogicalId>.trust_policy), C(.inline_only), C(.inline_policies),
    C(.no_admin), C(.tags); C(lambda.runtime), C(lambda.handler), C(lambda.timeout),
    C(lambda.memory_size), C(lambda.role), C(lambda.environment), C(lambda.log_group),
    C(lambda.log_group_encryption),
    C(lambda.on_failure_destination), C(lambda.permission), C(lambda.tags); C(events.rule),
    C(events.target), C(events.tags); C(events.upload_check.rule), C(events.upload_check.pattern),
    C(events.upload_check.target), C(events.upload_check.tags); C(sns.topic), C(sns.encryption), C(sns.policy),
    C(sns.tags);
    C(functional.probe_object) and C(functional.monitor_invoke).
author:
  - TAP infrastructure team (@tap-infra)
options:
  checks:
    description:
      - Ids of the checks to run. Default is all of them.
      - An entry also selects every check under it (V(bucket) selects V(bucket.encryption), ...)
        and may use shell-style wildcards (V(iam.*.trust_policy)).
      - The checks not selected are reported as C(skipped).
    type: list
    elements: str
  skip:
    description:
      - Ids (or prefixes, or wildcards) of checks not to run; they are reported as C(skipped).
    type: list
    elements: str
    default: []
  fail_on_failed:
    description:
      - Fail the task when any check failed.
      - With V(false) the task succeeds and the result still lists the failed checks.
    type: bool
    default: true
  functional:
    description:
      - Also run the round trips C(functional.probe_object) (puts a small PDF under the reserved prefix
        C(_verify-probe/), reads back its encryption and version, then deletes every version and delete
        marker of it) and C(functional.monitor_invoke) (invokes the monitor synchronously and checks that
        its report is JSON that names this environment).
    type: bool
    default: false
notes:
  - Supports check mode. The module changes nothing (C(changed) is always V(false)); in check mode the
    functional checks do not write, they are reported as C(skipped).
  - RV(api_calls) counts the AWS API calls made, for benchmarks.
extends_documentation_fragment:
  - tap.ebook_storage.stack
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Verify the dev stack
  tap.ebook_storage.storage_verify:
    stack_name: ebooks-storage-dev

- name: Verify only the bucket and its policy, without failing the play
  tap.ebook_storage.storage_verify:
    stack_name: ebooks-storage-dev
    checks: [bucket, bucket_policy]
    fail_on_failed: false
  register: verify

- name: Show failed checks
  ansible.builtin.debug:
    msg: "{{ verify.checks | selectattr('status', 'equalto', 'failed') | map(attribute='id') | list }}"

- name: Full verification with round trips, on LocalStack
  tap.ebook_storage.storage_verify:
    stack_name: ebooks-storage-test
    functional: true
    skip: [kms.rotation]
    endpoint_url: http://127.0.0.1:4566
"""

RETURN = r"""
checks:
  description: One entry per check, in a stable order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Check id, for example C(bucket.encryption).
      type: str
      returned: always
    resource:
      description: ARN (or name) of the resource checked.
      type: str
      returned: always
    status:
      description: C(passed), C(failed) or C(skipped).
      type: str
      returned: always
    expected:
      description: What the template (resolved for this stack) declares.
      type: raw
      returned: always
    observed:
      description: What the deployed resource shows, or the AWS error of the read.
      type: raw
      returned: always
    message:
      description: Why the check passed, failed or was skipped.
      type: str
      returned: always
  sample: [{"id": "bucket.versioning", "resource": "arn:aws:s3:::ebooks-storage-dev",
            "status": "passed", "expected": "Enabled", "observed": "Enabled", "message": "versioning is Enabled"}]
summary:
  description: Number of checks per status.
  returned: always
  type: dict
  contains:
    passed:
      description: Checks passed.
      type: int
      returned: always
    failed:
      description: Checks failed.
      type: int
      returned: always
    skipped:
      description: Checks skipped.
      type: int
      returned: always
    total:
      description: All checks.
      type: int
      returned: always
  sample: {"passed": 60, "failed": 0, "skipped": 2, "total": 62}
failed_checks:
  description: Ids of the failed checks.
  returned: always
  type: list
  elements: str
  sample: ["bucket.encryption"]
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
  sample:
    total: 3
    by_operation:
      "cloudformation:DescribeStacks": 1
      "cloudformation:GetTemplate": 1
      "s3:GetBucketVersioning": 1
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import load_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.runner import PlanError
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.runner import verify_stack


def main():
    argument_spec = dict(
        stack_name=dict(type="str", required=True),
        checks=dict(type="list", elements="str"),
        skip=dict(type="list", elements="str", default=[]),
        fail_on_failed=dict(type="bool", default=True),
        functional=dict(type="bool", default=False),
        template_body=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    stack_name = params["stack_name"]
    session = AwsSession(module)

    try:
        model = load_stack(session, stack_name, params["template_body"])
        report = verify_stack(module, session, model, params["functional"], params["checks"], params["skip"])
    except StackNotFoundError as e:
        module.fail_json(msg=str(e), api_calls=session.api_calls())
    except (TemplateError, TemplateResolutionError, PlanError) as e:
        module.fail_json(msg=f"cannot read the template of stack {stack_name}: {e}", api_calls=session.api_calls())
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"cannot read stack {stack_name}", api_calls=session.api_calls())

    summary, failed = report["summary"], report["failed_checks"]
    result = dict(changed=False, api_calls=session.api_calls(), **report)
    if failed and params["fail_on_failed"]:
        module.fail_json(
            msg=f"{len(failed)} of {summary['total']} checks failed for stack {stack_name}: {', '.join(failed)}",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
