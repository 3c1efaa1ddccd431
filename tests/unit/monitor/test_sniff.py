"""The upload check's content rules (sniff) against ebook_upload's (plugins/module_utils/ebook_formats.py).

Every fixture e-book of tests/unit/upload (the builders of tests/support/ebooks.py with the same arguments
and cuts, plus the well-formed and sized samples) goes through the whole upload check in moto, so the
bytes judged are the ones its ranged reads fetch. Where ebook_formats accepts a file, the check must find
the same format; a file the check rejects, ebook_formats must reject too. The check may accept more: the
rules that need the whole file (the EPUB's central directory and container, the MOBI record table) stay
with ebook_upload; those files are listed in LENIENT so that a change of the rules shows.
"""

import os
import random

import pytest
from tests.support import ebooks

from .support import ROOT, load_module

TEXT = b"just some text, certainly not a book\n" * 4
PDF, EPUB, MOBI = ebooks.pdf_bytes(), ebooks.epub_bytes(), ebooks.mobi_bytes()
FIXTURES = {
    # tests/unit/upload/test_ebook_formats.py
    "pdf": PDF, "epub": EPUB, "mobi": MOBI,
    "epub-mimetype-not-first": ebooks.epub_bytes(mimetype_first=False),
    "epub-mimetype-compressed": ebooks.epub_bytes(mimetype_stored=False),
    "epub-wrong-mimetype": ebooks.epub_bytes(mimetype=b"application/zip"),
    "epub-no-container": ebooks.epub_bytes(container=False),
    "renamed-elf": ebooks.elf_bytes(), "renamed-exe": b"MZ\x90\x00" + os.urandom(100), "text": TEXT, "empty": b"",
    "pdf-half": PDF[:60], "pdf-header-only": PDF[:7], "epub-head": EPUB[:200], "epub-no-central-dir": EPUB[:-30],
    "mobi-64": MOBI[:64], "mobi-70": MOBI[:70], "mobi-90": MOBI[:90], "mobi-150": MOBI[:150],
    "pdf-trailing-bytes": PDF + b"\r\n\0\0",
    # tests/unit/upload/test_ebook_upload.py
    "pdf-2mib": ebooks.pdf_bytes(padding=2 * 1024 * 1024), "pdf-1mib-10": ebooks.pdf_bytes(padding=1024 * 1024 + 10),
    "epub-b": ebooks.epub_bytes("b"), "mobi-c": ebooks.mobi_bytes("c"),
    # the other builders of tests/support/ebooks.py
    "sample-pdf": ebooks.sample_pdf(), "sample-epub": ebooks.sample_epub(filler=6000),
    "sample-mobi": ebooks.sample_mobi(),
    **{f"sized-{fmt}": build(50_000, random.Random(7)) for fmt, build in (
        ("pdf", ebooks.sized_pdf), ("epub", ebooks.sized_epub), ("mobi", ebooks.sized_mobi))},
    "sized-pdf-cut": ebooks.sized_pdf(50_000, random.Random(7))[:40_000],
}
# accepted by the upload check, rejected by ebook_upload for what lies beyond the bytes the check reads
LENIENT = {"epub-no-container", "epub-head", "epub-no-central-dir", "mobi-90", "mobi-150"}


@pytest.fixture(scope="module")
def ebook_formats():
    return load_module("ebook_formats_under_test", ROOT / "plugins" / "module_utils" / "ebook_formats.py")


def upload_format(ebook_formats, tmp_path, data):
    path = tmp_path / "book"
    path.write_bytes(data)
    try:
        return ebook_formats.detect_format(str(path))
    except ebook_formats.EbookRejected:
        return None


def check_format(stack, data):
    """The format the upload check finds (None: not an e-book, or empty and not read)."""
    report = stack.run(stack.upload("incoming/book.bin", data))
    return None if report["object"]["content"] in (None, "not an e-book") else report["object"]["content"]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_upload_check_agrees_with_ebook_upload(stack, ebook_formats, tmp_path, name):
    data = FIXTURES[name]
    expected, found = upload_format(ebook_formats, tmp_path, data), check_format(stack, data)
    if expected:
        assert found == expected
    elif name in LENIENT:
        assert found == name.split("-")[0]
    else:
        assert found is None


def test_fixtures_cover_accepted_and_rejected_files_of_each_format(ebook_formats, tmp_path):
    accepted = {name: upload_format(ebook_formats, tmp_path, data) for name, data in FIXTURES.items()}
    assert {fmt for fmt in accepted.values() if fmt} == {"pdf", "epub", "mobi"}
    assert {name.split("-")[0] for name, fmt in accepted.items() if not fmt} >= {"pdf", "epub", "mobi"}
    assert not LENIENT & {name for name, fmt in accepted.items() if fmt}


@pytest.mark.parametrize(("head", "tail", "found"), [
    (b"%PDF-1.7\n", b"trailer\n%%EOF\n", "pdf"),
    (b"%PDF-1.7\n", b"trailer\n", None),
    (b"", b"", None),
    (b"PK\x03\x04", b"", None),
    (b"\0" * 60 + b"BOOKMOBI" + b"\0" * 10 + (4096).to_bytes(4, "big"), b"", "mobi"),  # record 0 not read
    (b"\0" * 60 + b"BOOKMOBI" + b"\0" * 10 + (82).to_bytes(4, "big") + b"\0" * 16 + b"XXXX", b"", None),
])
def test_sniff_rules_on_the_bytes_read(mon, head, tail, found):
    assert mon.sniff(head, tail) == found
