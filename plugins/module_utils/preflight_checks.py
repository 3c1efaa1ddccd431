# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the preflight module checks before any change, each step raising PreflightError with the reason.

The steps, in the order the module runs them: the endpoint answers (only for an explicit endpoint), whether it
is LocalStack, the caller identity (the credentials work), the external KMS key, and the stack's state.
"""

from __future__ import annotations

import copy
import json
import re

from ansible.module_utils.urls import open_url

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_summary
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackModel
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import StackNotFoundError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import describe_stack
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import outputs_dict
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import parameters_dict
from ansible_collections.tap.ebook_storage.plugins.module_utils.bucket_settings import read_setting
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import NO_VALUE
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import intrinsic_name
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_logical_id

FAILED_STATES = (
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    # Created by a change set that was never executed (a failed IMPORT): nothing runs, nothing is in it, and
    # neither a create nor an update can proceed until it is deleted.
    "REVIEW_IN_PROGRESS",
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


def _held_resources(session, stack_name, stack_exists):
    """Logical id -> physical id of what the stack holds (nothing for a stack that does not exist)."""
    held = session.paginate("cloudformation", "list_stack_resources", "StackResourceSummaries",
                            StackName=stack_name) if stack_exists else []
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in held}


def unowned_buckets(session, stack_name, stack_exists, template_body, parameters, caller, region):
    """Buckets the template would create that exist already outside the stack: [{logical_id, bucket, owner}].

    A bucket the stack does not hold (retained by an earlier stack, or by ``EnableLogging`` turned off) makes a
    create of the same name fail half way on AWS. ``owner`` is ``this account`` (HeadBucket answers) or
    ``unknown`` (403: another account's, or no permission to see it).
    """
    holding = _held_resources(session, stack_name, stack_exists)
    model = _planned_model(stack_name, template_body, parameters, caller, region)
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


def _planned_model(stack_name, template_body, parameters, caller, region):
    """The template as the deploy would resolve it (its parameters; no physical ids yet)."""
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    account = caller.get("account")
    partition = (caller.get("arn") or "arn:aws").split(":")[1]
    stack = {"StackName": stack_name, "Parameters": given,
             "StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/planned"}
    return StackModel(stack, load_template(template_body), [], region=region, account_id=account)


# -- adopting retained buckets (resource import) ---------------------------------------------------------------

# The largest --template-body CloudFormation takes; a larger template must be uploaded to S3 (--template-url).
TEMPLATE_BODY_LIMIT = 51200
# What the template's PreviousKmsKeyArns accepts, one key ARN.
KEY_ARN = re.compile(r"^arn:[\w-]+:kms:[\w-]+:\d{12}:key/[\w-]+$")
# Earlier incarnations of the stack read for the keys they kept (the most recent first).
DELETED_STACKS_READ = 10
# The bucket settings an import takes from the live bucket, by the name read_setting gives them: the two
# properties that name other resources of the template (the stack's key, the log bucket), so that the import
# template says what the bucket is and the deploy after the import changes them to what the template declares;
# and the bucket policy, imported with its bucket when there is one.
LIVE_BUCKET_SETTINGS = (("encryption", "BucketEncryption"), ("logging", "LoggingConfiguration"), ("policy", "policy"))


class _Unknown:
    """A live setting that could not be read (403): the template's own value is kept or the property dropped."""


UNKNOWN = _Unknown()


def _references(value):
    """(names, conditions) a template value reaches: Ref, Fn::GetAtt, Fn::Sub variables; Fn::If, Condition."""
    names, conditions = set(), set()

    def walk(item):
        if isinstance(item, list):
            for element in item:
                walk(element)
            return
        if not isinstance(item, dict):
            return
        function = intrinsic_name(item)
        arg = item.get(function) if function else None
        if function == "Ref" and isinstance(arg, str):
            names.add(arg)
        elif function == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and parts and isinstance(parts[0], str):
                names.add(parts[0])
                walk(parts[1:])
        elif function == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
            variables = variables if isinstance(variables, dict) else {}
            for match in re.finditer(r"\$\{([^}]*)\}", text if isinstance(text, str) else ""):
                name = match.group(1).strip()
                if name.startswith("!") or name in variables:
                    continue
                names.add(name if name.startswith("AWS::") else name.split(".", 1)[0])
            walk(list(variables.values()))
        elif function == "Fn::If" and isinstance(arg, list) and arg:
            if isinstance(arg[0], str):
                conditions.add(arg[0])
            walk(arg[1:])
        elif list(item) == ["Condition"]:
            if isinstance(item["Condition"], str):
                conditions.add(item["Condition"])
        else:
            walk(list(item.values()))

    walk(value)
    return names, conditions


def outside_references(template):
    """Names that the resources and outputs of ``template`` reach but that it does not declare (a Ref or
    Fn::GetAtt to a resource that is not in it, a condition it does not define): empty when CloudFormation
    can resolve everything."""
    declared = set(template.get("Parameters") or {}) | set(template.get("Resources") or {})
    conditions = set(template.get("Conditions") or {})
    missing = set()
    parts = list((template.get("Conditions") or {}).values())
    for section in ("Resources", "Outputs"):
        for item in (template.get(section) or {}).values():
            parts += [{k: v for k, v in item.items() if k != "Condition"}, {"Condition": item.get("Condition")}]
    for part in parts:
        names, used = _references(part)
        missing |= {n for n in names if not n.startswith("AWS::") and n not in declared}
        missing |= {f"condition {c}" for c in used if c not in conditions}
    return sorted(missing)


def _conditions_for(target, source, conditions):
    """Add ``conditions`` (and those they use) from ``source`` to a new template that declares ``source``'s
    parameters; False (and nothing added) when one of them cannot be."""
    needed, wanted = {}, list(conditions)
    while wanted:
        name = wanted.pop()
        if name in needed or name in (target.get("Conditions") or {}):
            continue
        definition = (source.get("Conditions") or {}).get(name)
        if definition is None:
            return False
        names, used = _references(definition)
        if any(not n.startswith("AWS::") and n not in (target.get("Parameters") or {}) for n in names):
            return False
        needed[name] = copy.deepcopy(definition)
        wanted += list(used)
    if needed:
        target.setdefault("Conditions", {}).update(needed)
    return True


def _fits(value, target, source, new_stack):
    """Whether ``value`` can stay as the template writes it in ``target``: everything it refers to is there."""
    names, conditions = _references(value)
    declared = set(target.get("Parameters") or {}) | set(target.get("Resources") or {})
    if any(not n.startswith("AWS::") and n not in declared for n in names):
        return False
    if all(c in (target.get("Conditions") or {}) for c in conditions):
        return True
    # A new template may take conditions over from the source (their parameters are all there); an existing
    # stack's template is left as it was deployed.
    return new_stack and _conditions_for(target, source, conditions)


def _live_bucket(session, bucket):
    """The live settings an imported bucket takes over, in CloudFormation's shapes; UNKNOWN when unreadable."""
    found = {}
    for name, key in LIVE_BUCKET_SETTINGS:
        try:
            value = read_setting(session, bucket, name)
        except AWS_ERRORS:
            found[key] = UNKNOWN
            continue
        if name == "encryption":
            rules = (value or {}).get("Rules") or []
            value = rules and {"ServerSideEncryptionConfiguration": [_cfn_encryption_rule(r) for r in rules]}
        elif name == "logging":
            value = value and _cfn_logging(value)
        found[key] = value or None
    return found


def _cfn_encryption_rule(rule):
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    cfn_default = {"SSEAlgorithm": default.get("SSEAlgorithm")}
    if default.get("KMSMasterKeyID"):
        cfn_default["KMSMasterKeyID"] = default["KMSMasterKeyID"]
    cfn_rule = {"ServerSideEncryptionByDefault": cfn_default}
    if "BucketKeyEnabled" in rule:
        cfn_rule["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return cfn_rule


def _cfn_logging(enabled):
    config = {"DestinationBucketName": enabled.get("TargetBucket")}
    if enabled.get("TargetPrefix"):
        config["LogFilePrefix"] = enabled["TargetPrefix"]
    if enabled.get("TargetObjectKeyFormat"):
        config["TargetObjectKeyFormat"] = enabled["TargetObjectKeyFormat"]
    return config


def _imported(definition, identifier, live, target, source, resolver, new_stack):
    """One resource of the import: the template's declaration, ``Retain``, no ``Condition`` (it must exist),
    the live value of each property in ``live``, its identifier property as the template writes it (else as the
    literal ``identifier``), and each other property that refers to something ``target`` lacks resolved to a
    literal, or dropped when it needs a resource (the deploy after the import applies the declared value)."""
    resource = {k: copy.deepcopy(v) for k, v in definition.items() if k not in ("Condition", "Properties", "DependsOn")}
    resource.update(DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    depends = definition.get("DependsOn")
    depends = [d for d in ([depends] if isinstance(depends, str) else depends or []) if d in target["Resources"]]
    if depends:
        resource["DependsOn"] = depends
    properties = {}
    for name, value in (definition.get("Properties") or {}).items():
        if name in identifier:
            # As the template writes it when it can stay (it resolves to the identifier through parameters and
            # the imported resources): a different spelling of a create-only property (BucketName, a policy's
            # Bucket) would read as a replacement in the change set of the deploy after the import.
            properties[name] = copy.deepcopy(value) if _fits(value, target, source, new_stack) else identifier[name]
        elif name in live and live[name] is not UNKNOWN:
            if live[name] is not None:
                properties[name] = live[name]
        elif _fits(value, target, source, new_stack):
            properties[name] = copy.deepcopy(value)
        else:
            try:
                literal = resolver.resolve(value, f"Properties.{name}")
            except TemplateResolutionError:
                continue
            if literal is not NO_VALUE:
                properties[name] = literal
    for name, value in identifier.items():
        properties.setdefault(name, value)
    resource["Properties"] = properties
    return resource


def _bucket_policies(source, bucket_logical_id, bucket_name, resolver):
    """Logical ids of the source's AWS::S3::BucketPolicy resources for this bucket."""
    found = []
    for logical_id, resource in (source.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::S3::BucketPolicy":
            continue
        bucket = (resource.get("Properties") or {}).get("Bucket")
        if referenced_logical_id(bucket) == bucket_logical_id:
            found.append(logical_id)
            continue
        try:
            if resolver.resolve(bucket, f"Resources.{logical_id}.Properties.Bucket") == bucket_name:
                found.append(logical_id)
        except TemplateResolutionError:
            pass
    return found


def _deleted_stacks(session, stack_name):
    """The earlier stacks of this name (DELETE_COMPLETE, read by their ids), the most recent first."""
    summaries = session.paginate("cloudformation", "list_stacks", "StackSummaries",
                                 StackStatusFilter=["DELETE_COMPLETE"])
    mine = sorted((s for s in summaries if s.get("StackName") == stack_name),
                  key=lambda s: str(s.get("DeletionTime") or ""), reverse=True)[:DELETED_STACKS_READ]
    stacks = []
    for summary in mine:
        found = session.call("cloudformation", "describe_stacks", StackName=summary["StackId"]).get("Stacks") or []
        stacks += found[:1]
    return stacks


def _stack_keys(stack):
    """The keys a stack of this template used or kept: its own key, the external key, then PreviousKmsKeyArns."""
    parameters, outputs = parameters_dict(stack), outputs_dict(stack)
    keys = [outputs.get("KmsKeyArn") or "", parameters.get("ExternalKmsKeyArn") or ""]
    keys += (parameters.get("PreviousKmsKeyArns") or "").split(",")
    return [k.strip() for k in keys if k and k.strip()]


def _key_arn(session, key, bucket, warnings, partition, region, account):
    """The key ARN of a key reference (id, ARN, alias name or alias ARN), through KMS when it answers; None
    when it cannot be told. A key that is not Enabled, or cannot be resolved, adds a warning."""
    try:
        metadata = session.read("kms", "describe_key", KeyId=key)["KeyMetadata"]
    except AWS_ERRORS as e:
        if KEY_ARN.match(key):
            return key
        if re.fullmatch(r"[\w-]+", key):
            return f"arn:{partition}:kms:{region}:{account}:key/{key}"
        warnings.append(f"{key} (the key of {bucket or 'an earlier stack'}) cannot be resolved to a key ARN "
                        f"({error_code(e)}): add it to PreviousKmsKeyArns yourself")
        return None
    if metadata.get("KeyState") != "Enabled":
        warnings.append(_key_warning(bucket, metadata["Arn"], metadata.get("KeyState")))
    return metadata["Arn"]


def _key_warning(bucket, key_arn, state):
    where = f"e-books in {bucket} are" if bucket else "earlier e-books may be"
    if state == "PendingDeletion":
        return (f"{where} encrypted with {key_arn}, which is PendingDeletion: cancel the deletion before it "
                f"happens, or they become unreadable for good: aws kms cancel-key-deletion --key-id {key_arn} "
                f"&& aws kms enable-key --key-id {key_arn}")
    if state == "Disabled":
        return (f"{where} encrypted with {key_arn}, which is Disabled: they cannot be read until "
                f"aws kms enable-key --key-id {key_arn}")
    return f"{where} encrypted with {key_arn}, which is {state}: check that it can still decrypt them"


def adoption_plan(session, stack_name, state, template_body, parameters, buckets, caller, region, kms_key=None):
    """What an IMPORT change set that adopts ``buckets`` into the stack needs, following CloudFormation's rules
    for resource import: it may only add the resources it imports (each with a DeletionPolicy), and every
    Ref, Fn::GetAtt and condition in them must resolve within the template.

    Returns ``import_template``, ``resources_to_import``, ``import_parameters`` (the change set's
    ``--parameters``), ``retained_key_arns`` (keys that e-books in them may be encrypted with) and
    ``import_warnings``.

    * No stack: the template's Parameters, the conditions the imported resources use, the buckets and, when
      the live bucket has one, its retained bucket policy (a later create of it fails with "already
      exists"). What they name of the rest of the template (the stack's key, the log bucket) is taken from
      the live bucket. The parameters are the deploy's, with ``PreviousKmsKeyArns`` extended by the key of
      the bucket's default encryption and the keys the earlier stacks of this name kept, so that the deploy
      after the import, which creates a new key, keeps ``kms:Decrypt`` on them.
    * A stack: its deployed template plus the same resources; every parameter keeps its previous value (an
      import may not change the other resources).
    """
    source = load_template(template_body)
    account = caller.get("account")
    partition = (caller.get("arn") or "arn:aws").split(":")[1]
    new_stack = not state["exists"]
    warnings = []
    importable = [b for b in buckets if b["owner"] == "this account"]
    for bucket in buckets:
        if bucket["owner"] != "this account":
            warnings.append(f"{bucket['bucket']} answers 403 (another account's, or no permission to see it): "
                            "it cannot be imported; find out whose it is")
    holding = _held_resources(session, stack_name, state["exists"])
    model = _planned_model(stack_name, template_body, parameters, caller, region)
    if new_stack:
        # Every parameter of the template, so that the stack carries the deploy's values (PreviousKmsKeyArns
        # above all) from the start, though the imported resources use few of them.
        target = {"AWSTemplateFormatVersion": "2010-09-09",
                  "Description": f"Import of the retained buckets of {stack_name}; the next deploy applies the "
                                 "whole template",
                  "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W2001"]}}},
                  "Parameters": copy.deepcopy(source.get("Parameters") or {}),
                  "Resources": {}}
    else:
        body = session.call("cloudformation", "get_template", StackName=stack_name, TemplateStage="Original")
        target = load_template(body.get("TemplateBody"))
        target.setdefault("Resources", {})

    plan = []
    for bucket in importable:
        live = _live_bucket(session, bucket["bucket"])
        plan.append((bucket["logical_id"], {"BucketName": bucket["bucket"]}, live, "AWS::S3::Bucket", bucket))
        for policy_id in _bucket_policies(source, bucket["logical_id"], bucket["bucket"], model.resolver):
            if policy_id in holding or live["policy"] is None:
                continue  # the stack holds it, or the bucket has none: the deploy creates it
            if live["policy"] is UNKNOWN:
                warnings.append(f"the policy of {bucket['bucket']} cannot be read: if it has one, import it too "
                                f"({policy_id}), or the deploy fails creating it")
                continue
            plan.append((policy_id, {"Bucket": bucket["bucket"]},
                         {"PolicyDocument": json.loads(live["policy"])}, "AWS::S3::BucketPolicy", bucket))

    # The keys that e-books in the buckets may be encrypted with: each bucket's default encryption key (written
    # into the import template as its key ARN), then the keys of the earlier stacks of this name.
    key_arns = []
    for _logical_id, _identifier, live, resource_type, bucket in plan:
        encryption = live.get("BucketEncryption") if resource_type == "AWS::S3::Bucket" else None
        if encryption is UNKNOWN:
            warnings.append(f"the default encryption of {bucket['bucket']} cannot be read: add the key its "
                            "e-books are encrypted with to PreviousKmsKeyArns yourself")
            continue
        for rule in (encryption or {}).get("ServerSideEncryptionConfiguration") or []:
            default = rule.get("ServerSideEncryptionByDefault") or {}
            if default.get("KMSMasterKeyID"):
                arn = _key_arn(session, default["KMSMasterKeyID"], bucket["bucket"], warnings,
                               partition, region, account)
                default["KMSMasterKeyID"] = arn or default["KMSMasterKeyID"]
                key_arns += [arn] if arn and arn not in key_arns else []
    if new_stack:
        try:
            earlier = [key for stack in _deleted_stacks(session, stack_name) for key in _stack_keys(stack)]
        except AWS_ERRORS as e:
            earlier = []
            warnings.append(f"the earlier stacks of {stack_name} cannot be read ({error_code(e)}): keys they kept in "
                            "PreviousKmsKeyArns, if any, must be added by hand")
        for key in earlier:
            arn = _key_arn(session, key, None, warnings, partition, region, account)
            key_arns += [arn] if arn and arn not in key_arns else []

    # Place every imported resource first, so that references between them resolve.
    for logical_id, _identifier, _live, resource_type, _bucket in plan:
        target["Resources"][logical_id] = {"Type": resource_type}
    for logical_id, identifier, live, _resource_type, _bucket in plan:
        target["Resources"][logical_id] = _imported(source["Resources"][logical_id], identifier, live, target,
                                                    source, model.resolver, new_stack)

    new_key = (kms_key or {}).get("key_arn")
    key_arns = [k for k in key_arns if k != new_key]

    if new_stack:
        values = dict(parameters)
        if new_key:
            values["ExternalKmsKeyArn"] = new_key
        given = [k for k in str(values.get("PreviousKmsKeyArns") or "").split(",") if k]
        values["PreviousKmsKeyArns"] = ",".join(given + [k for k in key_arns if k not in given])
        import_parameters = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()
                             if k in target["Parameters"]]
    else:
        import_parameters = [{"ParameterKey": k, "UsePreviousValue": True} for k in target.get("Parameters") or {}]
        kept = set(_stack_keys({"Parameters": [{"ParameterKey": k, "ParameterValue": v}
                                               for k, v in state["parameters"].items()],
                                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in state["outputs"].items()]}))
        for arn in [k for k in key_arns if k not in kept]:
            warnings.append(f"{stack_name} does not keep {arn}, the key of e-books in the imported bucket, and the "
                            "import cannot change its parameters: after the import, before the deploy, run "
                            f"aws cloudformation update-stack --stack-name {stack_name} --use-previous-template "
                            "--capabilities CAPABILITY_NAMED_IAM --parameters with every parameter "
                            f"UsePreviousValue=true but PreviousKmsKeyArns extended by {arn}")

    size = len(json.dumps(target, separators=(",", ":")))
    if size > TEMPLATE_BODY_LIMIT:
        warnings.append(f"the import template is {size} bytes, over the {TEMPLATE_BODY_LIMIT} that --template-body "
                        "takes: upload it to S3 and pass --template-url instead")
    resources = [{"ResourceType": resource_type, "LogicalResourceId": logical_id, "ResourceIdentifier": identifier}
                 for logical_id, identifier, _live, resource_type, _bucket in plan]
    return {"import_template": target, "resources_to_import": resources, "import_parameters": import_parameters,
            "retained_key_arns": key_arns, "import_warnings": warnings}
