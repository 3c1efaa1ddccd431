# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's outputs as returned and as files: JSON written atomically, and only when its content changes."""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import outputs_dict
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import parameters_dict
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_stack import tags_dict


def render_json(data):
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def file_differs(path, content):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read() != content
    except FileNotFoundError:
        return True


def write_atomically(module, path, content):
    """Write ``content`` to a temporary file beside ``path`` and move it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_path, 0o644)
        module.atomic_move(temp_path, path)
    finally:
        if os.path.exists(temp_path):
            os.unlink(temp_path)


OUTPUT_FIELDS = ("OutputKey", "OutputValue", "Description", "ExportName")


def stack_summary(stack):
    """What stack_outputs and post_deploy return about a DescribeStacks stack."""
    raw_outputs = [{k: o[k] for k in OUTPUT_FIELDS if k in o} for o in stack.get("Outputs") or []]
    return dict(
        outputs=outputs_dict(stack),
        stack_outputs=raw_outputs,
        parameters=parameters_dict(stack),
        status=stack.get("StackStatus"),
        tags=tags_dict(stack.get("Tags")),
        stack_id=stack.get("StackId"),
    )


def write_outputs(module, dest, raw_outputs, flat_outputs):
    """Write <dest>/stack-outputs.json and <dest>/flat-outputs.json where they differ (not in check mode).

    Returns {stack_outputs: path, flat_outputs: path, changed: [names of the files that differ]}.
    """
    files = {
        "stack_outputs": (os.path.join(dest, "stack-outputs.json"), render_json(raw_outputs)),
        "flat_outputs": (os.path.join(dest, "flat-outputs.json"), render_json(flat_outputs)),
    }
    changed = [name for name, (path, content) in files.items() if file_differs(path, content)]
    if changed and not module.check_mode:
        try:
            os.makedirs(dest, exist_ok=True)
            for name in changed:
                path, content = files[name]
                write_atomically(module, path, content)
        except OSError as e:
            module.fail_json(msg=f"cannot write the output files in {dest}: {e}")
    result = {name: path for name, (path, _content) in files.items()}
    result["changed"] = changed
    return result
