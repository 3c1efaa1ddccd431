#!/usr/bin/env python3
"""Molecule's dependency step for this collection's scenarios, offline.

    check_dependencies.py PROJECT_DIRECTORY [SCENARIO STATE_FILE]

Galaxy cannot be reached from these machines, so nothing is installed: this
checks that the collections the scenarios use are found, in the versions they
need, and that tap.ebook_storage resolves to PROJECT_DIRECTORY (the link that
`make setup` puts in .collections/). Exits 1 with the reason otherwise.

With SCENARIO and Molecule's STATE_FILE it also warns when Molecule believes
the scenario is already created or prepared (a `molecule converge` or an
interrupted run that nobody destroyed): Molecule then skips create and prepare,
and `molecule test` has no leading destroy, so the clean-slate check and the
scenario's fixtures would not run. Only a warning: the same state is normal
while working with `molecule converge`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# amazon.aws and community.aws come with the `ansible` package of .venv.
REQUIRED = {"amazon.aws": (9, 0, 0), "community.aws": (9, 0, 0), "tap.ebook_storage": (1, 0, 0)}


def version_tuple(text):
    return tuple(int(part) for part in text.split("-")[0].split(".")[:3])


def warn_if_not_destroyed(scenario, state_file):
    path = Path(state_file)
    text = path.read_text() if path.is_file() else ""
    if re.search(r"^(created|prepared): true\s*$", text, re.MULTILINE):
        print(
            f"WARNING: Molecule's state ({path}) says scenario {scenario} is already created/prepared: it was "
            "not destroyed after a `molecule converge` or an interrupted run. Molecule skips create and prepare "
            f"now, so nothing checks for leftovers. Before `molecule test`, run `molecule destroy -s {scenario}`.",
            file=sys.stderr,
        )


def main(argv):
    if len(argv) not in (1, 3):
        print(__doc__, file=sys.stderr)
        return 2
    if len(argv) == 3:
        warn_if_not_destroyed(argv[1], argv[2])
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
