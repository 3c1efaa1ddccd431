# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a deploy would change, and which of those changes can delete stored data.

Read by the change_review action plugin (review mode, and the prod deploy's confirmation gate). Which
parameters delete data when they shrink is read from the template: a parameter counts when it feeds one of the
expiry properties below, wherever the template uses it. What those properties mean is AWS's, not the
template's, so it lives here.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import given_parameter_values
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_refs

ARGUMENT_SPEC = dict(
    template_path=dict(type="path", required=True),
    stack_parameters=dict(type="dict", default={}),
    parameters=dict(type="dict", default={}),
    changes=dict(type="raw", default=[]),
    stack_exists=dict(type="bool", default=True),
)

# Property paths (a suffix of the path inside a resource's Properties) whose value is a number of days after
# which AWS deletes data for good: S3 lifecycle expiration of current objects and of noncurrent versions, and
# CloudWatch Logs retention. A transition (to STANDARD_IA) moves data and is not here.
EXPIRY_PROPERTIES = (
    ("ExpirationInDays",),
    ("NoncurrentVersionExpiration", "NoncurrentDays"),
    ("NoncurrentVersionExpirationInDays",),
    ("RetentionInDays",),
)

# Resources that hold data: replacing or removing one moves new data elsewhere or (without Retain) deletes it.
DATA_RESOURCE_TYPES = {
    "AWS::S3::Bucket": "bucket",
    "AWS::KMS::Key": "key",
    "AWS::Logs::LogGroup": "log group",
}


def _walk(value, path):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path + (key,), item
            yield from _walk(item, path + (key,))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)


def expiry_parameters(template):
    """{parameter: [where it sets an expiry, as "Resource.Path.To.Property"]} for the template's parameters."""
    parameters = template.get("Parameters") or {}
    found = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        for path, value in _walk((resource or {}).get("Properties") or {}, ()):
            if not any(path[-len(suffix):] == suffix for suffix in EXPIRY_PROPERTIES):
                continue
            for name in referenced_refs(value):
                if name in parameters:
                    found.setdefault(name, []).append(".".join((logical_id,) + path))
    return found


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parameter_changes(template, old, new):
    """One entry per parameter whose value differs, with ``data_loss`` set when the change can delete data."""
    expiries = expiry_parameters(template)
    declared = template.get("Parameters") or {}
    changes = []
    for name in declared:
        before, after = old.get(name, ""), new.get(name, "")
        numeric = declared[name].get("Type") == "Number"
        if (numeric and _number(before) == _number(after)) or before == after:
            continue
        entry = {"parameter": name, "old": before, "new": after, "data_loss": None}
        shorter = numeric and None not in (_number(before), _number(after)) and _number(after) < _number(before)
        if name in expiries and shorter:
            entry["data_loss"] = (
                f"{name} {before} -> {after}: a shorter expiry; data older than {after} days "
                f"({', '.join(expiries[name])}) is deleted for good"
            )
        changes.append(entry)
    return changes


def resource_changes(changes):
    """The change set's resource changes, with ``data_loss`` set for a data resource replaced or removed."""
    result = []
    for change in changes or []:
        rc = change.get("ResourceChange") if isinstance(change, dict) else None
        if not rc:
            continue
        entry = {
            "action": rc.get("Action", "?"),
            "logical_id": rc.get("LogicalResourceId", "?"),
            "type": rc.get("ResourceType", "?"),
            "replacement": str(rc.get("Replacement", "-")),
            "data_loss": None,
        }
        kind = DATA_RESOURCE_TYPES.get(entry["type"])
        if kind and (entry["action"] == "Remove" or entry["replacement"] in ("True", "Conditional")):
            how = "removed from the stack" if entry["action"] == "Remove" else "replaced by a new one"
            entry["data_loss"] = (
                f"{entry['logical_id']} ({entry['type']}) is {how}: the {kind}'s data stays only where the template "
                f"retains it, and new data goes elsewhere"
            )
        result.append(entry)
    return result


def table(parameters, resources, stack_exists):
    """The review as text lines: parameters (old -> new), then resources; data-loss rows marked ``!!``."""
    lines = []
    if not stack_exists:
        lines.append("The stack does not exist: a deploy creates it (no stored data is affected).")
    if parameters:
        lines.append("   PARAMETER                          OLD -> NEW")
        for p in parameters:
            mark = "!!" if p["data_loss"] else "  "
            lines.append(f"{mark} {p['parameter']:<34} {p['old'] or '(empty)'} -> {p['new'] or '(empty)'}")
    elif stack_exists:
        lines.append("No parameter changes.")
    if resources:
        lines.append("   ACTION   RESOURCE                           TYPE                           REPLACEMENT")
        for r in resources:
            mark = "!!" if r["data_loss"] else "  "
            lines.append(f"{mark} {r['action']:<8} {r['logical_id']:<34} {r['type']:<30} {r['replacement']}")
    elif stack_exists:
        lines.append("No resource changes.")
    return lines


def review(template_body, stack_parameters, parameters, changes, stack_exists):
    """{parameters, resources, data_loss: [reasons], table: [lines]} for a deploy of ``parameters``.

    ``stack_parameters`` are the stack's current values (empty for a new stack), ``parameters`` the ones the
    deploy passes, ``changes`` the change set's Changes (as amazon.aws.cloudformation returns them in check mode).
    """
    template = load_template(template_body)
    params = []
    if stack_exists:
        params = parameter_changes(template, stack_parameters or {}, given_parameter_values(template, parameters))
    resources = resource_changes(changes)
    data_loss = [c["data_loss"] for c in params + resources if c["data_loss"]]
    return {
        "parameters": params,
        "resources": resources,
        "data_loss": data_loss,
        "table": table(params, resources, stack_exists),
    }


def run_review(params):
    """The review for validated module parameters (the template read from ``template_path``)."""
    with open(params["template_path"], encoding="utf-8") as handle:
        body = handle.read()
    # In check mode amazon.aws.cloudformation returns a message instead of a list when nothing changes.
    changes = params["changes"] if isinstance(params["changes"], list) else []
    return review(body, params["stack_parameters"], params["parameters"], changes, params["stack_exists"])
