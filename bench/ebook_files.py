"""A day's e-books, synthetic: valid PDF, EPUB and MOBI files (ebook_upload checks content, not names).

Sizes are scaled down for LocalStack (a day is then 190 MB, not 10 GB): log-uniform 10-200 KB instead of
the usual 0.5-20 MB, about 1/50 of real e-books; the file count is a real day's.
"""

import io
import json
import math
import random
import struct
import zipfile

from bench import config

MIN_KB, MAX_KB = 10, 200
MIX = (("pdf", 0.5), ("epub", 0.35), ("mobi", 0.15))
SEED = 20261129


def _pdf(size, rng):
    head, tail = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"\ntrailer\n<< >>\n%%EOF\n"
    return head + rng.randbytes(max(0, size - len(head) - len(tail))) + tail


def _epub(size, rng):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_STORED) as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0"/>')
        book.writestr("OEBPS/chapter.bin", rng.randbytes(max(0, size - 400)))
    return data.getvalue()


def _mobi(size, rng):
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


MAKERS = {"pdf": _pdf, "epub": _epub, "mobi": _mobi}


def make_day(count, folder=None):
    """Write `count` e-books under run.tmp/ebooks-<count>/ (reused when already there); returns (dir, bytes)."""
    folder = folder or config.SCRATCH / f"ebooks-{count}"
    marker = folder.with_name(folder.name + ".spec.json")  # beside it: ebook_upload would reject it inside
    spec = {"count": count, "seed": SEED, "kb": [MIN_KB, MAX_KB], "mix": MIX}
    if marker.exists() and json.loads(marker.read_text()).get("spec") == json.loads(json.dumps(spec)):
        return folder, json.loads(marker.read_text())["bytes"]
    rng = random.Random(SEED)
    total = 0
    for i in range(count):
        fmt = rng.choices([m[0] for m in MIX], weights=[m[1] for m in MIX])[0]
        size = int(1024 * math.exp(rng.uniform(math.log(MIN_KB), math.log(MAX_KB))))
        path = folder / f"publisher-{i % 20:02d}" / f"title-{i:05d}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = MAKERS[fmt](size, rng)
        path.write_bytes(data)
        total += len(data)
    marker.write_text(json.dumps({"spec": spec, "bytes": total}))
    return folder, total


def files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())
