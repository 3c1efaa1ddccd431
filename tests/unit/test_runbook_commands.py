"""Every runbook's bash blocks can be pasted into a shell on another machine, as they are.

The convention (tests/runbooks/README.md): a fence whose info string is ``bash`` holds commands, and
tests/runbooks runs them all, in order, in one bash process per runbook; ``console`` and ``text`` fences hold
sample output. This test reads the runbooks without running anything and fails when a bash block

* runs ``jq`` (a fresh machine may not have it; the controller environment has Python and the aws CLI),
* names an absolute path of one machine (under the top-level folders work, tmp, root, home),
* uses a placeholder in capitals that no earlier command of the runbook sets (``OLD_KEY_ARN``, ``$BUCKET``,
  ``s3://BUCKET/KEY``...): a shell variable must be assigned by an earlier command or come from the shell
  (LOCALSTACK_ENDPOINT, the AWS_* settings...), a bare word in capitals is a placeholder unless it is one of the
  CLI constants below,
* uses ``inventories/<env>`` for an environment that has no inventory,

and when a fence hides commands from the walk: a shell fence other than ``bash`` (``sh``, ``shell``...), a fence
without an info string, or a ``<!-- runbook-test ... -->`` marker (nothing is skipped).
"""

from __future__ import annotations

import re

import pytest

from tests.runbooks.runbook_support import (
    PROVIDED_VARIABLES,
    ROOT,
    RUNBOOKS_DIR,
    SHELL_VARIABLES,
    Block,
    bash_blocks,
    fences,
)

RUNBOOKS = sorted(RUNBOOKS_DIR.glob("*.md"))
INVENTORIES = sorted(p.name for p in (ROOT / "inventories").iterdir() if p.is_dir())

JQ = re.compile(r"(?<![\w.-])jq(?![\w.-])")
MACHINE_FOLDERS = ("work", "tmp", "root", "home")
ABSOLUTE = re.compile(r"(?<![\w.~-])/(?:" + "|".join(MACHINE_FOLDERS) + r")(?=/|\b)")
INVENTORY = re.compile(r"inventories/([\w.-]+)")
NAME = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*"
# $NAME or ${NAME...}; ${NAME:-default} / ${NAME:=default} has a default and is fine unset (${NAME:?message} is not).
VARIABLE_USE = re.compile(r"\$(?:\{(" + NAME + r")(?![\w])(?P<default>:?[-=])?|(" + NAME + r")(?![\w]))")
# A word in capitals that is not part of a longer word, a flag, an expansion, an assignment or a dotted name.
BARE_WORD = re.compile(r"(?<![\w$\-{.%@])(" + NAME + r")(?![\w=\-(])")
ASSIGNMENT = re.compile(r"(?:^|[\s;&|(])(?:(?:export|local|readonly|declare(?:\s+-\w+)*)\s+)?(" + NAME + r")=")
LOOP_OR_READ = re.compile(r"\b(?:for\s+(" + NAME + r")\s+in|read\s+(?:-\w+\s+)*((?:" + NAME + r"\s*)+))")
UNSET = re.compile(r"\bunset\s+(" + NAME + r")")
# Words in capitals that are values of the aws CLI or shell syntax, not placeholders.
CONSTANTS = {"IMPORT", "CREATE", "UPDATE", "COPY", "REPLACE", "ENABLED", "DISABLED", "SUSPENDED", "AES256",
             "GOVERNANCE", "COMPLIANCE", "EOF", "END"}
CONSTANT_PATTERNS = (re.compile(r"CAPABILITY_\w+"),)
SHELL_DIALECTS = {"sh", "shell", "zsh", "ksh", "fish", "shell-session", "bash-session", "shellsession"}


