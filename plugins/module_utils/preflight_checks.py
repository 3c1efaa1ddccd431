# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the preflight module checks before any change, each step raising PreflightError with the reason.

The steps, in the order the module runs them: the endpoint answers (only for an explicit endpoint), whether it
is LocalStack, the caller identity (the credentials work), the external KMS key, and the stack's state.
"""

from __future__ import annotations

import json

from ansible.module_utils.urls import open_url

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_summary
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackModel
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import describe_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import outputs_dict
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import parameters_dict
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template

FAILED_STATES = (
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
)


class PreflightError(Exception):
    """One check failed; ``check`` names it (endpoint, credentials, kms_key, stack)."""

    def __init__(self, check, message):
        super().__init__(message)
        self.check = check


def probe_endpoint(url, timeout):
    """Any HTTP answer counts (an S3-style endpoint answers / with 200, 403, 404...); no answer raises."""
    try:
        open_url(url, timeout=timeout, follow_redirects="none").read()
    except Exception as e:  # pylint: disable=broad-except
        # An HTTP error status is an answer; anything else (refused, timed out, DNS) is not.
        if getattr(e, "code", None) is None:
            raise PreflightError("endpoint", f"{url} does not answer ({e})") from None


def localstack_version(url, timeout):
    """LocalStack's version when ``url`` is LocalStack (its health endpoint answers 200 with JSON), else None."""
    try:
        answer = json.loads(open_url(url.rstrip("/") + "/_localstack/health", timeout=timeout).read())
    except Exception:  # pylint: disable=broad-except
        return None
    return str(answer.get("version") or "unknown") if isinstance(answer, dict) else None


def caller_identity(session):
    try:
        identity = session.call("sts", "get_caller_identity")
    except AWS_ERRORS as e:
        summary = error_summary(e)
        raise PreflightError("credentials", f"{summary['error']}: {summary['message']}") from None
    return {"account": identity.get("Account"), "arn": identity.get("Arn"), "user_id": identity.get("UserId")}


def enabled_key(session, alias, region):
    """The key behind ``alias``; raises unless it exists and is Enabled."""
    try:
        metadata = session.call("kms", "describe_key", KeyId=alias)["KeyMetadata"]
    except AWS_ERRORS as e:
        if error_code(e) == "NotFoundException":
            raise PreflightError("kms_key", f"{alias}: no key has this alias in {region}") from None
        raise
    key = {"alias": alias, "key_id": metadata.get("KeyId"), "key_arn": metadata.get("Arn"),
           "key_state": metadata.get("KeyState")}
    if key["key_state"] != "Enabled":
        raise PreflightError("kms_key", f"the key {key['key_id']} behind {alias} is {key['key_state']}")
    return key


def stack_state(session, stack_name):
    """{exists, status, stack_id, outputs, parameters, failure_reasons}; status NONE when there is no stack."""
    try:
        stack = describe_stack(session, stack_name)
    except StackNotFoundError:
        return {"exists": False, "status": "NONE", "stack_id": None, "outputs": {}, "parameters": {},
                "failure_reasons": []}
    state = {
        "exists": True,
        "status": stack["StackStatus"],
        "stack_id": stack.get("StackId"),
        "outputs": outputs_dict(stack),
        "parameters": parameters_dict(stack),
        "failure_reasons": [],
    }
    if state["status"] in FAILED_STATES:
        state["failure_reasons"] = failure_reasons(session, stack)
    return state


def failure_reasons(session, stack):
    """The stack's own status reason first (some failures record their cause only there), then each
    *FAILED event's reason, most recent first, without repeats."""
    events = session.call("cloudformation", "describe_stack_events", StackName=stack["StackId"]).get("StackEvents")
    reasons = [stack.get("StackStatusReason") or ""]
    reasons += [e.get("ResourceStatusReason") or "" for e in events or [] if "FAILED" in e.get("ResourceStatus", "")]
    return [r for i, r in enumerate(reasons) if r and r not in reasons[:i]]


def unowned_buckets(session, stack_name, stack_exists, template_body, parameters, caller, region):
    """Buckets the template would create that exist already outside the stack: [{logical_id, bucket, owner}].

    A bucket the stack does not hold (retained by an earlier stack, or by ``EnableLogging`` turned off) makes a
    create of the same name fail half way on AWS. ``owner`` is ``this account`` (HeadBucket answers) or
    ``unknown`` (403: another account's, or no permission to see it).
    """
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    account = caller.get("account")
    partition = (caller.get("arn") or "arn:aws").split(":")[1]
    stack = {"StackName": stack_name, "Parameters": given,
             "StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/planned"}
    held = session.paginate("cloudformation", "list_stack_resources", "StackResourceSummaries",
                            StackName=stack_name) if stack_exists else []
    holding = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in held}
    model = StackModel(stack, load_template(template_body), [], region=region, account_id=account)
    found = []
    for logical_id in model.of_type("AWS::S3::Bucket"):
        name = model.resolve_at(logical_id, "BucketName")
        if not name or holding.get(logical_id) == name:
            continue
        try:
            session.call("s3", "head_bucket", Bucket=name)
            owner = "this account"
        except AWS_ERRORS as e:
            if error_code(e) in ("404", "NoSuchBucket", "NotFound"):
                continue
            if error_code(e) not in ("403", "AccessDenied", "Forbidden"):
                raise
            owner = "unknown"
        found.append({"logical_id": logical_id, "bucket": name, "owner": owner})
    return found


def import_template(session, stack_name, stack_exists, buckets):
    """The template of an IMPORT change set that adopts ``buckets`` into the stack as they are.

    CloudFormation imports only: the template is the deployed one (a new stack: none) plus each bucket with
    its name and Retain, nothing else changed; the next deploy then applies the declared properties.
    """
    template = {"Resources": {}}
    if stack_exists:
        body = session.call("cloudformation", "get_template", StackName=stack_name, TemplateStage="Original")
        template = load_template(body.get("TemplateBody"))
    for bucket in buckets:
        template["Resources"][bucket["logical_id"]] = {
            "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"BucketName": bucket["bucket"]}}
    return template


def resources_to_import(buckets):
    """The --resources-to-import of that change set."""
    return [{"ResourceType": "AWS::S3::Bucket", "LogicalResourceId": b["logical_id"],
             "ResourceIdentifier": {"BucketName": b["bucket"]}} for b in buckets]
