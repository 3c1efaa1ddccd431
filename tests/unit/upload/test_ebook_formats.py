"""Content-based format detection and the local rejection rules (no AWS)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from tests.support import ebooks as samples
from ansible_collections.tap.ebook_storage.plugins.module_utils import ebook_formats as fmt


def detect(path):
    try:
        return fmt.detect_format(str(path)), None
    except fmt.EbookRejected as exc:
        return None, str(exc)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("book.pdf", samples.pdf_bytes(), "pdf"),
        ("book.epub", samples.epub_bytes(), "epub"),
        ("book.mobi", samples.mobi_bytes(), "mobi"),
    ],
)
def test_valid_samples_are_detected(tmp_path, name, data, expected):
    path = samples.write(tmp_path / name, data)
    assert detect(path) == (expected, None)


@pytest.mark.parametrize(
    ("data", "reason_part"),
    [
        (samples.epub_bytes(mimetype_first=False), "first entry is 'META-INF/container.xml', not 'mimetype'"),
        (samples.epub_bytes(mimetype_stored=False), "'mimetype' entry is compressed"),
        (samples.epub_bytes(mimetype=b"application/zip"), "holds 'application/zip'"),
        (samples.epub_bytes(container=False), "no META-INF/container.xml"),
        (samples.elf_bytes(), "ELF executable"),
        (b"MZ\x90\x00" + os.urandom(100), "Windows/DOS executable"),
        (b"just some text, certainly not a book\n" * 4, "matches no supported e-book format"),
        (b"", "empty file"),
    ],
    ids=[
        "epub-mimetype-not-first",
        "epub-mimetype-compressed",
        "epub-wrong-mimetype",
        "epub-no-container",
        "renamed-elf",
        "renamed-exe",
        "text",
        "empty",
    ],
)
def test_broken_and_foreign_content_is_rejected(tmp_path, data, reason_part):
    path = samples.write(tmp_path / "book.bin", data)
    found, reason = detect(path)
    assert found is None
    assert reason_part in reason


@pytest.mark.parametrize(
    ("data", "cut", "reason_part"),
    [
        (samples.pdf_bytes(), 60, "no %%EOF"),
        (samples.pdf_bytes(), 7, "only 7 bytes"),
        (samples.epub_bytes(), 200, "damaged or truncated"),
        (samples.epub_bytes(), -30, "damaged or truncated"),
        (samples.mobi_bytes(), 64, "MOBI signature cut short"),
        (samples.mobi_bytes(), 70, "PalmDB header is incomplete"),
        (samples.mobi_bytes(), 90, "record table needs"),
        (samples.mobi_bytes(), 150, "outside the file"),
    ],
    ids=[
        "pdf-half",
        "pdf-header-only",
        "epub-head",
        "epub-no-central-dir",
        "mobi-64",
        "mobi-70",
        "mobi-90",
        "mobi-150",
    ],
)
def test_truncated_files_are_rejected(tmp_path, data, cut, reason_part):
    path = samples.write(tmp_path / "cut", data[:cut])
    found, reason = detect(path)
    assert found is None
    assert reason_part in reason


def test_pdf_with_trailing_bytes_after_eof_is_accepted(tmp_path):
    path = samples.write(tmp_path / "book.pdf", samples.pdf_bytes() + b"\r\n\0\0")
    assert detect(path) == ("pdf", None)


@pytest.mark.parametrize(
    ("rel", "found", "reason_part"),
    [
        ("a/book.epub", "pdf", "content is PDF but the name ends in '.epub' (EPUB): rename it to '.pdf'"),
        ("book.PDF", "pdf", "not lower-case"),
        ("book", "mobi", "has no extension"),
        ("book.txt", "epub", "'.txt'"),
    ],
)
def test_extension_must_match_the_detected_format(rel, found, reason_part):
    with pytest.raises(fmt.EbookRejected, match=None) as raised:
        fmt.check_extension(rel, found)
    assert reason_part in str(raised.value)


def test_matching_extension_passes():
    for name, found in (("x.pdf", "pdf"), ("d/x.epub", "epub"), ("x.y.mobi", "mobi")):
        fmt.check_extension(name, found)


@pytest.mark.parametrize(
    ("prefix", "rel", "key"),
    [("", "a/b.pdf", "a/b.pdf"), ("backlog", "b.pdf", "backlog/b.pdf"), ("backlog/", "x/b.pdf", "backlog/x/b.pdf")],
)
def test_object_key(prefix, rel, key):
    assert fmt.object_key(prefix, rel) == key


def test_hash_file_whole_and_parts(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 123)
    path = samples.write(tmp_path / "blob", data)
    part = 1024 * 1024
    digest, parts = fmt.hash_file(str(path), part)
    assert digest == hashlib.sha256(data).hexdigest()
    expected_parts = [hashlib.sha256(data[i : i + part]).digest() for i in range(0, len(data), part)]
    assert parts == expected_parts
    composite = base64.b64encode(hashlib.sha256(b"".join(expected_parts)).digest()).decode()
    assert fmt.composite_checksum(parts) == f"{composite}-4"
    assert fmt.hash_file(str(path))[1] == []


def test_checksums_match_tolerates_a_missing_part_count():
    assert fmt.checksums_match("abc=-3", "abc=-3")
    assert fmt.checksums_match("abc=-3", "abc=")
    assert not fmt.checksums_match("abc=-3", "abc=-2")
    assert not fmt.checksums_match("abc=", "abd=")
    assert not fmt.checksums_match("abc=", None)


def _by_rel(entries):
    return {entry["rel"]: entry for entry in entries}


def test_collect_files_reports_broken_links_and_loops(tmp_path):
    root = tmp_path / "src"
    samples.write(root / "ok.pdf", samples.pdf_bytes())
    samples.write(root / "sub" / "deep.epub", samples.epub_bytes())
    (root / "broken.pdf").symlink_to(root / "missing.pdf")
    (root / "loop1.pdf").symlink_to(root / "loop2.pdf")
    (root / "loop2.pdf").symlink_to(root / "loop1.pdf")
    (root / "sub" / "back").symlink_to(root)  # a directory link to an ancestor
    (root / "linked.pdf").symlink_to(root / "ok.pdf")
    entries = _by_rel(fmt.collect_files(str(root)))
    assert entries["ok.pdf"]["reason"] is None
    assert entries["sub/deep.epub"]["reason"] is None
    assert entries["linked.pdf"]["reason"] is None
    assert "broken symlink" in entries["broken.pdf"]["reason"]
    assert "symlink loop" in entries["loop1.pdf"]["reason"]
    assert "symlink loop" in entries["loop2.pdf"]["reason"]
    assert "symlink loop" in entries["sub/back"]["reason"]
    assert set(entries) == {"ok.pdf", "sub/deep.epub", "broken.pdf", "loop1.pdf", "loop2.pdf", "sub/back", "linked.pdf"}


def test_collect_files_on_a_single_file_and_a_missing_path(tmp_path):
    path = samples.write(tmp_path / "one.mobi", samples.mobi_bytes())
    (entry,) = fmt.collect_files(str(path))
    assert entry["rel"] == "one.mobi"
    assert entry["reason"] is None
    (missing,) = fmt.collect_files(str(tmp_path / "nope"))
    assert missing["reason"] == "path does not exist"


def test_validate_file_rules(tmp_path):
    root = tmp_path / "src"
    samples.write(root / "good.epub", samples.epub_bytes())
    samples.write(root / "big.pdf", samples.pdf_bytes(padding=2 * 1024 * 1024))
    samples.write(root / "empty.pdf", b"")
    samples.write(root / "pdf-named.epub", samples.pdf_bytes())
    samples.write(root / "tool.mobi", samples.elf_bytes())
    results = {}
    for entry in fmt.collect_files(str(root)):
        item, plan = fmt.validate_file(entry, "pre", 1024 * 1024)
        results[entry["rel"]] = (item, plan)
    item, plan = results["good.epub"]
    assert item["status"] == "valid" and item["format"] == "epub" and item["key"] == "pre/good.epub"
    assert plan["content_type"] == "application/epub+zip"
    assert plan["checksum_sha256"] == base64.b64encode(bytes.fromhex(item["sha256"])).decode()
    assert "over the limit" in results["big.pdf"][0]["reason"]
    assert "empty file" in results["empty.pdf"][0]["reason"]
    assert "content is PDF but the name ends in '.epub'" in results["pdf-named.epub"][0]["reason"]
    assert "ELF executable" in results["tool.mobi"][0]["reason"]
    for name in ("big.pdf", "empty.pdf", "pdf-named.epub", "tool.mobi"):
        assert results[name][0]["status"] == "rejected"
        assert results[name][1] is None
        assert results[name][0]["sha256"] is None
