
# Copyright (c) 2026 TAP infrastructure team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Load a CloudFormation template (YAML with short-form tags, or JSON) into plain data.

Short forms become the long forms CloudFormation itself uses (``!Ref X`` ->
``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``,
``!Sub ...`` -> ``{"Fn::Sub": ...}``), so code that reads a template only has
to know one form.
"""

from __future__ import annotations

import json

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None


def _long_form(tag):
    return "Ref" if tag == "Ref" else "Condition" if tag == "Condition" else "Fn::" + tag


def _construct(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {_long_form(tag_suffix): value}


def _loader():
    class CfnLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        pass

    CfnLoader.add_multi_constructor("!", _construct)
    return CfnLoader


def load_template(text):
    """Parse template text; raise ValueError with the reason when it is not a template."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not valid JSON: {e}") from e
    else:
        if yaml is None:
            raise ValueError("PyYAML is required to read a YAML template")
        try:
            data = yaml.load(text, Loader=_loader())  # nosec B506 - SafeLoader subclass
        except yaml.YAMLError as e:
            raise ValueError(f"not valid YAML: {e}") from e
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError("not a CloudFormation template (no Resources section)")
    return data
