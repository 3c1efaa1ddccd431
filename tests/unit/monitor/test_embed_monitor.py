"""tools/embed_monitor.py on a copy of a small template of the real one's shape (never on files/TapStack.yml),
its stripping of comments and docstrings, its compressed wrapper, and the real template's copy of the monitor."""

import ast
import linecache
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from .support import DATA_BUCKET, EMBED, ROOT, SOURCE, Stack, codes, load_module

FIXTURE = Path(__file__).parent / "fixtures" / "embed_template.yml"
STUB = '          def handler(event, context): return {"status": "OK"}\n'


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def run(*args):
    return subprocess.run([sys.executable, str(EMBED), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, check=False)


def zipfile(text, resource="StorageMonitoringFunction"):
    return yaml.load(text, Loader=CfnLoader)["Resources"][resource]["Properties"]["Code"]["ZipFile"]


def carried(embed, text):
    """The code a template's monitor block carries, decoded as the Lambda runtime will."""
    return embed.unwrap(zipfile(text).splitlines())


def block_of(embed, code, indent=10):
    return "".join(" " * indent + line + "\n" for line in embed.wrap(code))


@pytest.fixture(scope="module")
def stripped(embed):
    """The monitor's source as the template embeds it."""
    return embed.strip_source(SOURCE.read_text())


@pytest.fixture
def template(tmp_path):
    copy = tmp_path / "TapStack.yml"
    copy.write_bytes(FIXTURE.read_bytes())
    return copy


def test_check_detects_drift_and_says_how_to_fix(template):
    before = template.read_bytes()
    result = run("--check", "--template", template)
    assert result.returncode == 1
    assert "Code.ZipFile differs from" in result.stderr
    assert f"Fix: run `python3 tools/embed_monitor.py --template {template}` and commit both files" in result.stderr
    assert '-def handler(event, context): return {"status": "OK"}' in result.stderr  # a diff to read
    assert template.read_bytes() == before


def test_rewrite_embeds_the_stripped_source_and_leaves_every_other_byte_alone(template, stripped, embed):
    old = template.read_text()
    result = run("--template", template)
    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout
    new = template.read_text()
    head, tail = old.split(STUB)
    assert new.startswith(head) and new.endswith(tail)
    assert tail.startswith("\n      Tags:")  # the blank line after the block is kept
    assert new[len(head):len(new) - len(tail)] == block_of(embed, stripped)
    assert carried(embed, new) == stripped
    assert zipfile(new, "HelperFunction") == zipfile(old, "HelperFunction")
    assert run("--check", "--template", template).returncode == 0


def test_rewrite_is_idempotent(template):
    assert run("--template", template).returncode == 0
    once = template.read_bytes()
    second = run("--template", template)
    assert second.returncode == 0
    assert "in sync" in second.stdout
    assert template.read_bytes() == once


def test_check_detects_a_single_edited_line(template, tmp_path):
    run("--template", template)
    text = template.read_text()
    edited = tmp_path / "edited.py"
    edited.write_text(SOURCE.read_text().replace("WINDOW, SAMPLES, WORKERS = timedelta(hours=24), 10, 16",
                                                 "WINDOW, SAMPLES, WORKERS = timedelta(hours=48), 10, 16"))
    assert run("--template", template, "--source", edited).returncode == 0
    assert template.read_text() != text
    result = run("--check", "--template", template)
    assert result.returncode == 1
    assert "-WINDOW, SAMPLES, WORKERS = timedelta(hours=48)" in result.stderr  # a diff of the decoded code
    assert "+WINDOW, SAMPLES, WORKERS = timedelta(hours=24)" in result.stderr
    assert run("--template", template).returncode == 0
    assert template.read_text() == text


def test_a_damaged_payload_is_out_of_step(template, embed):
    run("--template", template)
    text = template.read_text()
    payload = next(line for line in text.splitlines() if embed.PAYLOAD_LINE.match("    " + line.strip()))
    damaged = payload[:-5] + ("A" if payload[-5] != "A" else "B") + payload[-4:]
    template.write_text(text.replace(payload, damaged))
    assert carried(embed, template.read_text()) is None
    assert run("--check", "--template", template).returncode == 1
    assert run("--template", template).returncode == 0
    assert template.read_text() == text


def test_show_prints_the_code_the_template_carries(template, stripped):
    assert run("--show", "--template", template).returncode == 2  # the fixture's stub is not an embedded monitor
    run("--template", template)
    shown = run("--show", "--template", template)
    assert shown.returncode == 0 and shown.stdout == stripped


def test_deeper_existing_indentation_is_kept(template, tmp_path, embed):
    small = tmp_path / "small.py"
    small.write_text("import json\n\n\ndef handler(event, context):  # entry point\n    return json.dumps({})\n")
    template.write_text(template.read_text().replace(STUB, "    " + STUB))
    assert run("--template", template, "--source", small).returncode == 0
    text = template.read_text()
    assert "\n              import base64, linecache, zlib\n" in text
    assert carried(embed, text) == "import json\ndef handler(event, context):\n    return json.dumps({})\n"


def test_crlf_template_stays_crlf(template, stripped, embed):
    template.write_bytes(FIXTURE.read_bytes().replace(b"\n", b"\r\n"))
    assert run("--template", template).returncode == 0
    data = template.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert carried(embed, data.decode().replace("\r\n", "\n")) == stripped
    assert run("--check", "--template", template).returncode == 0


@pytest.mark.parametrize("broken", [
    ("StorageMonitoringFunction:", "OtherFunction:"),
    ("        ZipFile: |\n          def handler(event, context): return", "        ZipFile: >\n          def h():"),
    ("        ZipFile: |\n" + STUB, "        S3Key: |\n" + STUB),
])
def test_template_without_the_block_is_an_error(template, broken):
    text = template.read_text()
    assert broken[0] in text
    template.write_text(text.replace(broken[0], broken[1], 1))
    before = template.read_bytes()
    for args in (["--check"], []):
        result = run(*args, "--template", template)
        assert result.returncode == 2
        assert result.stderr.startswith("embed_monitor: ")
    assert template.read_bytes() == before


def test_embedded_copy_over_budget_is_refused(template, tmp_path, embed):
    big = tmp_path / "big.py"
    noise = random.Random(0)  # incompressible values: the budget counts the compressed, encoded code
    big.write_text("def handler(event, context):\n    return 1\n" + "".join(
        f"PAD_{i} = 0x{noise.getrandbits(128):032x}\n" for i in range(embed.EMBEDDED_BUDGET // 16)))
    result = run("--template", template, "--source", big)
    assert result.returncode == 1
    assert f"over the {embed.EMBEDDED_BUDGET:,}-byte budget for the monitor" in result.stderr
    assert template.read_bytes() == FIXTURE.read_bytes()


def test_comments_and_docstrings_do_not_count_against_the_budget(template, tmp_path, embed):
    source = tmp_path / "documented.py"
    source.write_text('"""A module docstring."""\n' + "# a comment line\n" * (embed.EMBEDDED_BUDGET // 10)
                      + "def handler(event, context):\n    return 1\n")
    assert source.stat().st_size > embed.EMBEDDED_BUDGET
    result = run("--template", template, "--source", source)
    assert result.returncode == 0, result.stderr
    assert carried(embed, template.read_text()) == "def handler(event, context):\n    return 1\n"


def test_template_over_cloudformation_limit_is_refused(template, tmp_path):
    template.write_text(template.read_text() + "# padding\n" * 5000)
    before = template.read_bytes()
    result = run("--template", template)
    assert result.returncode == 1
    assert "51,200-byte --template-body limit" in result.stderr
    assert template.read_bytes() == before


def test_render_reports_change_and_keeps_trailing_newline(embed):
    text = FIXTURE.read_text()
    new, changed, old_lines, new_lines = embed.render(text, "x = 1\n\n\ny = 2  # two\n")
    assert changed and old_lines == ['def handler(event, context): return {"status": "OK"}']
    assert new_lines == ["x = 1", "y = 2"]
    assert "        ZipFile: |\n" + block_of(embed, "x = 1\ny = 2\n") + "\n      Tags:" in new
    assert embed.render(new, "x = 1\n\n\ny = 2  # two\n") == (new, False, new_lines, new_lines)


# --------------------------------------------------------------------------- strip

DOCUMENTED = '''#!/usr/bin/env python3
"""Module docstring."""
import json  # the standard library

TEXT = """first line
# not a comment, part of the value

  indented, with trailing spaces<TRAILING>
"""


class Thing:
    """Class docstring."""

    # a comment between statements
    size = 1


def only_a_docstring():
    """Kept: without it the body would be empty."""


def f(x):
    """Function docstring
    on two lines."""
    url = "http://example.com/#anchor"  # a '#' inside a string stays
    return json.dumps({"x": x, "text": TEXT, "url": url,  # inside brackets
                       "f": f"{x!r} # {x}"})
'''.replace("<TRAILING>", "   ")


def test_strip_removes_comments_and_docstrings_and_keeps_strings(embed):
    out = embed.strip_source(DOCUMENTED)
    assert "#!/usr/bin/env" not in out and "the standard library" not in out and "a comment between" not in out
    assert "Module docstring" not in out and "Class docstring" not in out and "Function docstring" not in out
    assert '"""Kept: without it the body would be empty."""' in out
    assert 'TEXT = """first line\n# not a comment, part of the value\n\n  indented, with trailing spaces   \n"""' in out
    assert '"http://example.com/#anchor"' in out and 'f"{x!r} # {x}"' in out
    assert out.count("\n\n") == 1  # the blank line inside TEXT; the others went with the comments
    namespace, original = {}, {}
    exec(compile(out, "stripped", "exec"), namespace)  # noqa: S102 - the test's own code
    exec(compile(DOCUMENTED, "source", "exec"), original)  # noqa: S102
    assert namespace["f"](3) == original["f"](3) and namespace["TEXT"] == original["TEXT"]
    assert embed.strip_source(out) == out  # idempotent


def test_strip_refuses_what_it_cannot_strip_safely(embed):
    with pytest.raises(embed.EmbedError, match="does not parse"):
        embed.strip_source("def broken(:\n")
    with pytest.raises(embed.EmbedError, match="does not compile"):
        embed.strip_source('def f():\n    """doc"""; return 1\n')  # a docstring sharing its line with code


def test_stripped_monitor_is_the_same_program(embed, stripped):
    """Same syntax tree as the source without docstrings: only comments, docstrings and blank lines went."""
    tree = ast.parse(SOURCE.read_text())
    for parent, node in list(embed._docstrings(tree)):
        parent.body.remove(node)
    assert ast.dump(ast.parse(stripped)) == ast.dump(tree)
    assert "#" not in "".join(line.split('"')[0].split("'")[0] for line in stripped.splitlines())


# --------------------------------------------------------------------------- the real template


def test_template_embeds_the_stripped_source(embed, stripped):
    """files/TapStack.yml carries exactly the stripped monitor (what `embed_monitor.py --check` checks)."""
    assert carried(embed, (ROOT / "files" / "TapStack.yml").read_text()) == stripped
    assert run("--check").returncode == 0


def test_embedded_monitor_is_within_its_budget(embed, stripped):
    assert len(block_of(embed, stripped).encode()) <= embed.EMBEDDED_BUDGET


def test_stripped_monitor_behaves_like_the_source(aws, monkeypatch, tmp_path, stripped, embed):
    """The template's block as the Lambda runtime imports it (index.py): one healthy run and one with drift
    give the source's alerts; tracebacks can show the code's lines."""
    index = tmp_path / "index.py"
    index.write_text(zipfile((ROOT / "files" / "TapStack.yml").read_text()))
    lambda_mon = load_module("storage_monitor_embedded", index)
    decoded = lambda_mon.CODE  # what the wrapper ran
    assert decoded == stripped and callable(lambda_mon.handler)
    line = next(n for n, text in enumerate(stripped.splitlines(), 1) if text.startswith("def handler("))
    assert linecache.getline(embed.CODE_NAME, line).startswith("def handler(")
    stack = Stack(monkeypatch, lambda_mon)
    stack.healthy_content()
    report = stack.run()
    assert report["status"] == "OK" and codes(report) == []
    stack.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    stack.env(ENVIRONMENT="prod")
    alert = [a for a in stack.run()["alerts"] if a["code"] == "VERSIONING_NOT_ENABLED"][0]
    assert "-e ebook_stack_repair_drift=true" in alert["message"]
