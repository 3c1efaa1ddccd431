#!/usr/bin/env python3
"""Molecule's dependency step for this collection's scenarios, offline.

    check_dependencies.py PROJECT_DIRECTORY

Galaxy cannot be reached from these machines, so nothing is installed: this
checks that the collections the scenarios use are found, in the versions they
need, and that tap.ebook_storage resolves to PROJECT_DIRECTORY (the link that
`make setup` puts in .collections/). Exits 1 with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# amazon.aws and community.aws come with the `ansible` package of .venv.
REQUIRED = {"amazon.aws": (9, 0, 0), "community.aws": (9, 0, 0), "tap.ebook_storage": (1, 0, 0)}


def version_tuple(text):
    return tuple(int(part) for part in text.split("-")[0].split(".")[:3])


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    project = Path(argv[0]).resolve()
    collections_path = project / ".collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path))
    # The ansible-galaxy of the Python that runs this (the controller's .venv).
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    if not galaxy.exists():
        galaxy = Path(shutil.which("ansible-galaxy") or "ansible-galaxy")
    answer = subprocess.run(  # noqa: S603 - fixed arguments, no user input
        [str(galaxy), "collection", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if answer.returncode != 0:
        print(f"ansible-galaxy collection list failed: {answer.stderr.strip()}", file=sys.stderr)
        return 1
    found = {}
    for path, collections in json.loads(answer.stdout).items():
        for name, info in collections.items():
            found.setdefault(name, (path, info.get("version") or "0.0.0"))
    problems = []
    for name, minimum in REQUIRED.items():
        if name not in found:
            problems.append(f"{name} is not installed")
            continue
        path, version = found[name]
        if version_tuple(version) < minimum:
            problems.append(f"{name} {version} in {path} is older than {'.'.join(map(str, minimum))}")
        else:
            print(f"{name} {version} ({path})")
    own = collections_path / "ansible_collections" / "tap" / "ebook_storage"
    if own.exists() and own.resolve() != project:
        problems.append(f"{own} points at {own.resolve()}, not at this checkout {project}")
    if problems:
        print("Missing dependencies (run `make setup`): " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
