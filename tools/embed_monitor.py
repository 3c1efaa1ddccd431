#!/usr/bin/env python3
"""Copy the monitor's source into the CloudFormation template, stripped and compressed.

files/lambda/storage_monitor.py is the source of truth, written to be read;
files/TapStack.yml carries a copy as the literal block
``Resources.StorageMonitoringFunction.Properties.Code.ZipFile: |``.
The copy is the source without comments, docstrings and the lines they leave
empty (``strip_source``; it must compile and have the source's syntax tree,
docstrings aside), zlib-compressed and base85-encoded inside a few lines of
Python that decode and run it (``wrap``): the template must stay under
CloudFormation's 51,200-byte --template-body limit, and the monitor's code is
twice what that leaves room for as text. The wrapper registers the decoded
code with linecache, so the function's tracebacks show the code's lines.
This script rewrites only the lines of that block (a text edit, so comments,
ordering and every other byte of the template stay as they are). Whether the
block is in step is decided on the decoded code, not on the compressed bytes,
which may differ between zlib builds.

    python3 tools/embed_monitor.py            # rewrite the block if it differs
    python3 tools/embed_monitor.py --check    # exit 1 if it differs (CI, tests)
    python3 tools/embed_monitor.py --show     # print the code the template carries

Exit codes: 0 in sync (or updated), 1 out of sync or over a size limit,
2 the template has no such block, cannot be read, or the source cannot be stripped.
"""

import argparse
import ast
import base64
import difflib
import io
import re
import sys
import tokenize
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "files" / "TapStack.yml"
SOURCE = ROOT / "files" / "lambda" / "storage_monitor.py"
RESOURCE = "StorageMonitoringFunction"
PATH = ("Properties", "Code", "ZipFile")
TEMPLATE_LIMIT = 51_200  # bytes, CloudFormation --template-body
# Bytes of the embedded block as it stands in the template (the wrapper and the encoded code, plus 10
# spaces of indentation a line). tests/unit/test_template.py reserves the same number for the monitor; the
# rest of the template gets TEMPLATE_LIMIT - EMBEDDED_BUDGET. The figures at the time of writing are in
# that test.
EMBEDDED_BUDGET = 16_000
PAYLOAD_WIDTH = 140  # base85 characters a line: the template's lines stay within yamllint's 160
CODE_NAME = "storage_monitor.py"  # the file name tracebacks show
WRAPPER_HEAD = [
    "# files/lambda/storage_monitor.py of the tap.ebook_storage collection, without comments and docstrings,",
    "# zlib-compressed and base85-encoded by tools/embed_monitor.py to fit CloudFormation's template size limit.",
    "# Read the source there; print this copy with `python3 tools/embed_monitor.py --show`.",
    "import base64, linecache, zlib",
    "CODE = zlib.decompress(base64.b85decode(",
]
WRAPPER_TAIL = [
    ")).decode()",
    f'linecache.cache["{CODE_NAME}"] = (len(CODE), None, CODE.splitlines(True), "{CODE_NAME}")',
    f'exec(compile(CODE, "{CODE_NAME}", "exec"))',
]
PAYLOAD_LINE = re.compile(r'^    "([0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]*)"$')


class EmbedError(Exception):
    """The template does not have the expected structure."""


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _blank(line):
    return not line.strip()


def _significant(line):
    return not _blank(line) and not line.lstrip().startswith("#")


def _block_end(lines, start, parent_indent):
    """First index from start on whose line is significant and not deeper than parent_indent."""
    end = start
    while end < len(lines) and (not _significant(lines[end]) or _indent(lines[end]) > parent_indent):
        end += 1
    return end


def _child(lines, lo, hi, key):
    """Index of the direct child `key:` of the mapping body lines[lo:hi]."""
    body = [i for i in range(lo, hi) if _significant(lines[i])]
    if not body:
        raise EmbedError(f"'{key}:' not found: empty mapping at line {lo}")
    level = min(_indent(lines[i]) for i in body)
    pattern = re.compile(rf"^ *{re.escape(key)}:(\s|$)")
    found = [i for i in body if _indent(lines[i]) == level and pattern.match(lines[i])]
    if len(found) != 1:
        raise EmbedError(f"expected one '{key}:' at line {lo + 1}..{hi}, found {len(found)}")
    return found[0]


