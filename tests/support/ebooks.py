"""Sample e-books made by the tests themselves, and their SHA-256.

Three kinds, for three jobs; within each kind the same arguments always give the same bytes:

* ``sample_pdf`` / ``sample_epub`` / ``sample_mobi``: small, well-formed books with a title (integration and
  reliability tests put them with boto3 and compare what comes back);
* ``pdf_bytes`` / ``epub_bytes`` / ``mobi_bytes`` / ``elf_bytes`` / ``write``: the format-check samples of
  ebook_upload's tests, including broken EPUBs (tests/unit/upload cuts them at fixed offsets: keep their
  layout; tests/integration/upload_restore uses them too);
* ``sized_pdf`` / ``sized_epub`` / ``sized_mobi``: a book of a given size filled from a seeded ``random.Random``
  (the benchmark's synthetic day of uploads).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- well-formed samples with a title


def sample_pdf(title="Integration test"):
    """A small, well-formed one-page PDF (header, objects, xref table, trailer, %%EOF)."""
    stream = f"BT /F1 12 Tf 10 40 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 80] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def sample_epub(title="Integration test", *, identifier="itest", filler=0):
    """An EPUB: a ZIP whose first entry is the uncompressed ``mimetype``, then container and package.

    ``identifier`` goes into ``urn:uuid:<identifier>``; ``filler`` adds a paragraph of that many "x" to the
    chapter. Entries carry a fixed date, so the same arguments always give the same bytes.
    """
    chapter = f"<p>{title}</p>" + (f"<p>{'x' * filler}</p>" if filler else "")
    entries = [
        ("mimetype", "application/epub+zip", zipfile.ZIP_STORED),
        ("META-INF/container.xml",
         '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
         '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
         "</rootfiles></container>", zipfile.ZIP_DEFLATED),
        ("OEBPS/content.opf",
         '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
         '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
         f'<dc:identifier id="id">urn:uuid:{identifier}</dc:identifier><dc:title>{title}</dc:title>'
         "<dc:language>en</dc:language></metadata><manifest>"
         '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
         '<spine><itemref idref="c1"/></spine></package>', zipfile.ZIP_DEFLATED),
        ("OEBPS/c1.xhtml", f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{chapter}</body></html>',
         zipfile.ZIP_DEFLATED),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        for name, text, compression in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            book.writestr(info, text)
    return buffer.getvalue()


def sample_mobi(title="Integration test"):
    """A MOBI: PalmDB header with type/creator ``BOOKMOBI`` at offset 60, one record (PalmDOC + MOBI header)."""
    text = title.encode()
    record0 = struct.pack(">HHIHHHH", 1, 0, len(text), 1, 4096, 0, 0)  # PalmDOC header, no compression
    record0 += b"MOBI" + struct.pack(">IIII", 24, 2, 65001, 1) + b"\xff" * 4  # tiny MOBI header, UTF-8
    record1 = text
    header = title.encode()[:31].ljust(32, b"\0")
    header += struct.pack(">HHIIIIII", 0, 0, 0, 0, 0, 0, 0, 0)
    header += b"BOOKMOBI" + struct.pack(">IIH", 0, 0, 2)
    assert header[60:68] == b"BOOKMOBI" and len(header) == 78
    first = 78 + 2 * 8 + 2
    header += struct.pack(">IB3s", first, 0, b"\0\0\0") + struct.pack(">IB3s", first + len(record0), 0, b"\0\0\1")
    return header + b"\0\0" + record0 + record1


# --------------------------------------------------------------------------- format-check samples (ebook_upload)

CONTAINER_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""

CONTENT_OPF = b"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:00000000-0000-4000-8000-000000000000</dc:identifier>
    <dc:title>Test</dc:title><dc:language>en</dc:language>
  </metadata>
  <manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>
  <spine><itemref idref="c1"/></spine>
</package>
"""


