# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A deployed CloudFormation stack and its template, resolved for the stack's parameters.

``load_stack`` reads the stack (describe_stacks), its deployed template
(get_template, unless a template body is given) and its resources
(list_stack_resources), and returns a ``StackModel`` that resolves any value
of the template for this stack.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_logical_id


class StackNotFoundError(Exception):
    pass


def describe_stack(session, stack_name):
    """The stack as describe_stacks gives it; raises StackNotFoundError when it does not exist."""
    try:
        stacks = session.call("cloudformation", "describe_stacks", StackName=stack_name).get("Stacks", [])
    except AWS_ERRORS as e:
        if error_code(e) == "ValidationError" and "does not exist" in str(e):
            raise StackNotFoundError(stack_missing_message(session, stack_name)) from None
        raise
    if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
        raise StackNotFoundError(stack_missing_message(session, stack_name))
    return stacks[0]


def stack_missing_message(session, stack_name):
    return f"stack {stack_name} does not exist in region {session.module.region} (endpoint {session.endpoint()})"


def outputs_dict(stack):
    return {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs") or []}


def parameters_dict(stack):
    return {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}


def tags_dict(tags):
    return {t["Key"]: t.get("Value") for t in tags or []}


def _arn_parts(arn):
    parts = (arn or "").split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return {"partition": parts[1], "service": parts[2], "region": parts[3], "account": parts[4], "resource": parts[5]}


def _url_suffix(partition):
    return {"aws-cn": "amazonaws.com.cn", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov"}.get(
        partition, "amazonaws.com"
    )


class StackModel:
    """One stack: status, parameters, outputs, tags, resources and its resolved template."""

    def __init__(self, stack, template, resources, region=None, account_id=None):
        self.stack = stack
        self.name = stack["StackName"]
        self.stack_id = stack.get("StackId")
        self.status = stack.get("StackStatus")
        self.outputs = outputs_dict(stack)
        self.tags = tags_dict(stack.get("Tags"))
        self.template = template
        self.resource_summaries = {r["LogicalResourceId"]: r for r in resources if r.get("LogicalResourceId")}
        arn = _arn_parts(self.stack_id) or {}
        self.region = arn.get("region") or region
        self.account_id = arn.get("account") or account_id
        self.partition = arn.get("partition") or "aws"
        self.parameters = parameter_values(template, stack.get("Parameters"))
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": _url_suffix(self.partition),
            "AWS::NotificationARNs": list(stack.get("NotificationARNs") or []),
        }
        physical = {k: v.get("PhysicalResourceId") for k, v in self.resource_summaries.items()}
        self.resolver = Resolver(
            template,
            self.parameters,
            {k: v for k, v in pseudo.items() if v is not None},
            physical_ids=physical,
            get_att=self._get_att,
        )
        self._att_from_outputs = self._attributes_from_outputs()

    # -- lookups --------------------------------------------------------------------

    @property
    def resources(self):
        return self.template.get("Resources") or {}

    def resource_type(self, logical_id):
        return (self.resources.get(logical_id) or {}).get("Type")

    def active(self, logical_id):
        return self.resolver.resource_active(logical_id)

    def physical_id(self, logical_id):
        summary = self.resource_summaries.get(logical_id) or {}
        return summary.get("PhysicalResourceId") or None

    def properties(self, logical_id):
        """The resource's properties with every intrinsic resolved."""
        return self.resolver.resource_properties(logical_id)

    def resolve(self, value, path):
        return self.resolver.resolve(value, path)

    def resolve_at(self, logical_id, *keys):
        """Resolve one property (a path of keys) of a resource; None when absent."""
        value = (self.resources.get(logical_id) or {}).get("Properties") or {}
        path = f"Resources.{logical_id}.Properties"
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
            path = f"{path}.{key}"
        return self.resolver.resolve(value, path)

    def of_type(self, resource_type):
        """Logical ids of active resources of a type, in template order."""
        return [lid for lid, r in self.resources.items() if r.get("Type") == resource_type and self.active(lid)]

    def logical_id_for_output(self, output_key, resource_type=None):
        """The resource an output points at (Ref, GetAtt or ${X.Attr}); None when it does not."""
        output = (self.template.get("Outputs") or {}).get(output_key)
        if not output:
            return None
        logical_id = referenced_logical_id(output.get("Value"))
        if logical_id is None or logical_id not in self.resources:
            return None
        if resource_type and self.resource_type(logical_id) != resource_type:
            return None
        return logical_id

    def find(self, resource_type, output_keys=(), exclude=()):
        """Find a resource of a type: first through the contracted outputs, then as the only one of its type."""
        for key in output_keys:
            logical_id = self.logical_id_for_output(key, resource_type)
            if logical_id and self.active(logical_id):
                return logical_id
        candidates = [lid for lid in self.of_type(resource_type) if lid not in exclude]
        if len(candidates) == 1:
            return candidates[0]
        return None

    def referencing(self, resource_type, prop, target_logical_id):
        """Active resources of a type whose property ``prop`` points at ``target_logical_id``."""
        found = []
        for lid in self.of_type(resource_type):
            value = (self.resources[lid].get("Properties") or {}).get(prop)
            values = value if isinstance(value, list) else [value]
            if any(referenced_logical_id(v) == target_logical_id for v in values):
                found.append(lid)
        return found

    # -- Fn::GetAtt -----------------------------------------------------------------

    def _attributes_from_outputs(self):
        found = {}
        for key, output in (self.template.get("Outputs") or {}).items():
            if key not in self.outputs:
                continue
            value = output.get("Value")
            if isinstance(value, dict) and "Fn::GetAtt" in value and len(value) == 1:
                arg = value["Fn::GetAtt"]
                if isinstance(arg, str):
                    arg = arg.split(".", 1)
                if isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg):
                    found[(arg[0], arg[1])] = self.outputs[key]
        return found

    def _get_att(self, logical_id, attribute, path):
        if (logical_id, attribute) in self._att_from_outputs:
            return self._att_from_outputs[(logical_id, attribute)]
        rtype = self.resource_type(logical_id)
        physical = self.physical_id(logical_id)
        if not physical:
            raise TemplateResolutionError(
                path, f"Fn::GetAtt {logical_id}.{attribute}: {logical_id} has no physical id in the stack"
            )
        builder = _ATTRIBUTE_BUILDERS.get((rtype, attribute))
        if builder is None:
            raise TemplateResolutionError(
                path,
                f"Fn::GetAtt {logical_id}.{attribute} ({rtype}) is not supported and no stack output gives it",
            )
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        return builder(self, physical, props, f"Resources.{logical_id}.Properties")


