# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""CloudFormation template loading and intrinsic-function resolution.

Pure Python, no AWS calls: the caller hands in the parameter values, the
pseudo-parameters, the physical resource ids and a function that answers
``Fn::GetAtt``.  Used so that the modules read what the template declares
instead of restating it.
"""

from __future__ import annotations

import json
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the modules
    yaml = None
    HAS_YAML = False


class TemplateError(Exception):
    """The template text cannot be parsed."""


class TemplateResolutionError(Exception):
    """A value of the template cannot be resolved; ``path`` names where."""

    def __init__(self, path, message):
        self.path = path
        self.reason = message
        super().__init__(f"cannot resolve {path}: {message}")


class _NoValue:
    """Marker for ``Ref: AWS::NoValue``; removed from lists and mappings."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "AWS::NoValue"

    def __bool__(self):
        return False


NO_VALUE = _NoValue()

# Short-form tags of CloudFormation YAML and the long form each one maps to.
SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!ImportValue": "Fn::ImportValue",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
    "!Cidr": "Fn::Cidr",
    "!Length": "Fn::Length",
    "!ToJsonString": "Fn::ToJsonString",
    "!Transform": "Fn::Transform",
}

INTRINSIC_KEYS = frozenset(["Ref"] + [v for v in SHORT_TAGS.values() if v.startswith("Fn::")])
# The intrinsic functions files/TapStack.yml uses, which the Resolver evaluates. Every CloudFormation tag
# still loads (SHORT_TAGS), so that a template using another function fails with a message naming it.
SUPPORTED = frozenset({"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If",
                       "Fn::Equals", "Fn::Not", "Fn::Or"})


def _make_loader():
    # libyaml's parser when PyYAML has it: the same documents, about 6x faster on TapStack.yml.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class CfnLoader(base):  # pylint: disable=too-many-ancestors
        pass

    # CloudFormation reads dates and times as strings, not timestamps.
    CfnLoader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def _constructor(long_name):
        def construct(loader, node):
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                if long_name == "Fn::GetAtt":
                    value = value.split(".", 1)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_mapping(node, deep=True)
            return {long_name: value}

        return construct

    for tag, long_name in SHORT_TAGS.items():
        CfnLoader.add_constructor(tag, _constructor(long_name))
    return CfnLoader


def load_template(body):
    """Parse a template given as text (JSON or YAML) or as an already parsed mapping."""
    if isinstance(body, dict):
        return _plain(body)
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not isinstance(body, str):
        raise TemplateError(f"template body has unexpected type {type(body).__name__}")
    text = body.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # JSON-looking YAML flow mapping: let the YAML parser try
    if not HAS_YAML:
        raise TemplateError("PyYAML is required to read YAML templates")
    try:
        data = yaml.load(text, Loader=_make_loader())  # nosec B506 - SafeLoader subclass
    except yaml.YAMLError as e:
        raise TemplateError(f"template is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise TemplateError("template is not a mapping")
    return data


def _plain(value):
    """Turn OrderedDicts (as botocore returns JSON templates) into plain structures."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def intrinsic_name(value):
    """Name of the intrinsic function if ``value`` is one (a one-key mapping), else None."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        if key in INTRINSIC_KEYS:
            return key
    return None


def referenced_logical_id(value):
    """Logical id a value points at through Ref, Fn::GetAtt or a one-variable Fn::Sub; else None."""
    name = intrinsic_name(value)
    if name == "Ref" and isinstance(value["Ref"], str):
        return value["Ref"]
    if name == "Fn::GetAtt":
        arg = value["Fn::GetAtt"]
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            return arg[0]
    if name == "Fn::Sub" and isinstance(value["Fn::Sub"], str):
        match = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}", value["Fn::Sub"])
        if match:
            return match.group(1)
    return None


def referenced_refs(value):
    """Every name a value reaches through Ref, at any depth (inside Fn::If and the like), in order."""
    if isinstance(value, dict):
        if intrinsic_name(value) == "Ref" and isinstance(value["Ref"], str):
            return [value["Ref"]]
        return [name for item in value.values() for name in referenced_refs(item)]
    if isinstance(value, list):
        return [name for item in value for name in referenced_refs(item)]
    return []


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _to_str(value, path):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TemplateResolutionError(path, f"expected a string, got {type(value).__name__}")


