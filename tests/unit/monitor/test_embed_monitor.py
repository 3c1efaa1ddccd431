"""tools/embed_monitor.py on a copy of a small template of the real one's shape (never on files/TapStack.yml)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from .support import EMBED, ROOT, SOURCE

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


def test_rewrite_embeds_the_source_and_leaves_every_other_byte_alone(template):
    old = template.read_text()
    result = run("--template", template)
    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout
    new = template.read_text()
    head, tail = old.split(STUB)
    assert new.startswith(head) and new.endswith(tail)
    assert tail.startswith("\n      Tags:")  # the blank line after the block is kept
    source = SOURCE.read_text()
    block = new[len(head):len(new) - len(tail)]
    assert block == "".join(("          " + line if line.strip() else line) for line in source.splitlines(True))
    assert zipfile(new) == source
    assert zipfile(new, "HelperFunction") == zipfile(old, "HelperFunction")
    assert run("--check", "--template", template).returncode == 0


def test_rewrite_is_idempotent(template):
    assert run("--template", template).returncode == 0
    once = template.read_bytes()
    second = run("--template", template)
    assert second.returncode == 0
    assert "in sync" in second.stdout
    assert template.read_bytes() == once


def test_check_detects_a_single_edited_line(template):
    run("--template", template)
    text = template.read_text()
    edited = text.replace('WINDOW, SAMPLES, WORKERS = timedelta(hours=24), 10, 16',
                          'WINDOW, SAMPLES, WORKERS = timedelta(hours=48), 10, 16')
    assert edited != text
    template.write_text(edited)
    result = run("--check", "--template", template)
    assert result.returncode == 1
    assert "+WINDOW, SAMPLES, WORKERS = timedelta(hours=24)" in result.stderr
    assert run("--template", template).returncode == 0
    assert template.read_text() == text


def test_deeper_existing_indentation_is_kept(template):
    template.write_text(template.read_text().replace(STUB, "    " + STUB))
    assert run("--template", template).returncode == 0
    text = template.read_text()
    assert "\n              import json\n" in text
    assert zipfile(text) == SOURCE.read_text()


def test_crlf_template_stays_crlf(template):
    template.write_bytes(FIXTURE.read_bytes().replace(b"\n", b"\r\n"))
    assert run("--template", template).returncode == 0
    data = template.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert zipfile(data.decode()) == SOURCE.read_text()
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


def test_source_over_budget_is_refused(template, tmp_path):
    big = tmp_path / "big.py"
    big.write_text("def handler(event, context):\n    return 1\n" + "# padding\n" * 2100)
    result = run("--template", template, "--source", big)
    assert result.returncode == 1
    assert "over the 20,000-byte budget" in result.stderr
    assert template.read_bytes() == FIXTURE.read_bytes()


def test_template_over_cloudformation_limit_is_refused(template, tmp_path):
    template.write_text(template.read_text() + "# padding\n" * 5000)
    before = template.read_bytes()
    result = run("--template", template)
    assert result.returncode == 1
    assert "51,200-byte --template-body limit" in result.stderr
    assert template.read_bytes() == before


def test_render_reports_change_and_keeps_trailing_newline(embed):
    text = FIXTURE.read_text()
    new, changed, old_lines, new_lines = embed.render(text, "x = 1\n\n\ny = 2\n")
    assert changed and old_lines == ['def handler(event, context): return {"status": "OK"}']
    assert new_lines == ["x = 1", "", "", "y = 2"]
    assert "        ZipFile: |\n          x = 1\n\n\n          y = 2\n\n      Tags:" in new
    assert embed.render(new, "x = 1\n\n\ny = 2\n")[1] is False


def test_monitor_source_is_within_its_budget():
    assert len(SOURCE.read_bytes()) <= 20_000
