# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The names a stack of the template gives its resources, read from the template.

The physical names the template sets (``BucketName: !Sub ebooks-storage-logs-${Environment}``,
``RoleName``, ``FunctionName``, ...) depend on the parameters only, so they are known before a stack
exists and after it is gone: for a teardown that finds no stack, and for the tests and fixtures that
must name what a deploy creates. No name is written here: each is the template's own expression,
resolved for the parameter values given.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import given_parameter_values

# The property that names a resource of each type, and whether ``Ref`` gives that name (a topic's Ref is its ARN).
NAME_PROPERTIES = {
    "AWS::S3::Bucket": ("BucketName", True),
    "AWS::IAM::Role": ("RoleName", True),
    "AWS::Lambda::Function": ("FunctionName", True),
    "AWS::Events::Rule": ("Name", True),
    "AWS::KMS::Alias": ("AliasName", True),
    "AWS::Logs::LogGroup": ("LogGroupName", True),
    "AWS::SNS::Topic": ("TopicName", False),
}


class _WhateverTheCondition(Resolver):
    """A resolver for which every resource exists: a resource keeps its name whether or not its Condition holds
    (the log bucket retained after ``EnableLogging`` was turned off is still ``LoggingBucket``'s name)."""

    def resource_active(self, logical_id):
        return logical_id in (self.template.get("Resources") or {})


def resource_names(template, parameters, pseudo=None, resource_type=None):
    """Logical id -> physical name of each resource whose name the template sets, for these parameter values.

    ``template``: a parsed template (``cfn_template.load_template``). ``parameters``: the values a deploy
    passes, by name; the others take the template's defaults. ``pseudo``: AWS::Region and the like, for names
    that use them (without, such names are left out, as are names that need another resource's physical id).
    ``resource_type``: only the resources of this type.
    """
    resolver = _resolver(template, parameters, pseudo)
    names = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        rtype = resource.get("Type")
        if rtype not in NAME_PROPERTIES or (resource_type and rtype != resource_type):
            continue
        prop = NAME_PROPERTIES[rtype][0]
        value = (resource.get("Properties") or {}).get(prop)
        if value is None:
            continue
        try:
            name = resolver.resolve(value, f"Resources.{logical_id}.Properties.{prop}")
        except TemplateResolutionError:
            continue
        if isinstance(name, str) and name:
            names[logical_id] = name
    return names


def output_names(template, parameters, pseudo=None):
    """Output key -> value of the outputs a stack of these parameters would give that the template alone decides.

    Those whose value is a ``Ref`` to a named resource (``EbooksBucketName``, ``LoggingBucketName``,
    ``StorageMonitoringFunctionName``, ...) or to a parameter (``EnvironmentName``), whether or not the output's
    Condition holds: what a stack outputs, and what a retained resource of a stack that no longer outputs it is
    called. Outputs that need a physical id the template does not set (a key id, an ARN) are left out.
    """
    resolver = named_resolver(template, parameters, pseudo)
    found = {}
    for key, output in (template.get("Outputs") or {}).items():
        value = (output or {}).get("Value")
        if not (isinstance(value, dict) and list(value) == ["Ref"]):
            continue
        try:
            resolved = resolver.resolve(value, f"Outputs.{key}.Value")
        except TemplateResolutionError:
            continue
        if isinstance(resolved, str):
            found[key] = resolved
    return found


def named_resolver(template, parameters, pseudo=None):
    """A ``cfn_template.Resolver`` for these parameter values in which a ``Ref`` to a named resource gives its name
    (the name a stack gives it), whether or not the resource's Condition holds: to read what the template declares
    before a stack exists (a bucket's ``LoggingConfiguration`` names the log bucket). What needs a physical id
    the template does not set (a key id, ``Fn::GetAtt``) stays unresolvable."""
    named = {lid: name for lid, name in resource_names(template, parameters, pseudo).items()
             if NAME_PROPERTIES[template["Resources"][lid]["Type"]][1]}
    return _resolver(template, parameters, pseudo, named)


def _resolver(template, parameters, pseudo, physical_ids=None):
    return _WhateverTheCondition(
        template, given_parameter_values(template, parameters), dict(pseudo or {}), physical_ids=physical_ids
    )