def locate(lines):
    """Return (header, first, last, indent): the `ZipFile: |` line, its content lines
    lines[first:last] (without trailing blank lines) and the content indentation."""
    heads = [i for i, line in enumerate(lines) if re.match(rf"^ +{RESOURCE}:\s*(#.*)?$", line)]
    if len(heads) != 1:
        raise EmbedError(f"expected one '{RESOURCE}:' resource line, found {len(heads)}")
    at = heads[0]
    for key in PATH:
        parent = _indent(lines[at])
        at = _child(lines, at + 1, _block_end(lines, at + 1, parent), key)
    header = lines[at].rstrip("\r")
    if not re.match(r"^ *ZipFile: *\|[-+]? *(#.*)?$", header):
        raise EmbedError(f"line {at + 1}: expected 'ZipFile: |' (a literal block), got {header.strip()!r}")
    key_indent = _indent(header)
    last = _block_end(lines, at + 1, key_indent)
    while last > at + 1 and _blank(lines[last - 1]):
        last -= 1  # trailing blank lines stay outside the rewritten range
    content = [line for line in lines[at + 1:last] if not _blank(line)]
    indent = _indent(content[0]) if content else key_indent + 2
    if indent <= key_indent:
        raise EmbedError(f"line {at + 2}: block content must be indented deeper than 'ZipFile:'")
    return at, at + 1, last, indent


def _docstrings(tree):
    """Expression statements that are docstrings (a module's, class's or function's first statement, a
    string), where the body goes on after them: removing the only statement would leave an empty body."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (len(node.body) > 1 and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                yield node, first


def _char_col(line, byte_col):
    """ast's column offsets count UTF-8 bytes; the lines are str."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def strip_source(source_text):
    """The source without comments, docstrings and the lines they leave empty.

    Lines inside a string that spans lines stay exactly as they are (blank lines and trailing spaces
    there are part of the value). Raises EmbedError when the source does not parse, or when the result
    does not compile or its syntax tree differs from the source's without docstrings.
    """
    try:
        tree = ast.parse(source_text)
        tokens = list(tokenize.generate_tokens(io.StringIO(source_text).readline))
    except (SyntaxError, tokenize.TokenError) as exc:
        raise EmbedError(f"the source does not parse: {exc}") from exc
    lines = io.StringIO(source_text).readlines()
    cut = {}  # row (1-based) -> [(start col, end col or None for the end of the line)]
    for token in tokens:
        if token.type == tokenize.COMMENT:
            cut.setdefault(token.start[0], []).append((token.start[1], token.end[1]))
    for parent, node in list(_docstrings(tree)):
        first, last = node.lineno, node.end_lineno
        start, end = _char_col(lines[first - 1], node.col_offset), _char_col(lines[last - 1], node.end_col_offset)
        if first == last:
            cut.setdefault(first, []).append((start, end))
        else:
            cut.setdefault(first, []).append((start, None))
            for row in range(first + 1, last):
                cut.setdefault(row, []).append((0, None))
            cut.setdefault(last, []).append((0, end))
        parent.body.pop(0)  # the tree the stripped code must have
    kept = set()  # rows that start or continue a string spanning lines: kept verbatim
    for node in ast.walk(tree):
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno > node.lineno:
            kept.update(range(node.lineno, node.end_lineno))
    out = []
    for row, line in enumerate(lines, start=1):
        body, eol = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        for start, end in sorted(cut.get(row, []), reverse=True):
            body = body[:start] + body[len(body) if end is None else end:]
        if row in kept and row not in cut:
            out.append(body + eol)
        elif body.strip():
            out.append(body.rstrip() + eol)
    stripped = "".join(out)
    try:
        compiled = ast.parse(stripped)
    except SyntaxError as exc:
        raise EmbedError(f"the source without comments and docstrings does not compile: {exc}") from exc
    if ast.dump(compiled) != ast.dump(tree):
        raise EmbedError("the source without comments and docstrings is not the same program")
    return stripped


def wrap(code):
    """The block's lines for ``code``: the wrapper around the compressed, encoded code."""
    encoded = base64.b85encode(zlib.compress(code.encode("utf-8"), 9)).decode("ascii")
    payload = [f'    "{encoded[i:i + PAYLOAD_WIDTH]}"' for i in range(0, len(encoded), PAYLOAD_WIDTH)]
    return WRAPPER_HEAD + payload + WRAPPER_TAIL