class Resolver:
    """Evaluates intrinsic functions of one template for one stack.

    ``parameters``: resolved parameter values by name (strings, or lists for list types).
    ``pseudo``: values of AWS::Region, AWS::AccountId, ... (AWS::NoValue is built in).
    ``physical_ids``: logical id -> physical id, for ``Ref`` to a resource.
    ``get_att``: callable(logical_id, attribute, path) -> value, for ``Fn::GetAtt``.

    Only the intrinsic functions files/TapStack.yml uses are resolved (SUPPORTED); any other fails with a
    TemplateResolutionError that names it.
    """

    def __init__(self, template, parameters, pseudo, physical_ids=None, get_att=None):
        self.template = template
        self.parameters = dict(parameters)
        self.pseudo = dict(pseudo)
        self.physical_ids = dict(physical_ids or {})
        self._get_att = get_att
        self._conditions = {}
        self._evaluating = set()

    # -- conditions -----------------------------------------------------------------

    def condition(self, name, path=None):
        """Value of the named condition of the template."""
        path = path or f"Conditions.{name}"
        if name in self._conditions:
            return self._conditions[name]
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateResolutionError(path, f"condition {name!r} is not defined")
        if name in self._evaluating:
            raise TemplateResolutionError(path, f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            value = self._condition_value(conditions[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = value
        return value

    def _condition_value(self, value, path):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, dict) and len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Condition":
                return self.condition(arg, path)
            if key == "Fn::Equals":
                if not isinstance(arg, list) or len(arg) != 2:
                    raise TemplateResolutionError(path, "Fn::Equals takes a list of two values")
                left = self.resolve(arg[0], f"{path}.Fn::Equals[0]")
                right = self.resolve(arg[1], f"{path}.Fn::Equals[1]")
                return _comparable(left) == _comparable(right)
            if key == "Fn::Not":
                if not isinstance(arg, list) or len(arg) != 1:
                    raise TemplateResolutionError(path, "Fn::Not takes a list of one condition")
                return not self._condition_value(arg[0], f"{path}.Fn::Not[0]")
            if key == "Fn::Or":
                if not isinstance(arg, list) or not arg:
                    raise TemplateResolutionError(path, "Fn::Or takes a list of conditions")
                values = [self._condition_value(a, f"{path}.Fn::Or[{i}]") for i, a in enumerate(arg)]
                return any(values)  # every operand evaluated (and checked), as CloudFormation does
        raise TemplateResolutionError(path, f"not a condition: {value!r}")

    def resource_active(self, logical_id):
        """True when the resource has no Condition or its Condition holds."""
        resource = (self.template.get("Resources") or {}).get(logical_id)
        if resource is None:
            return False
        cond = resource.get("Condition")
        if cond is None:
            return True
        return self.condition(cond, f"Resources.{logical_id}.Condition")

    def output_active(self, key):
        output = (self.template.get("Outputs") or {}).get(key)
        if output is None:
            return False
        cond = output.get("Condition")
        return True if cond is None else self.condition(cond, f"Outputs.{key}.Condition")

    # -- values ---------------------------------------------------------------------

    def resolve(self, value, path):
        """Resolve every intrinsic in ``value``; AWS::NoValue entries are dropped."""
        name = intrinsic_name(value)
        if name is not None:
            if name not in SUPPORTED:
                raise TemplateResolutionError(path, f"{name} is not supported: this collection resolves only "
                                                    f"{', '.join(sorted(SUPPORTED))} (what files/TapStack.yml uses)")
            return getattr(self, "_fn_" + name.replace("Fn::", "").lower())(value[name], f"{path}.{name}")
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item, f"{path}.{key}")
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            out = []
            for index, item in enumerate(value):
                resolved = self.resolve(item, f"{path}[{index}]")
                if resolved is not NO_VALUE:
                    out.append(resolved)
            return out
        return value

    def resource_properties(self, logical_id):
        resource = (self.template.get("Resources") or {}).get(logical_id)
        if resource is None:
            raise TemplateResolutionError(f"Resources.{logical_id}", "no such resource in the template")
        return self.resolve(resource.get("Properties") or {}, f"Resources.{logical_id}.Properties")

    def _fn_ref(self, arg, path):
        if not isinstance(arg, str):
            arg = self.resolve(arg, path)
        if arg == "AWS::NoValue":
            return NO_VALUE
        if arg.startswith("AWS::"):
            if arg in self.pseudo:
                return self.pseudo[arg]
            raise TemplateResolutionError(path, f"pseudo-parameter {arg} is not known")
        params = self.template.get("Parameters") or {}
        if arg in params:
            if arg not in self.parameters:
                raise TemplateResolutionError(path, f"parameter {arg} has no value")
            return self.parameters[arg]
        resources = self.template.get("Resources") or {}
        if arg in resources:
            if not self.resource_active(arg):
                raise TemplateResolutionError(path, f"resource {arg} is not created (its condition is false)")
            if arg not in self.physical_ids or not self.physical_ids[arg]:
                raise TemplateResolutionError(path, f"resource {arg} has no physical id in the stack")
            return self.physical_ids[arg]
        raise TemplateResolutionError(path, f"Ref to unknown name {arg!r}")

    def _fn_getatt(self, arg, path):
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateResolutionError(path, "Fn::GetAtt takes [LogicalId, Attribute]")
        logical_id = arg[0]
        attribute = self.resolve(arg[1], f"{path}[1]")
        resources = self.template.get("Resources") or {}
        if logical_id not in resources:
            raise TemplateResolutionError(path, f"Fn::GetAtt of unknown resource {logical_id!r}")
        if not self.resource_active(logical_id):
            raise TemplateResolutionError(path, f"resource {logical_id} is not created (its condition is false)")
        if self._get_att is None:
            raise TemplateResolutionError(path, f"Fn::GetAtt {logical_id}.{attribute} cannot be resolved here")
        return self._get_att(logical_id, attribute, path)

    def _fn_sub(self, arg, path):
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise TemplateResolutionError(path, "Fn::Sub takes a string or [string, {variables}]")
            text = arg[0]
            variables = {k: self.resolve(v, f"{path}[1].{k}") for k, v in arg[1].items()}
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise TemplateResolutionError(path, "Fn::Sub needs a string")

        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                return _to_str(variables[name], f"{path}.${{{name}}}")
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return _to_str(self._fn_getatt([logical_id, attribute], f"{path}.${{{name}}}"), path)
            value = self._fn_ref(name, f"{path}.${{{name}}}")
            if isinstance(value, list):
                return ",".join(_to_str(v, path) for v in value)
            return _to_str(value, f"{path}.${{{name}}}")

        return _SUB_VAR.sub(replace, text)

    def _fn_join(self, arg, path):
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateResolutionError(path, "Fn::Join takes [delimiter, [values]]")
        delimiter = self.resolve(arg[0], f"{path}[0]")
        values = self.resolve(arg[1], f"{path}[1]")
        if not isinstance(values, list):
            raise TemplateResolutionError(path, "Fn::Join needs a list of values")
        return _to_str(delimiter, path).join(_to_str(v, f"{path}[1]") for v in values)

    def _fn_select(self, arg, path):
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateResolutionError(path, "Fn::Select takes [index, list]")
        index = self.resolve(arg[0], f"{path}[0]")
        values = self.resolve(arg[1], f"{path}[1]")
        try:
            return values[int(index)]
        except (ValueError, TypeError, IndexError):
            raise TemplateResolutionError(path, f"index {index!r} is not in the list") from None

    def _fn_split(self, arg, path):
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateResolutionError(path, "Fn::Split takes [delimiter, string]")
        delimiter = _to_str(self.resolve(arg[0], f"{path}[0]"), path)
        text = _to_str(self.resolve(arg[1], f"{path}[1]"), path)
        return text.split(delimiter)

    def _fn_if(self, arg, path):
        if not isinstance(arg, list) or len(arg) != 3:
            raise TemplateResolutionError(path, "Fn::If takes [condition, value if true, value if false]")
        chosen = 1 if self.condition(arg[0], f"{path}[0]") else 2
        return self.resolve(arg[chosen], f"{path}[{chosen}]")

    def _fn_equals(self, arg, path):
        return self._condition_value({"Fn::Equals": arg}, path)

    def _fn_not(self, arg, path):
        return self._condition_value({"Fn::Not": arg}, path)

    def _fn_or(self, arg, path):
        return self._condition_value({"Fn::Or": arg}, path)


def _comparable(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def given_parameter_values(template, given):
    """parameter_values for a mapping of the values a deploy passes (the others take the template defaults)."""
    return parameter_values(template, [{"ParameterKey": k, "ParameterValue": v} for k, v in (given or {}).items()])


def parameter_values(template, stack_parameters):
    """Parameter values as CloudFormation sees them: the stack's values, else the template defaults.

    ``stack_parameters``: the ``Parameters`` list of describe_stacks.
    """
    declared = template.get("Parameters") or {}
    given = {}
    for item in stack_parameters or []:
        value = item.get("ResolvedValue", item.get("ParameterValue"))
        given[item["ParameterKey"]] = value
    values = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            continue
        ptype = str(spec.get("Type", "String"))
        if (ptype.startswith("List<") or ptype == "CommaDelimitedList") and isinstance(value, str):
            value = [v.strip() for v in value.split(",")] if value else []
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        values[name] = value
    return values
