#!/usr/bin/python

# Copyright (c) 2026 TAP infrastructure team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: template_parameters
short_description: Check stack parameter values against a CloudFormation template, before any API call
version_added: 1.0.0
description:
  - Reads the C(Parameters) section of a CloudFormation template and checks the given values against each
    parameter's C(Type), C(AllowedValues), C(AllowedPattern), C(MinValue), C(MaxValue), C(MinLength) and C(MaxLength).
  - Fails with one message that lists every bad value, names the input it came from and says what is allowed
    (the template's C(ConstraintDescription) where it has one).
  - Makes no API call, so a deploy with a bad value stops before anything is created or changed.
author:
  - TAP infrastructure team (@tap-infra)
options:
  template_path:
    description: Path of the CloudFormation template (YAML or JSON).
    required: true
    type: path
  parameters:
    description: Parameter values by their CloudFormation names. Booleans become V(true)/V(false).
    default: {}
    type: dict
  input_names:
    description:
      - How each parameter is called where the user set it, for the error message.
      - Parameters not listed here are named C(<input_prefix><Name>).
    default: {}
    type: dict
  input_prefix:
    description: Prefix for the input name of parameters not in O(input_names).
    default: ""
    type: str
"""

EXAMPLES = r"""
- name: Check the values before deploying
  tap.ebook_storage.template_parameters:
    template_path: files/TapStack.yml
    parameters:
      Environment: dev
      LogRetentionDays: 30
    input_names:
      Environment: ebook_stack_environment
    input_prefix: ebook_stack_parameters.
  register: checked
"""

RETURN = r"""
parameters:
  description: The values as strings, ready for O(amazon.aws.cloudformation#module:template_parameters).
  returned: success
  type: dict
  sample: {"Environment": "dev", "LogRetentionDays": "30"}
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template


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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            template_path=dict(type="path", required=True),
            parameters=dict(type="dict", default={}),
            input_names=dict(type="dict", default={}),
            input_prefix=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    path = module.params["template_path"]
    try:
        with open(path, encoding="utf-8") as handle:
            declarations = load_template(handle.read()).get("Parameters", {})
    except (OSError, TemplateError) as e:
        module.fail_json(msg=f"Could not read the template {path}: {e}")

    params = module.params
    checked, errors = check(declarations, params["parameters"], params["input_names"], params["input_prefix"])
    if errors:
        module.fail_json(msg="Bad stack parameters, nothing was changed: " + "; ".join(errors), errors=errors)
    module.exit_json(changed=False, parameters=checked)


if __name__ == "__main__":
    main()