def code_of(line):
    """The line without its comment: a ``#`` that starts a word outside quotes."""
    quote = None
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t;|&("):
            return line[:index]
    return line


def value_end(line, start):
    """Where the value of an assignment that starts at ``start`` ends: it takes effect from there."""
    quote = None
    depth = 0
    index = start
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "\\":
            index += 1
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0 and (char.isspace() or char in ";|&)"):
            return index
        index += 1
    return len(line)


def problems_of(blocks, inventories=INVENTORIES):
    """What keeps the blocks (of one runbook, in order) from running as pasted: a list of messages."""
    found = []
    assigned = set()
    for block in blocks:
        for offset, raw in enumerate(block.code.split("\n")):
            line = code_of(raw)
            where = f"{block.runbook}.md line {block.line + 1 + offset} (block {block.number})"
            if JQ.search(line):
                found.append(f"{where}: runs jq, which a fresh machine may lack: {raw.strip()}")
            for match in ABSOLUTE.finditer(line):
                found.append(f"{where}: absolute path of this machine {line[match.start():].split()[0]}")
            for env in INVENTORY.findall(line):
                if env not in inventories:
                    found.append(f"{where}: inventories/{env} does not exist (there are {', '.join(inventories)})")
            # Names set on this line, with where they are set: a use after it on the same line is fine.
            sets = [(value_end(line, m.end()), m.group(1)) for m in ASSIGNMENT.finditer(line)]
            for m in LOOP_OR_READ.finditer(line):
                if m.group(1):
                    sets.append((m.start(1), m.group(1)))
                else:
                    sets += [(m.start(2) + w.start(), w.group()) for w in re.finditer(r"\S+", m.group(2))]
            sets += [(m.start(1), m.group(1)) for m in UNSET.finditer(line)]

            def set_before(name, position, sets=sets):
                return name in assigned or any(n == name and p < position for p, n in sets)

            expansions = []
            for m in VARIABLE_USE.finditer(line):
                name = m.group(1) or m.group(3)
                expansions.append((m.start(), m.end()))
                if m.group("default") or name in PROVIDED_VARIABLES or name in SHELL_VARIABLES:
                    continue
                if not set_before(name, m.start()):
                    found.append(f"{where}: ${name} is used but no earlier command sets it")
            setting = {m.start(1) for m in ASSIGNMENT.finditer(line)} | {p for p, _n in sets}
            for m in BARE_WORD.finditer(line):
                name, position = m.group(1), m.start(1)
                if position in setting or any(a <= position < b for a, b in expansions):
                    continue
                if name in CONSTANTS or any(p.fullmatch(name) for p in CONSTANT_PATTERNS):
                    continue
                if set_before(name, position):
                    found.append(f"{where}: {name} is a shell variable here: write ${name}")
                else:
                    found.append(f"{where}: placeholder {name} that no earlier command sets")
            assigned.update(n for _p, n in sets)
    return found


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.stem)
def test_bash_blocks_run_as_pasted(runbook):
    problems = problems_of(bash_blocks(runbook))
    assert not problems, f"{runbook.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.stem)
def test_every_fence_says_whether_it_runs(runbook):
    problems = []
    for fence in fences(runbook):
        where = f"{runbook.name} line {fence.line}"
        if fence.language in SHELL_DIALECTS:
            problems.append(f"{where}: ```{fence.info} is not run: commands go in ```bash, output in ```console")
        elif not fence.language:
            problems.append(f"{where}: a fence without an info string: ```bash (run) or ```text/```console (not)")
    for number, line in enumerate(runbook.read_text(encoding="utf-8").splitlines(), start=1):
        if re.search(r"<!--\s*runbook-test", line):
            problems.append(f"{runbook.name} line {number}: nothing is skipped; an AWS-only command goes in the "
                            "prose, not in a ```bash fence")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the detector itself


def _block(code, number=1):
    return Block("sample", number, code, 10 * number)


def test_the_detector_finds_jq_machine_paths_unset_placeholders_and_missing_inventories():
    code = "\n".join([
        "KEY_ID=$(jq -r .KmsKeyId cfn-outputs/flat-outputs.json)",
        "aws kms schedule-key-deletion --key-id OLD_KEY_ARN --pending-window-in-days 30",
        'aws s3 cp "s3://$BUCKET/x.pdf" -',
        "aws s3 ls s3://BUCKET/KEY",
        "ansible-playbook deploy.yml -i inventories/staging -e ebook_upload_src=" + "/" + "tmp/backlog",
        "ls /" + "home/someone/books",
        "ITEM=${ITEM:?export ITEM first}",
    ])
    problems = "\n".join(problems_of([_block(code)], inventories=["dev", "prod", "test"]))
    for expected in ("runs jq", "placeholder OLD_KEY_ARN", "$BUCKET is used", "placeholder BUCKET",
                     "placeholder KEY", "inventories/staging does not exist", "absolute path of this machine /t",
                     "absolute path of this machine /h", "$ITEM is used"):
        assert expected in problems, f"{expected!r} not found in:\n{problems}"


def test_the_detector_accepts_variables_set_earlier_constants_comments_and_defaults():
    first = "\n".join([
        "# AWS_PROFILE and OLD_KEY_ARN in a comment are prose",
        "BUCKET=ebooks-storage-prod",
        'export NEW_KEY="$(aws kms describe-key --key-id alias/x --query KeyMetadata.Arn --output text)"',
        "for KEY in a b; do echo \"$KEY\"; done",
        'VERSION=$(aws s3api list-object-versions --bucket "$BUCKET" --query "Versions[0].VersionId" --output text); '
        'echo "$VERSION"',
    ])
    second = "\n".join([
        'aws s3api head-object --bucket "$BUCKET" --key "${KEY}" --endpoint-url "$AWS_ENDPOINT_URL"',
        "aws cloudformation create-change-set --capabilities CAPABILITY_NAMED_IAM --change-set-type IMPORT",
        'echo "${OPTIONAL_SETTING:-none}" "$HOME" "$NEW_KEY"  # a jq-free line',
        "ansible-playbook deploy.yml -i inventories/prod",
        "aws s3 ls s3://bucket/tmp/ && tr a-z A-Z < notes.txt",
    ])
    assert problems_of([_block(first), _block(second, 2)], inventories=["dev", "prod", "test"]) == []


def test_a_bare_use_of_a_variable_is_reported():
    problems = problems_of([_block("BUCKET=b\naws s3 ls s3://BUCKET/")])
    assert problems == ["sample.md line 12 (block 1): BUCKET is a shell variable here: write $BUCKET"]
