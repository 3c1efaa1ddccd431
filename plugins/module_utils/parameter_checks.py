# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check stack parameter values against a template's Parameters section, before any API call.

Used by the template_parameters action plugin (on the controller, where the template file is) and by the
module of the same name (its documentation, and a direct run with ``ansible -m``).
"""

from __future__ import annotations

import re

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import given_parameter_values
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_refs
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_names import output_names

ARGUMENT_SPEC = dict(
    template_path=dict(type="path", required=True),
    parameters=dict(type="dict", default={}),
    input_names=dict(type="dict", default={}),
    input_prefix=dict(type="str", default=""),
)


def as_parameter_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_parameter_string(v) for v in value)
    return str(value)


def problems_with(value, declaration):
    """What is wrong with one value, as short phrases; empty when it is fine."""
    problems = []
    kind = declaration.get("Type", "String")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return ["is not a number"]
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            problems.append(f"is below the minimum {declaration['MinValue']}")
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            problems.append(f"is above the maximum {declaration['MaxValue']}")
    allowed = declaration.get("AllowedValues")
    if allowed is not None and value not in [as_parameter_string(a) for a in allowed]:
        problems.append("is not one of " + ", ".join(as_parameter_string(a) for a in allowed))
    pattern = declaration.get("AllowedPattern")
    # CloudFormation matches the pattern against the whole value.
    if pattern is not None and re.fullmatch(pattern, value) is None:
        problems.append(f"does not match {pattern}")
    if "MinLength" in declaration and len(value) < int(declaration["MinLength"]):
        problems.append(f"is shorter than {declaration['MinLength']} characters")
    if "MaxLength" in declaration and len(value) > int(declaration["MaxLength"]):
        problems.append(f"is longer than {declaration['MaxLength']} characters")
    return problems


def check(declarations, values, input_names, input_prefix):
    errors = []
    checked = {}
    for name, raw in values.items():
        where = input_names.get(name, input_prefix + name)
        if name not in declarations:
            errors.append(f"{where}: the template has no parameter {name}; it has {', '.join(sorted(declarations))}")
            continue
        value = as_parameter_string(raw)
        problems = problems_with(value, declarations[name])
        if problems:
            hint = declarations[name].get("ConstraintDescription") or declarations[name].get("Description", "")
            errors.append(f"{where}={value!r} {' and '.join(problems)}" + (f" ({hint})" if hint else ""))
        checked[name] = value
    return checked, errors


def _days_refs(rule, transitions_key, single_transition_key, expiration_path):
    """(parameters setting the rule's transition days, parameters setting its expiration days)."""
    transitions = list(rule.get(transitions_key) or []) + [rule.get(single_transition_key) or {}]
    moved = [name for t in transitions for name in referenced_refs(t.get("TransitionInDays"))]
    expiry = rule
    for key in expiration_path:
        expiry = expiry.get(key) or {} if isinstance(expiry, dict) else {}
    return moved, referenced_refs(expiry)


def lifecycle_order_pairs(template):
    """[(transition parameter, expiration parameter, bucket)] of the template's S3 lifecycle rules.

    S3 refuses a rule whose objects (or noncurrent versions) expire no later than they transition, so the
    expiration parameter must stay above the transition parameter of the same rule.
    """
    pairs = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if (resource or {}).get("Type") != "AWS::S3::Bucket":
            continue
        lifecycle = ((resource.get("Properties") or {}).get("LifecycleConfiguration") or {})
        for rule in lifecycle.get("Rules") or [] if isinstance(lifecycle, dict) else []:
            if not isinstance(rule, dict):
                continue
            for kind in (
                _days_refs(rule, "Transitions", "Transition", ("ExpirationInDays",)),
                _days_refs(rule, "NoncurrentVersionTransitions", "NoncurrentVersionTransition",
                           ("NoncurrentVersionExpiration", "NoncurrentDays")),
            ):
                pairs.extend((moved, expired, logical_id) for moved in kind[0] for expired in kind[1])
    return pairs


def order_errors(template, checked, input_names, input_prefix):
    """Errors for lifecycle expirations not above their transitions, with the template's defaults filled in."""
    values = given_parameter_values(template, checked)

    def named(name):
        if name in checked:
            return f"{input_names.get(name, input_prefix + name)}={values[name]}"
        return f"{name}={values[name]} (the template's default)"

    errors = []
    for moved, expired, bucket in lifecycle_order_pairs(template):
        try:
            too_early = float(values[expired]) <= float(values[moved])
        except (KeyError, ValueError):
            continue  # not a number: reported by the per-value check
        if too_early and (moved in checked or expired in checked):
            errors.append(
                f"{named(expired)} must be above {named(moved)}: S3 refuses a lifecycle rule of {bucket} whose "
                f"versions expire before they move to STANDARD_IA"
            )
    return errors


def validate(params):
    """(True, {"parameters": checked, "names": ...}) or (False, {"msg": ..., "errors": [...]}) for validated module
    params. ``names``: the outputs the template alone decides for these values (stack_names.output_names), what a
    teardown deletes when no stack is left to say it."""
    path = params["template_path"]
    try:
        with open(path, encoding="utf-8") as handle:
            template = load_template(handle.read())
    except (OSError, TemplateError) as e:
        return False, {"msg": f"Could not read the template {path}: {e}"}
    names, prefix = params["input_names"], params["input_prefix"]
    checked, errors = check(template.get("Parameters", {}), params["parameters"], names, prefix)
    if not errors:
        errors = order_errors(template, checked, names, prefix)
    if errors:
        return False, {"msg": "Bad stack parameters, nothing was changed: " + "; ".join(errors), "errors": errors}
    return True, {"parameters": checked, "names": output_names(template, checked)}
