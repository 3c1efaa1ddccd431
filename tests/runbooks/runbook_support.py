"""The runbooks' command blocks, the project folder they run in, and the one bash process that runs them.

The convention (tests/runbooks/README.md):

* every fenced block of ``docs/runbooks/*.md`` whose info string is ``bash`` is a command block, and a test runs
  it; ```` ```console ```` and ```` ```text ```` blocks are sample output and are never run;
* a runbook's bash blocks run in order in ONE bash process (``set -euo pipefail``), so a block may use the shell
  variables an earlier block set;
* nothing is skipped: there is no marker that exempts a bash block. A command that only real AWS can run is not
  in a bash fence; the runbook says in its prose that it is AWS-only.

Plain Python (no pytest): ``tests/unit/test_runbook_commands.py`` parses the runbooks with the same code.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# RUNBOOKS_DIR in the environment: walk the runbooks of another folder (drafts) instead.
RUNBOOKS_DIR = Path(os.environ.get("RUNBOOKS_DIR") or ROOT / "docs" / "runbooks")
# Runbooks that must run after every other one (they remove what the others need).
LAST = ("teardown",)

REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localstack", "AWS_SECRET_ACCESS_KEY": "localstack-dummy-secret"}
# What the bash process gets besides PATH and HOME (see bash_environment). A runbook may use these, nothing else
# it does not set itself.
PROVIDED_VARIABLES = ("LOCALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                      "AWS_DEFAULT_REGION", "ANSIBLE_CALLBACK_YAML_LINE_WIDTH")
SHELL_VARIABLES = ("HOME", "PATH", "PWD", "OLDPWD", "USER", "SHELL")

# A fence opens with ``` or ~~~ (three or more), possibly indented (inside a list item).
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")


@dataclass
class Fence:
    """One fenced block of a Markdown file."""

    runbook: str  # file name without .md
    info: str  # the whole info string ("bash", "console", "" ...)
    code: str  # the content, the fence's indentation removed
    line: int  # 1-based line of the opening fence
    before: str = ""  # the last non-blank line before the opening fence

    @property
    def language(self):
        return self.info.split()[0].lower() if self.info.strip() else ""


@dataclass
class Block:
    """A bash block of a runbook: the n-th (1-based) of its file."""

    runbook: str
    number: int
    code: str
    line: int  # line of the opening fence in the Markdown file

    def where(self):
        return f"{self.runbook}.md block {self.number} (line {self.line})"


def fences(path):
    """Every fenced block of a Markdown file, in order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    name = Path(path).stem
    found = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, info = len(match["indent"].expandtabs()), match["fence"], match["info"]
        previous = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        body = []
        end = index + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) <= {fence[0]}:
                break
            text = lines[end]
            # Remove the opening fence's indentation (at most that much) from each line.
            cut = len(text) - len(text.lstrip(" "))
            body.append(text[min(cut, indent):])
            end += 1
        found.append(Fence(name, info, "\n".join(body) + ("\n" if body else ""), index + 1, previous))
        index = end + 1
    return found


def bash_blocks(path):
    """The command blocks of a runbook (fences whose info string is ``bash``), numbered from 1."""
    blocks = [f for f in fences(path) if f.language == "bash"]
    return [Block(f.runbook, number, f.code, f.line) for number, f in enumerate(blocks, start=1)]


def runbook_paths(directory=RUNBOOKS_DIR):
    """The runbooks in the order the walk runs them: by name, those of LAST at the end."""
    paths = sorted(Path(directory).glob("*.md"))
    return [p for p in paths if p.stem not in LAST] + [p for stem in LAST for p in paths if p.stem == stem]


def inventories_used(blocks):
    """The environments named by ``inventories/<env>`` in the blocks, in order of first use."""
    seen = []
    for block in blocks:
        for env in re.findall(r"inventories/([A-Za-z0-9_-]+)", block.code):
            if env not in seen:
                seen.append(env)
    return seen


# --------------------------------------------------------------------------- the project folder