def unwrap(block):
    """The code a block carries, or None when the block is not exactly ``wrap``'s shape."""
    head, tail = len(WRAPPER_HEAD), len(WRAPPER_TAIL)
    if len(block) <= head + tail or block[:head] != WRAPPER_HEAD or block[-tail:] != WRAPPER_TAIL:
        return None
    matches = [PAYLOAD_LINE.match(line) for line in block[head:-tail]]
    if not all(matches):
        return None
    try:
        return zlib.decompress(base64.b85decode("".join(m.group(1) for m in matches))).decode("utf-8")
    except (ValueError, zlib.error, UnicodeDecodeError):
        return None


def embedded_lines(lines, first, last, indent):
    """The block's text as the YAML parser reads it, one entry per line."""
    return [line.rstrip("\r")[indent:] for line in lines[first:last]]


def embedded_code(template_text):
    """The code the template's block carries (None when the block is not in wrap's shape)."""
    lines = template_text.split("\n")
    _header, first, last, indent = locate(lines)
    return unwrap(embedded_lines(lines, first, last, indent))


def render(template_text, source_text):
    """Return (new_text, changed, old_code_lines, new_code_lines). An unchanged block keeps its bytes."""
    lines = template_text.split("\n")
    header, first, last, indent = locate(lines)
    eol = "\r" if lines[header].endswith("\r") else ""
    block = embedded_lines(lines, first, last, indent)
    code = strip_source(source_text)
    old = unwrap(block)
    if old == code:
        return template_text, False, code.splitlines(), code.splitlines()
    new_block = [" " * indent + line + eol for line in wrap(code)]
    text = "\n".join(lines[:first] + new_block + lines[last:])
    return text, True, (block if old is None else old.splitlines()), code.splitlines()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when they differ")
    parser.add_argument("--show", action="store_true", help="print the code the template carries")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args(argv)
    try:
        template_text = args.template.read_bytes().decode("utf-8")
        if args.show:
            code = embedded_code(template_text)
            if code is None:
                raise EmbedError(f"{RESOURCE} Code.ZipFile in {args.template} is not an embedded monitor")
            sys.stdout.write(code)
            return 0
        source_text = args.source.read_bytes().decode("utf-8")
        text, changed, old, new = render(template_text, source_text)
    except (OSError, UnicodeDecodeError, EmbedError) as exc:
        print(f"embed_monitor: {exc}", file=sys.stderr)
        return 2
    fix = "python3 tools/embed_monitor.py" + "".join(
        f" --{name} {value}" for name, value, default in
        (("template", args.template, TEMPLATE), ("source", args.source, SOURCE)) if value != default)
    problems = []
    _header, first, last, _indent = locate(text.split("\n"))
    embedded = len("\n".join(text.split("\n")[first:last]).encode()) + 1  # with the block's last newline
    if embedded > EMBEDDED_BUDGET:
        problems.append(f"the embedded copy of {args.source} would be {embedded:,} bytes, over the "
                        f"{EMBEDDED_BUDGET:,}-byte budget for the monitor: shorten the code (comments and "
                        f"docstrings are not embedded), or raise EMBEDDED_BUDGET in {Path(__file__).name} if the rest "
                        f"of the template has room")
    if len(text.encode()) > TEMPLATE_LIMIT:
        problems.append(f"{args.template} would be {len(text.encode()):,} bytes, over "
                        f"CloudFormation's {TEMPLATE_LIMIT:,}-byte --template-body limit")
    if args.check:
        if changed:
            diff = list(difflib.unified_diff(old, new, "template ZipFile", str(args.source), lineterm="", n=1))
            print("\n".join(diff[:40] + (["..."] if len(diff) > 40 else [])), file=sys.stderr)
            problems.append(f"{args.template}: {RESOURCE} Code.ZipFile differs from {args.source} "
                            "(without its comments and docstrings). "
                            f"Fix: run `{fix}` and commit both files")
    elif changed and not problems:
        args.template.write_bytes(text.encode("utf-8"))
        print(f"embed_monitor: updated {args.template} ({len(text.encode()):,} bytes)")
    for problem in problems:
        print(f"embed_monitor: {problem}", file=sys.stderr)
    if not problems and not changed:
        print(f"embed_monitor: {args.template} is in sync with {args.source}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
