"""Small, structurally valid (and deliberately broken) e-book files, made by the tests themselves."""

from __future__ import annotations

import io
import os
import struct
import zipfile

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