def build_project(dest, root=ROOT):
    """A folder laid out like a user's project, from which the runbooks' commands run.

    * ``deploy.yml``: a copy of the checkout's;
    * ``ansible.cfg``: the checkout's, with ``collections_path`` pointing at the checkout's ``.collections``;
    * ``playbooks``: a link to the checkout's playbooks;
    * ``inventories/dev``, ``inventories/test``: copies of the checkout's;
    * ``inventories/prod``: prod-like: a copy of the checkout's prod inventory plus
      ``group_vars/all/zz_localstack.yml``, which sets the dev inventory's ``ebook_stack_endpoint_url``
      (LOCALSTACK_ENDPOINT) and ``ebook_stack_aws_env`` (dummy credentials). Everything else is prod's.

    Nothing about outputs is set here: the deploys write wherever the role and the inventories say.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "deploy.yml", dest / "deploy.yml")
    config = (root / "ansible.cfg").read_text(encoding="utf-8")
    collections = root / ".collections"
    config, count = re.subn(r"(?m)^(\s*collections_paths?\s*=).*$", rf"\1 {collections}", config)
    if count != 1:
        raise RuntimeError(f"{root / 'ansible.cfg'} has no single collections_path line to point at {collections}")
    (dest / "ansible.cfg").write_text(config, encoding="utf-8")
    (dest / "playbooks").symlink_to(root / "playbooks", target_is_directory=True)
    inventories = dest / "inventories"
    for env in ("dev", "test", "prod"):
        shutil.copytree(root / "inventories" / env, inventories / env, symlinks=True)
    dev_vars = yaml.safe_load((root / "inventories/dev/group_vars/all/main.yml").read_text(encoding="utf-8"))
    local = {name: dev_vars[name] for name in ("ebook_stack_endpoint_url", "ebook_stack_aws_env")}
    (inventories / "prod/group_vars/all/zz_localstack.yml").write_text(
        "---\n# Prod-like: prod's inventory pointed at LocalStack with the dev inventory's endpoint and dummy\n"
        "# credentials (tests/runbooks). Loaded after main.yml, so these two values win.\n"
        + yaml.safe_dump(local, default_flow_style=False, sort_keys=False, width=1000),
        encoding="utf-8")
    return dest


def bash_environment(endpoint, project, bindir):
    """The environment of the bash process: what an on-call shell has, pointed at LocalStack.

    The caller's AWS_*, ANSIBLE_* and LOCALSTACK_* settings are dropped (nothing may reach a real account or
    pick another ansible.cfg); then LOCALSTACK_ENDPOINT, AWS_ENDPOINT_URL (the aws CLI goes to LocalStack), dummy
    credentials, AWS_DEFAULT_REGION, no shared AWS config or credentials files (a ~/.aws of the machine must not
    count), the controller environment's bin first on PATH, ANSIBLE_CALLBACK_YAML_LINE_WIDTH=no-break.
    """
    drop = ("AWS_", "ANSIBLE_", "LOCALSTACK_", "MOLECULE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    nowhere = Path(project) / ".no-aws-config"
    env.update(DUMMY_CREDENTIALS)
    env.update({
        "LOCALSTACK_ENDPOINT": endpoint,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(nowhere / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(nowhere / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "ANSIBLE_CALLBACK_YAML_LINE_WIDTH": "no-break",
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


# --------------------------------------------------------------------------- one bash process per runbook

# Printed before each block and after the last one, with bash's clock: which block an output line belongs to,
# how long each block took.
_BLOCK_MARK = re.compile(r"@@runbook-block (\d+) ([\d.]+)@@")
_DONE_MARK = re.compile(r"@@runbook-done ([\d.]+)@@")
_ERROR_MARK = re.compile(r"@@runbook-error rc=(\d+) line=(\d+)@@")


def compose_script(blocks):
    """The script that runs the blocks in order; returns (text, {block number: first script line})."""
    lines = [
        "set -euo pipefail",
        # Which command failed: the line in the script, mapped back to the block and the Markdown line.
        "trap 'printf \"\\n@@runbook-error rc=%s line=%s@@\\n\" \"$?\" \"$LINENO\" >&2' ERR",
    ]
    starts = {}
    for block in blocks:
        lines.append(f"printf '\\n@@runbook-block {block.number} %s@@\\n' \"$EPOCHREALTIME\"")
        starts[block.number] = len(lines) + 1
        lines.extend(block.code.rstrip("\n").split("\n"))
    lines.append("printf '\\n@@runbook-done %s@@\\n' \"$EPOCHREALTIME\"")
    return "\n".join(lines) + "\n", starts


@dataclass
class BlockResult:
    block: Block
    output: str = ""
    status: str = "not run"  # passed, failed, not run
    seconds: float | None = None


@dataclass
class RunbookRun:
    """What the bash process did with a runbook's blocks."""

    runbook: str
    rc: int
    seconds: float
    output: str
    results: list = field(default_factory=list)  # BlockResult per block, in order
    failed_line: int | None = None  # Markdown line of the command that failed, when known
    timed_out: bool = False
    log: Path | None = None

    @property
    def failed(self):
        return next((r for r in self.results if r.status == "failed"), None)

    def describe(self, tail=60, passed_tail=15):
        """Every block with its status and the end of its output; the failed one with more of it."""
        parts = [f"{self.runbook}.md: bash exited {self.rc} after {self.seconds:.1f} s"
                 + (" (killed: timeout)" if self.timed_out else "")]
        failed = self.failed
        if failed:
            where = f" at line {self.failed_line}" if self.failed_line else ""
            parts.append(f"FAILED: {failed.block.where()}{where}, exit code {self.rc}")
        for result in self.results:
            took = f" ({result.seconds:.1f} s)" if result.seconds is not None else ""
            parts.append(f"\n----- {result.block.where()}: {result.status}{took}")
            parts.append("\n".join("  $ " + line for line in result.block.code.rstrip("\n").split("\n")))
            if result.status == "not run":
                continue
            keep = tail if result is failed else passed_tail
            lines = result.output.strip("\n").split("\n")
            if len(lines) > keep:
                parts.append(f"  ... ({len(lines) - keep} lines before)")
            parts.extend("  | " + line for line in lines[-keep:])
        if self.log:
            parts.append(f"\nwhole output: {self.log}")
        return "\n".join(parts)


