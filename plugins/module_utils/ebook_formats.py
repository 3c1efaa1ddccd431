# Copyright (c) 2026 TAP infrastructure team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Content-based detection of e-books, and the checks ebook_upload runs before any upload.

Pure Python (standard library only), so the unit tests and the module share it.

A file is an e-book when its *content* is one of:

* PDF: starts with ``%PDF-`` and has an ``%%EOF`` marker in its last 1024 bytes
  (a PDF cut short loses it);
* EPUB: a ZIP archive whose physically first entry is ``mimetype``, stored
  (not compressed), holding exactly ``application/epub+zip``, with a readable
  central directory and a ``META-INF/container.xml``;
* MOBI: a PalmDB file with ``BOOKMOBI`` at offset 60, whose record table fits in
  the file and whose record 0 carries a ``MOBI`` header.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import stat
import struct
import zipfile

FORMATS = {
    "pdf": {"name": "PDF", "extension": ".pdf", "content_type": "application/pdf"},
    "epub": {"name": "EPUB", "extension": ".epub", "content_type": "application/epub+zip"},
    "mobi": {"name": "MOBI", "extension": ".mobi", "content_type": "application/x-mobipocket-ebook"},
}
EXTENSION_FORMATS = {spec["extension"]: fmt for fmt, spec in FORMATS.items()}
ALLOWED_EXTENSIONS = tuple(sorted(EXTENSION_FORMATS))

EPUB_MIMETYPE = b"application/epub+zip"
MOBI_MAGIC = b"BOOKMOBI"
MOBI_MAGIC_OFFSET = 60
PDF_MAGIC = b"%PDF-"
PDF_EOF = b"%%EOF"
PDF_EOF_WINDOW = 1024
MAX_KEY_BYTES = 1024
MIB = 1024 * 1024
_READ_BLOCK = MIB
_HEAD_BYTES = 4096

# First bytes of files that people mistake for e-books, to name them in the reason.
_KNOWN_MAGIC = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows/DOS executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O/Java class binary"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"#!", "a script"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"{\\rtf", "an RTF document"),
    (b"\xd0\xcf\x11\xe0", "an MS Office (OLE2) document"),
)


class EbookRejected(Exception):
    """Raised with a human readable reason when a file is not an acceptable e-book."""


def describe_format(fmt):
    return FORMATS[fmt]["name"] if fmt in FORMATS else str(fmt)


def content_type(fmt):
    return FORMATS[fmt]["content_type"]


def _first_bytes_hex(head):
    return head[:8].hex() or "(none)"


def _check_pdf(handle, size, head):
    if size < len(PDF_MAGIC) + len(PDF_EOF):
        raise EbookRejected(f"PDF header found but the file is only {size} bytes: truncated")
    handle.seek(max(0, size - PDF_EOF_WINDOW))
    tail = handle.read(PDF_EOF_WINDOW)
    if PDF_EOF not in tail:
        raise EbookRejected(
            f"PDF header found but no %%EOF marker in the last {PDF_EOF_WINDOW} bytes: the file looks truncated"
        )
    return "pdf"


def _check_epub(handle, size, head):
    if len(head) < 30:
        raise EbookRejected("ZIP signature found but the file is too short to hold an entry: truncated")
    (_sig, _ver, flags, method, _t, _d, _crc, csize, usize, name_len, extra_len) = struct.unpack(
        "<4sHHHHHIIIHH", head[:30]
    )
    name = head[30 : 30 + name_len]
    if len(name) < name_len:
        raise EbookRejected("ZIP signature found but the first entry is cut short: truncated")
    if name != b"mimetype":
        shown = name.decode("utf-8", "replace")
        raise EbookRejected(
            f"ZIP archive whose first entry is '{shown}', not 'mimetype': not an EPUB "
            "(an EPUB must start with an uncompressed 'mimetype' entry)"
        )
    if method != 0:
        raise EbookRejected(
            f"EPUB 'mimetype' entry is compressed (ZIP method {method}); it must be stored uncompressed"
        )
    start = 30 + name_len + extra_len
    handle.seek(start)
    content = handle.read(len(EPUB_MIMETYPE) + 1)
    has_descriptor = bool(flags & 0x08)
    if not has_descriptor and (csize != len(EPUB_MIMETYPE) or usize != len(EPUB_MIMETYPE)):
        shown = content[: max(0, min(csize, 40))].decode("utf-8", "replace")
        raise EbookRejected(f"EPUB 'mimetype' entry holds '{shown}', not 'application/epub+zip'")
    if content[: len(EPUB_MIMETYPE)] != EPUB_MIMETYPE:
        shown = content[: len(EPUB_MIMETYPE)].decode("utf-8", "replace")
        raise EbookRejected(f"EPUB 'mimetype' entry holds '{shown}', not 'application/epub+zip'")
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise EbookRejected(
            f"EPUB container is damaged or truncated (ZIP central directory unreadable: {exc})"
        ) from None
    if "META-INF/container.xml" not in names:
        raise EbookRejected("EPUB has no META-INF/container.xml")
    return "epub"


