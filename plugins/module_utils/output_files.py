# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Write JSON files atomically, and only when their content changes."""

from __future__ import annotations

import json
import os
import tempfile


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
