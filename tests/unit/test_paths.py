"""No tracked file names an absolute path of a checkout, of a home folder or of anything a checkout built.

Everything is derived from the repository root or from the environment a user sets: a clone in another
folder, on another machine, must work. An absolute path may name a system location (below) or one of the
documentation placeholders listed here; anything else under a top-level folder of the machine fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Locations that every Linux machine has and that a file may name (/usr/bin/env, /proc/<pid>/cwd, /dev/null).
SYSTEM_LOCATIONS = {"usr", "etc", "bin", "sbin", "lib", "lib64", "proc", "dev", "sys", "var", "tmp", "run"}
# Top-level folders where checkouts, homes, tool installations and CI workspaces live, on this machine or on
# another one: naming anything below them ties a file to one machine.
MACHINE_LOCATIONS = {"home", "root", "Users", "work", "workspace", "builds", "opt", "mnt", "media", "srv",
                     "nix", "private", "Volumes"}
# Documentation examples that are clearly placeholders (a user's own folders in a module's EXAMPLES).
PLACEHOLDERS = (
    "/path/to/",
    "/srv/backlog",
    "/srv/incoming",
    "/srv/cfn-outputs/",
)
# An absolute path where a token starts: after a quote, a space, `=`, a bracket, a comma or a backtick.
ABSOLUTE_PATH = re.compile(r"""(?:^|(?<=[\s"'`=(\[,<>|;:]))/([A-Za-z0-9._~-]+)(?:/[^\s"'`)\]>,;]*)?""",
                           re.MULTILINE)


def tracked_files():
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False)
    if listing.returncode == 0 and listing.stdout:
        return [ROOT / name for name in listing.stdout.split("\0") if name]
    skip = {".git", ".venv", ".venvs", ".localstack", ".collections", ".build"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def machine_locations():
    """The generic set, plus whatever else stands at this machine's root (a CI runner's own folders)."""
    here = {entry for entry in os.listdir("/") if os.path.isdir(os.path.join("/", entry))}
    return (MACHINE_LOCATIONS | here) - SYSTEM_LOCATIONS


def offending_paths(text, locations):
    found = []
    for match in ABSOLUTE_PATH.finditer(text):
        path = match.group(0)
        if match.group(1) not in locations or path.startswith(PLACEHOLDERS):
            continue
        found.append(path)
    return found


def test_the_detector_finds_checkout_and_home_paths_and_spares_placeholders():
    locations = MACHINE_LOCATIONS
    # Joined here so that this file does not itself contain, as text, the paths the next test fails on.
    venv, pyenv, key = ("/" + p for p in ("work/main/.venvs/localstack", "root/.pyenv/versions/3.13.0", "home/ops/k"))
    text = (f'venv = "{venv}"\nsee {pyenv}\n'
            f"src: /srv/backlog\nurl: https://example.invalid/work/x\nlog group /aws/lambda/x\nkey={key}\n")
    assert offending_paths(text, locations) == [venv, pyenv, key]


def test_no_tracked_file_names_a_machine_specific_absolute_path():
    locations = machine_locations()
    checkout = str(ROOT)
    problems = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        relative = path.relative_to(ROOT)
        if len(ROOT.parts) > 2 and checkout in text:
            problems.append(f"{relative}: names this checkout ({checkout})")
        problems += [f"{relative}: {found}" for found in offending_paths(text, locations)]
    assert problems == [], (
        "tracked files name absolute paths of one machine; derive them from the repository root or the "
        "environment instead:\n" + "\n".join(problems))
