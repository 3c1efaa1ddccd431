#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: Check the target of a deploy before any change, and read the stack's state
version_added: 1.1.0
description:
  - Read-only checks, in this order; the first that fails stops the module with C(preflight_failure) naming it.
  - C(endpoint) - with O(endpoint_url), the endpoint answers HTTP within the connect timeout of O(aws_config)
    (5 s when not set). Any HTTP status counts as an answer.
  - Whether the endpoint is LocalStack (its C(/_localstack/health) answers); never for AWS's own endpoints.
  - C(credentials) - C(GetCallerIdentity) works with the credentials and region given.
  - C(kms_key) - with O(kms_key_alias), a key has that alias and is C(Enabled).
  - C(stack) - with O(stack_name), the stack's status, outputs and parameters, and for a stack in a failed
    state the reasons CloudFormation recorded (the stack's status reason, then its C(*FAILED) events).
  - With O(template_body), the buckets the template would create that exist already but are not the stack's
    (retained by an earlier stack, or left when C(EnableLogging) was turned off). On AWS such a create fails
    half way; the caller decides what to do. For them, everything an IMPORT change set that adopts them needs
    (template, resources, parameters) and the keys their objects may be encrypted with, read from the live
    buckets, KMS and the earlier stacks of the same name.
  - One module run instead of a probe, a caller-identity lookup, a key lookup and a stack read each in its
    own process.
author:
  - TAP infrastructure team (@tap-infra)
options:
  stack_name:
    description:
      - Name of the CloudFormation stack whose state to read. Not read when left out.
    type: str
  kms_key_alias:
    description:
      - Alias (C(alias/...)) of an existing key that must be enabled. Not checked when empty.
    type: str
    default: ""
  template_body:
    description:
      - The template about to be deployed. With O(stack_name) and O(parameters), the buckets it names are
        looked for (C(HeadBucket)) when the stack does not hold them; see RV(stack.unowned_buckets).
    type: str
  parameters:
    description:
      - The parameter values about to be deployed, by name, for resolving the bucket names of O(template_body).
    type: dict
    default: {}
notes:
  - Supports check mode; it changes nothing in either mode.
  - A stack that is C(*_IN_PROGRESS) is reported as it is; a caller that must wait polls again (the
    C(ebook_stack) role does, with a visible retry per poll).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Check LocalStack, the credentials and the dev stack
  tap.ebook_storage.preflight:
    stack_name: ebooks-storage-dev
    endpoint_url: http://localhost:4566
  register: preflight

- name: Stop when the stack is in a failed state
  ansible.builtin.fail:
    msg: "{{ preflight.stack.status }}: {{ preflight.stack.failure_reasons | join('; ') }}"
  when: preflight.stack.failure_reasons | length > 0

- name: Require an enabled key behind an alias, on AWS
  tap.ebook_storage.preflight:
    kms_key_alias: alias/ebooks-prod
    region: eu-west-1
"""

RETURN = r"""
target:
  description: What answered.
  returned: always
  type: dict
  contains:
    endpoint:
      description: The endpoint given, or C(null) for AWS's own endpoints.
      type: str
      returned: always
    is_localstack:
      description: Whether the endpoint is LocalStack.
      type: bool
      returned: always
    localstack_version:
      description: LocalStack's version, when it is LocalStack.
      type: str
      returned: always
  sample: {"endpoint": "http://localhost:4566", "is_localstack": true, "localstack_version": "2026.3.0"}
caller:
  description: The caller identity.
  returned: success
  type: dict
  sample: {"account": "000000000000", "arn": "arn:aws:iam::000000000000:root", "user_id": "000000000000"}
kms_key:
  description: The key behind O(kms_key_alias).
  returned: when O(kms_key_alias) is given
  type: dict
  sample: {"alias": "alias/ebooks-prod", "key_id": "0a1b2c3d-...", "key_arn": "arn:aws:kms:...", "key_state": "Enabled"}
stack:
  description: The stack's state.
  returned: when O(stack_name) is given
  type: dict
  contains:
    exists:
      description: Whether the stack exists (a C(DELETE_COMPLETE) stack does not).
      type: bool
      returned: always
    status:
      description: Its status, C(NONE) when it does not exist.
      type: str
      returned: always
    in_progress:
      description:
        - Whether an operation on it is running (C(*_IN_PROGRESS)); not C(REVIEW_IN_PROGRESS), a stack that only
          holds a change set never executed, which waits for nothing and counts as RV(stack.failed).
      type: bool
      returned: always
    failed:
      description: Whether it is in a failed state that a deploy must handle first.
      type: bool
      returned: always
    failure_reasons:
      description: What CloudFormation recorded as the cause, when C(failed).
      type: list
      elements: str
      returned: always
    stack_id:
      description: Its id.
      type: str
      returned: always
    outputs:
      description: Its outputs as a mapping.
      type: dict
      returned: always
    parameters:
      description: Its parameters as a mapping.
      type: dict
      returned: always
    unowned_buckets:
      description:
        - Buckets O(template_body) names that exist but that the stack does not hold, with C(logical_id),
          C(bucket) and C(owner) (C(this account), or C(unknown) when C(HeadBucket) is refused).
      type: list
      elements: dict
      returned: when O(template_body) is given
    import_template:
      description:
        - The template of an IMPORT change set that adopts RV(stack.unowned_buckets) (those of C(this account))
          into the stack as they are, by CloudFormation's rules for resource import.
        - No stack - the parameters of O(template_body), the conditions the imported resources use, each
          bucket and, when the bucket has one (C(Retain) keeps it), its bucket policy. Each with its name as a
          literal, C(Retain), no C(Condition); what they name of the rest of the template (the stack's key, the
          log bucket) taken from the live bucket (default encryption, logging target, policy document), and
          other references to resources outside it resolved or dropped (the deploy after the import applies
          the declared values).
        - A stack - its deployed template plus the same resources.
      type: dict
      returned: when RV(stack.unowned_buckets) is not empty
    resources_to_import:
      description: The C(--resources-to-import) of that change set (buckets and bucket policies).
      type: list
      elements: dict
      returned: when RV(stack.unowned_buckets) is not empty
    import_parameters:
      description:
        - The C(--parameters) of that change set. No stack - the deploy's values (O(parameters), and
          C(ExternalKmsKeyArn) for O(kms_key_alias)), with C(PreviousKmsKeyArns) extended by
          RV(stack.retained_key_arns), so that the deploy after the import, which creates a new key, keeps
          C(kms:Decrypt) on the keys of the e-books already stored. A stack - every parameter with
          C(UsePreviousValue) (an import may not change the stack's other resources).
      type: list
      elements: dict
      returned: when RV(stack.unowned_buckets) is not empty
    retained_key_arns:
      description:
        - ARNs of the keys that objects in the retained buckets may be encrypted with - the key of each bucket's
          default encryption (C(KMSMasterKeyID) resolved to a key ARN) and, when the stack does not exist, the
          keys the earlier stacks of this name used or kept (C(DELETE_COMPLETE) stacks, read by their ids) -
          less the key this deploy asks for.
      type: list
      elements: str
      returned: when RV(stack.unowned_buckets) is not empty
    import_warnings:
      description:
        - What the import cannot settle by itself - a bucket of another account, a key that is not C(Enabled)
          (with the commands that restore it), a setting that cannot be read, a template over the 51,200 bytes
          of C(--template-body).
      type: list
      elements: str
      returned: when RV(stack.unowned_buckets) is not empty
  sample: {"exists": true, "status": "CREATE_COMPLETE", "in_progress": false, "failed": false,
           "failure_reasons": [], "stack_id": "arn:aws:cloudformation:...", "outputs": {}, "parameters": {}}
preflight_failure:
  description: The check that failed (C(endpoint), C(credentials), C(kms_key) or C(stack)).
  returned: failure
  type: str
  sample: credentials
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import effective_aws_config
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import FAILED_STATES
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import PreflightError
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import adoption_plan
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import caller_identity
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import enabled_key
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import localstack_version
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import probe_endpoint
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import stack_state
from ansible_collections.tap.ebook_storage.plugins.module_utils.preflight_checks import unowned_buckets


def main():
    argument_spec = dict(
        stack_name=dict(type="str"),
        kms_key_alias=dict(type="str", default="", no_log=False),
        template_body=dict(type="str"),
        parameters=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    endpoint = params.get("endpoint_url") or None
    timeout = float(effective_aws_config(module)["connect_timeout"])
    result = dict(changed=False, target={"endpoint": endpoint, "is_localstack": False, "localstack_version": None})
    session = AwsSession(module)
    step = {"now": "endpoint"}
    # amazon.aws fails the module itself when it cannot make a client (unknown profile, partial
    # credentials): every failure still names the check it happened in.
    fail_json = module.fail_json
    module.fail_json = lambda **kwargs: fail_json(**dict({"preflight_failure": step["now"]}, **kwargs))
    try:
        if endpoint:
            probe_endpoint(endpoint, timeout)
            version = localstack_version(endpoint, timeout)
            result["target"].update(is_localstack=version is not None, localstack_version=version)
        step["now"] = "credentials"
        result["caller"] = caller_identity(session)
        if params["kms_key_alias"]:
            step["now"] = "kms_key"
            result["kms_key"] = enabled_key(session, params["kms_key_alias"], module.region)
        if params["stack_name"]:
            step["now"] = "stack"
            state = stack_state(session, params["stack_name"])
            state["in_progress"] = state["status"].endswith("_IN_PROGRESS") and state["status"] not in FAILED_STATES
            state["failed"] = state["status"] in FAILED_STATES
            if params["template_body"]:
                state["unowned_buckets"] = unowned_buckets(session, params["stack_name"], state["exists"],
                                                           params["template_body"], params["parameters"],
                                                           result["caller"], module.region)
                if state["unowned_buckets"]:
                    state.update(adoption_plan(session, params["stack_name"], state, params["template_body"],
                                               params["parameters"], state["unowned_buckets"], result["caller"],
                                               module.region, result.get("kms_key")))
            result["stack"] = state
    except PreflightError as e:
        module.fail_json(msg=str(e), preflight_failure=e.check, **result)
    except (TemplateError, TemplateResolutionError) as e:
        module.fail_json(msg=f"cannot read the bucket names of the template: {e}", **result)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"pre-flight check {step['now']} failed", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