def _regional_arn(service, resource_prefix=""):
    """The ARN of a regional resource whose physical id is its name or id (or already its ARN)."""

    def build(model, physical, props, path):
        if physical.startswith("arn:"):
            return physical
        return f"arn:{model.partition}:{service}:{model.region}:{model.account_id}:{resource_prefix}{physical}"

    return build


def _kms_key_id(model, physical, props, path):
    return physical.rsplit("/", 1)[-1]


def _iam_arn(kind):
    def build(model, physical, props, path):
        if physical.startswith("arn:"):
            return physical
        role_path = model.resolve(props.get("Path", "/"), f"{path}.Path") or "/"
        return f"arn:{model.partition}:iam::{model.account_id}:{kind}{role_path}{physical}"

    return build


def _bucket_arn(model, physical, props, path):
    return f"arn:{model.partition}:s3:::{physical}"


def _bucket_domain(model, physical, props, path):
    return f"{physical}.s3.{_url_suffix(model.partition)}"


def _bucket_regional_domain(model, physical, props, path):
    return f"{physical}.s3.{model.region}.{_url_suffix(model.partition)}"


def _topic_name(model, physical, props, path):
    return physical.rsplit(":", 1)[-1]


def _rule_name(physical):
    if physical.startswith("arn:"):
        return physical.rsplit("/", 1)[-1]
    return physical.split("|")[-1]


def _rule_arn(model, physical, props, path):
    if physical.startswith("arn:"):
        return physical
    bus = model.resolve(props.get("EventBusName"), f"{path}.EventBusName") if props.get("EventBusName") else None
    name = _rule_name(physical)
    if bus and bus != "default" and not str(bus).startswith("arn:"):
        return f"arn:{model.partition}:events:{model.region}:{model.account_id}:rule/{bus}/{name}"
    return f"arn:{model.partition}:events:{model.region}:{model.account_id}:rule/{name}"


def _log_group_arn(model, physical, props, path):
    return f"arn:{model.partition}:logs:{model.region}:{model.account_id}:log-group:{physical}:*"


_ATTRIBUTE_BUILDERS = {
    ("AWS::KMS::Key", "Arn"): _regional_arn("kms", "key/"),
    ("AWS::KMS::Key", "KeyId"): _kms_key_id,
    ("AWS::IAM::Role", "Arn"): _iam_arn("role"),
    ("AWS::IAM::User", "Arn"): _iam_arn("user"),
    ("AWS::S3::Bucket", "Arn"): _bucket_arn,
    ("AWS::S3::Bucket", "DomainName"): _bucket_domain,
    ("AWS::S3::Bucket", "RegionalDomainName"): _bucket_regional_domain,
    ("AWS::Lambda::Function", "Arn"): _regional_arn("lambda", "function:"),
    ("AWS::SNS::Topic", "TopicArn"): _regional_arn("sns"),
    ("AWS::SNS::Topic", "TopicName"): _topic_name,
    ("AWS::Events::Rule", "Arn"): _rule_arn,
    ("AWS::Logs::LogGroup", "Arn"): _log_group_arn,
}


def rule_name_from_physical_id(physical):
    return _rule_name(physical)


def load_stack(session, stack_name, template_body=None):
    """Read a stack and build its StackModel. Raises StackNotFoundError, TemplateError or AWS errors."""
    stack = describe_stack(session, stack_name)
    if template_body is None:
        response = session.call("cloudformation", "get_template", StackName=stack_name)
        template_body = response.get("TemplateBody")
    template = load_template(template_body)
    resources = session.paginate(
        "cloudformation", "list_stack_resources", "StackResourceSummaries", StackName=stack_name
    )
    account_id = None
    if not (_arn_parts(stack.get("StackId")) or {}).get("account"):
        account_id = session.call("sts", "get_caller_identity").get("Account")
    return StackModel(stack, template, resources, region=session.module.region, account_id=account_id)