def run_blocks(blocks, project, env, timeout=900, log=None):
    """Run ``blocks`` in one ``bash`` process in ``project``; stdout and stderr together, stdin empty."""
    script, starts = compose_script(blocks)
    name = f"{blocks[0].runbook}.md" if blocks else "runbook"
    started = time.monotonic()
    timed_out = False
    # bash -c SCRIPT NAME: bash's own messages say "<runbook>.md: line N" (N: the script's line).
    proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", script, name], cwd=project, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        raw = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        raw = proc.communicate()[0]
    output = raw.decode("utf-8", errors="replace")
    seconds = time.monotonic() - started
    rc = -9 if timed_out else proc.returncode
    run = RunbookRun(blocks[0].runbook if blocks else "?", rc, seconds, output, timed_out=timed_out)
    run.results = _split(blocks, output, rc)
    # The failing line: from the ERR trap, or from bash's own message when it exits without one (${X:?}).
    error = [int(line) for _rc, line in _ERROR_MARK.findall(output)]
    error = error or [int(n) for n in re.findall(rf"^{re.escape(name)}: line (\d+):", output, re.MULTILINE)]
    if error and run.failed:
        script_line = error[-1]
        block = run.failed.block
        offset = script_line - starts[block.number]
        if 0 <= offset < len(block.code.split("\n")):
            run.failed_line = block.line + 1 + offset
    if log:
        Path(log).write_text(f"{script}\n----- output (rc={rc}, {seconds:.1f} s)\n{output}", encoding="utf-8")
        run.log = Path(log)
    return run


def _split(blocks, output, rc):
    """Each block's part of the output, its status and time, from the marks the script printed."""
    results = [BlockResult(block) for block in blocks]
    by_number = {r.block.number: r for r in results}
    current = None
    chunks, stamps = {}, []
    done = False
    for line in output.split("\n"):
        mark = _BLOCK_MARK.fullmatch(line.strip())
        end = _DONE_MARK.fullmatch(line.strip())
        if mark:
            current = int(mark.group(1))
            chunks[current] = []
            stamps.append((current, float(mark.group(2))))
        elif end:
            current = None
            done = True
            stamps.append((None, float(end.group(1))))
        elif current is not None and not _ERROR_MARK.search(line):
            chunks[current].append(line)
    for (number, start), (_next, finish) in zip(stamps, stamps[1:], strict=False):
        by_number[number].seconds = finish - start
    started = sorted(chunks)
    for number in started:
        by_number[number].output = "\n".join(chunks[number])
        by_number[number].status = "passed"
    if not done and started:
        by_number[started[-1]].status = "failed"
        by_number[started[-1]].seconds = time.time() - stamps[-1][1]
    if done and rc != 0 and results:
        results[-1].status = "failed"
    return results


def command_lines(blocks):
    """The blocks' commands as logical lines: continuation lines joined, comment lines and blank lines left out."""
    found = []
    for block in blocks:
        pending = ""
        for line in block.code.split("\n"):
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip() and not line.strip().startswith("#"):
                found.append(line.strip())
        if pending.strip():
            found.append(pending.strip())
    return found