def pdf_bytes(text="hello", padding=0):
    """A minimal PDF; *padding* adds that many bytes of comment lines (for size tests)."""
    body = (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"% " + text.encode() + b"\n"
    )
    if padding:
        chunk = os.urandom(min(padding, 1024 * 1024)).hex().encode()
        pad = b""
        while len(pad) < padding:
            pad += b"% " + chunk[: min(len(chunk), padding - len(pad))] + b"\n"
        body += pad[:padding]
    return body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def epub_bytes(
    text="hello", mimetype_first=True, mimetype_stored=True, mimetype=b"application/epub+zip", container=True
):
    """An EPUB, or with the switches one that breaks a rule: mimetype not first, compressed, wrong; no container."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:

        def add_mimetype():
            info = zipfile.ZipInfo("mimetype")
            info.compress_type = zipfile.ZIP_STORED if mimetype_stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, mimetype)

        if mimetype_first:
            add_mimetype()
        if container:
            archive.writestr("META-INF/container.xml", CONTAINER_XML, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/content.opf", CONTENT_OPF, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "OEBPS/c1.xhtml",
            f"<html><body><p>{text}</p></body></html>".encode(),
            compress_type=zipfile.ZIP_DEFLATED,
        )
        if not mimetype_first:
            add_mimetype()
    return buffer.getvalue()


def mobi_bytes(text="hello"):
    """A PalmDB 'BOOKMOBI' file: 78-byte header, two records, record 0 with PalmDOC + MOBI headers."""
    text_record = text.encode() * 4
    record0 = struct.pack(">HHIHHHH", 1, 0, len(text_record), 1, 4096, 0, 0)  # PalmDOC header, 16 bytes
    record0 += b"MOBI" + struct.pack(">II", 232, 2) + b"\0" * 220  # MOBI header (length 232, type 2 = book)
    records = [record0, text_record]
    header_len = 78 + 8 * len(records) + 2
    offsets = []
    position = header_len
    for record in records:
        offsets.append(position)
        position += len(record)
    name = b"Test_Book".ljust(32, b"\0")
    header = (
        name + struct.pack(">HHIIIIII", 0, 0, 0, 0, 0, 0, 0, 0) + b"BOOKMOBI" + struct.pack(">IIH", 0, 0, len(records))
    )
    assert len(header) == 78
    table = b"".join(struct.pack(">II", offset, index * 2) for index, offset in enumerate(offsets))
    return header + table + b"\0\0" + b"".join(records)


def elf_bytes():
    """The start of an x86-64 ELF executable."""
    return b"\x7fELF\x02\x01\x01\x00" + b"\0" * 8 + struct.pack("<HHI", 2, 0x3E, 1) + os.urandom(200)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- sized books from a seeded generator


def sized_pdf(size, rng):
    """A PDF of ``size`` bytes: header, random bytes from ``rng`` (a random.Random), trailer."""
    head, tail = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"\ntrailer\n<< >>\n%%EOF\n"
    return head + rng.randbytes(max(0, size - len(head) - len(tail))) + tail


def sized_epub(size, rng):
    """An EPUB of about ``size`` bytes (stored, not compressed): mimetype, container, one chapter of random bytes."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_STORED) as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0"/>')
        book.writestr("OEBPS/chapter.bin", rng.randbytes(max(0, size - 400)))
    return data.getvalue()


def sized_mobi(size, rng):
    """A MOBI of ``size`` bytes (at least its headers): PalmDB header, two records, random text."""
    records = 2
    table_end = 78 + 8 * records
    first = table_end + 2
    header = bytearray(78)
    header[0:14] = b"synthetic-book"
    header[60:68] = b"BOOKMOBI"
    header[76:78] = struct.pack(">H", records)
    table = b"".join(struct.pack(">II", offset, index) for index, offset in enumerate((first, first + 256)))
    record0 = bytes(16) + b"MOBI" + bytes(236)
    body = bytes(header) + table + b"\0\0" + record0
    return body + rng.randbytes(max(16, size - len(body)))
