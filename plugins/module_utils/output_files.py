# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's outputs as returned and as files: JSON written atomically, and only when its content changes."""

from __future__ import annotations

import json
import os
import re
import shlex
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
    fd, temp_path = tempfile.mkstemp(prefix=".tmp-", dir=directory)
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


def render_env(flat_outputs):
    """The outputs as shell assignments (``. cfn-outputs/prod/outputs.env``): runbooks need no JSON tool."""
    lines = [f"{key}={shlex.quote(str(value))}" for key, value in flat_outputs.items() if key.isidentifier()]
    return "# Outputs of the last deploy of this environment; written by tap.ebook_storage.\n" + "\n".join(lines) + "\n"


def write_outputs(module, dest, raw_outputs, flat_outputs):
    """Write the output files where they differ (not in check mode).

    <dest>/stack-outputs.json and <dest>/flat-outputs.json are the last deploy's, whichever environment it was;
    <dest>/<environment>/ holds the same two plus outputs.env for the stack's environment (its EnvironmentName
    output), so that a runbook for prod never reads the outputs of a dev deploy.

    Returns {stack_outputs: path, flat_outputs: path, environment_dir: path or None, changed: [file names]}.
    """
    files = {
        "stack-outputs.json": (os.path.join(dest, "stack-outputs.json"), render_json(raw_outputs)),
        "flat-outputs.json": (os.path.join(dest, "flat-outputs.json"), render_json(flat_outputs)),
    }
    environment = str(flat_outputs.get("EnvironmentName") or "")
    env_dir = os.path.join(dest, environment) if re.fullmatch(r"[A-Za-z0-9_-]+", environment) else None
    if env_dir:
        for name, content in (
            ("stack-outputs.json", files["stack-outputs.json"][1]),
            ("flat-outputs.json", files["flat-outputs.json"][1]),
            ("outputs.env", render_env(flat_outputs)),
        ):
            files[f"{environment}/{name}"] = (os.path.join(env_dir, name), content)
    changed = [name for name, (path, content) in files.items() if file_differs(path, content)]
    if changed and not module.check_mode:
        try:
            for name in changed:
                path, content = files[name]
                os.makedirs(os.path.dirname(path), exist_ok=True)
                write_atomically(module, path, content)
        except OSError as e:
            module.fail_json(msg=f"cannot write the output files in {dest}: {e}")
    return {
        "stack_outputs": files["stack-outputs.json"][0],
        "flat_outputs": files["flat-outputs.json"][0],
        "environment_dir": env_dir,
        "changed": changed,
    }