def _check_mobi(handle, size, head):
    if size < 78:
        raise EbookRejected("MOBI signature found but the PalmDB header is incomplete: truncated")
    (records,) = struct.unpack(">H", head[76:78])
    if records == 0:
        raise EbookRejected("MOBI PalmDB header lists no records")
    table_end = 78 + 8 * records
    if table_end > size:
        raise EbookRejected(f"MOBI record table needs {table_end} bytes but the file has {size}: truncated")
    handle.seek(78)
    table = handle.read(8 * records)
    offsets = [struct.unpack(">I", table[i * 8 : i * 8 + 4])[0] for i in range(records)]
    previous = table_end
    for index, offset in enumerate(offsets):
        if offset < previous or offset >= size:
            raise EbookRejected(
                f"MOBI record {index} starts at byte {offset}, outside the file ({size} bytes): truncated or damaged"
            )
        previous = offset
    handle.seek(offsets[0] + 16)
    if handle.read(4) != b"MOBI":
        raise EbookRejected("MOBI record 0 has no 'MOBI' header")
    return "mobi"


def _unknown_content(head):
    for magic, what in _KNOWN_MAGIC:
        if head.startswith(magic):
            return f"content is {what}, not a PDF, EPUB or MOBI e-book"
    if head.startswith(b"PK"):
        return "content is a ZIP archive but not an EPUB"
    return (
        "content matches no supported e-book format (PDF '%PDF-' header, EPUB zip with 'mimetype' first, "
        f"MOBI 'BOOKMOBI' at offset 60); first bytes: {_first_bytes_hex(head)}"
    )


def detect_format(path, size=None):
    """Return 'pdf', 'epub' or 'mobi' for the file at *path*; raise EbookRejected otherwise."""
    if size is None:
        size = os.stat(path).st_size
    if size == 0:
        raise EbookRejected("empty file (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
        if head.startswith(PDF_MAGIC):
            return _check_pdf(handle, size, head)
        if head.startswith(b"PK\x03\x04"):
            return _check_epub(handle, size, head)
        if head[MOBI_MAGIC_OFFSET : MOBI_MAGIC_OFFSET + len(MOBI_MAGIC)] == MOBI_MAGIC:
            return _check_mobi(handle, size, head)
        partial = head[MOBI_MAGIC_OFFSET:]
        if partial and len(partial) < len(MOBI_MAGIC) and MOBI_MAGIC.startswith(partial):
            raise EbookRejected("MOBI signature cut short: truncated")
        raise EbookRejected(_unknown_content(head))


def hash_file(path, part_size=None):
    """SHA-256 of the whole file, and of each *part_size* part when given.

    Returns ``(hex digest, [raw part digests])``. The part digests give the
    composite checksum S3 reports for a multipart upload with SHA256 checksums.
    """
    whole = hashlib.sha256()
    parts = []
    part = hashlib.sha256() if part_size else None
    part_left = part_size or 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_READ_BLOCK)
            if not block:
                break
            whole.update(block)
            if part is None:
                continue
            view = memoryview(block)
            while view:
                take = min(part_left, len(view))
                part.update(view[:take])
                view = view[take:]
                part_left -= take
                if part_left == 0:
                    parts.append(part.digest())
                    part = hashlib.sha256()
                    part_left = part_size
    if part is not None and part_left != part_size:
        parts.append(part.digest())
    return whole.hexdigest(), parts


def b64_digest(raw):
    return base64.b64encode(raw).decode("ascii")


def sha256_b64_from_hex(hex_digest):
    return b64_digest(bytes.fromhex(hex_digest))


def composite_checksum(part_digests):
    """The ChecksumSHA256 S3 reports for a multipart object: base64(sha256(concat(parts)))-N."""
    return f"{b64_digest(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


def checksums_match(expected, reported):
    """Compare an expected checksum with the one S3 reports.

    A composite checksum has a ``-N`` part count suffix; some S3 emulators
    leave it out, so the digest decides, and the count only when both have one.
    """
    if not expected or not reported:
        return False
    exp_digest, _sep, exp_count = expected.partition("-")
    rep_digest, _sep, rep_count = reported.partition("-")
    if exp_digest != rep_digest:
        return False
    return not (exp_count and rep_count and exp_count != rep_count)


def _stat_failure(path, exc):
    if exc.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        if exc.errno == errno.ENOENT:
            return f"broken symlink: its target '{target}' does not exist"
        return f"symlink to '{target}' cannot be followed: {exc.strerror}"
    if exc.errno == errno.ENOENT:
        return "path does not exist"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)


def _entry(path, rel, reason=None, size=None):
    return {"path": path, "rel": rel, "reason": reason, "size": size}


