# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check stack parameter values against a template's Parameters section, before any API call.

Used by the template_parameters action plugin (on the controller, where the template file is) and by the
module of the same name (its documentation, and a direct run with ``ansible -m``).
"""

from __future__ import annotations

import re

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template

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


def validate(params):
    """(True, {"parameters": checked}) or (False, {"msg": ..., "errors": [...]}) for validated module params."""
    path = params["template_path"]
    try:
        with open(path, encoding="utf-8") as handle:
            declarations = load_template(handle.read()).get("Parameters", {})
    except (OSError, TemplateError) as e:
        return False, {"msg": f"Could not read the template {path}: {e}"}
    checked, errors = check(declarations, params["parameters"], params["input_names"], params["input_prefix"])
    if errors:
        return False, {"msg": "Bad stack parameters, nothing was changed: " + "; ".join(errors), "errors": errors}
    return True, {"parameters": checked}