def collect_files(src):
    """List the candidate files under *src* (a file or a directory).

    Returns dicts ``{path, rel, reason, size}``; ``reason`` is set for an
    entry that cannot be a candidate (missing path, broken link, symlink
    loop, special file). Directory links are followed, except a link back to
    one of its own ancestors, which is reported as a symlink loop.
    """
    try:
        top = os.stat(src)
    except OSError as exc:
        return [_entry(src, os.path.basename(src.rstrip(os.sep)) or src, _stat_failure(src, exc))]
    if stat.S_ISREG(top.st_mode):
        return [_entry(src, os.path.basename(src), size=top.st_size)]
    if not stat.S_ISDIR(top.st_mode):
        return [_entry(src, os.path.basename(src), "not a regular file or directory")]

    found = []
    stack = [(src, "", ((top.st_dev, top.st_ino),))]
    while stack:
        directory, rel_dir, ancestors = stack.pop()
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            found.append(_entry(directory, rel_dir.rstrip("/") or ".", f"cannot read directory: {exc.strerror}"))
            continue
        subdirs = []
        for name in names:
            path = os.path.join(directory, name)
            rel = rel_dir + name
            try:
                info = os.stat(path)
            except OSError as exc:
                found.append(_entry(path, rel, _stat_failure(path, exc)))
                continue
            if stat.S_ISDIR(info.st_mode):
                ident = (info.st_dev, info.st_ino)
                if ident in ancestors:
                    found.append(
                        _entry(path, rel, f"symlink loop: '{rel}' leads back to one of its own parent directories")
                    )
                    continue
                subdirs.append((path, rel + "/", ancestors + (ident,)))
            elif stat.S_ISREG(info.st_mode):
                found.append(_entry(path, rel, size=info.st_size))
            else:
                found.append(_entry(path, rel, "not a regular file (socket, FIFO or device)"))
        stack.extend(reversed(subdirs))
    found.sort(key=lambda item: item["rel"])
    return found


def object_key(prefix, rel):
    """Object key: the prefix (a '/' is added when it lacks one) followed by the relative path."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix + rel.replace(os.sep, "/")


def check_extension(rel, fmt):
    """Raise EbookRejected unless the name ends in the (lower-case) extension of *fmt*."""
    expected = FORMATS[fmt]["extension"]
    name = rel.rsplit("/", 1)[-1]
    ext = os.path.splitext(name)[1]
    if ext == expected:
        return
    what = describe_format(fmt)
    allowed = "|".join("*" + e for e in ALLOWED_EXTENSIONS)
    if ext.lower() == expected:
        raise EbookRejected(
            f"content is {what} but the extension '{ext}' is not lower-case: rename it to '{expected}' "
            f"(the publisher role may only write {allowed} keys)"
        )
    if ext.lower() in EXTENSION_FORMATS:
        raise EbookRejected(
            f"content is {what} but the name ends in '{ext}' ({describe_format(EXTENSION_FORMATS[ext.lower()])}): "
            f"rename it to '{expected}'"
        )
    shown = f"'{ext}'" if ext else "no extension"
    raise EbookRejected(
        f"content is {what} but the name has {shown}: rename it to end in '{expected}' "
        f"(the publisher role may only write {allowed} keys)"
    )


def check_key(key):
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise EbookRejected("file name is not valid UTF-8, so it cannot be an S3 key") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise EbookRejected(f"object key is {len(encoded)} bytes long; S3 allows at most {MAX_KEY_BYTES}")


def validate_file(entry, prefix, max_size_bytes, part_size_for=None):
    """Check one collected entry; return the result dict used by ebook_upload.

    *part_size_for(size)* returns the multipart part size for a file of that
    size, or None for a single PUT; the part digests are then computed in the
    same pass as the whole-file SHA-256.
    """
    result = {
        "path": entry["path"],
        "key": None,
        "status": "rejected",
        "reason": entry["reason"],
        "format": None,
        "size": entry["size"],
        "sha256": None,
        "version_id": None,
    }
    if entry["reason"]:
        return result, None
    key = object_key(prefix, entry["rel"])
    result["key"] = key
    size = entry["size"]
    try:
        if size == 0:
            raise EbookRejected("empty file (0 bytes)")
        if size > max_size_bytes:
            raise EbookRejected(
                f"file is {size} bytes, over the limit of {max_size_bytes} bytes (max_size_mb={max_size_bytes // MIB})"
            )
        fmt = detect_format(entry["path"], size)
        result["format"] = fmt
        check_extension(entry["rel"], fmt)
        check_key(key)
        part_size = part_size_for(size) if part_size_for else None
        digest, parts = hash_file(entry["path"], part_size)
    except EbookRejected as exc:
        result["reason"] = str(exc)
        return result, None
    except OSError as exc:
        result["reason"] = f"cannot read the file: {exc.strerror or exc}"
        return result, None
    result["sha256"] = digest
    result["status"] = "valid"
    result["reason"] = None
    plan = {
        "content_type": content_type(fmt),
        "part_size": part_size,
        "checksum_sha256": composite_checksum(parts) if part_size else sha256_b64_from_hex(digest),
    }
    return result, plan
