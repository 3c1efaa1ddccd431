"""A day's e-books, synthetic: valid PDF, EPUB and MOBI files (ebook_upload checks content, not names).

Sizes are scaled down for LocalStack (a day is then 190 MB, not 10 GB): log-uniform 10-200 KB instead of
the usual 0.5-20 MB, about 1/50 of real e-books; the file count is a real day's.
"""

import json
import math
import random

from bench import config
from tests.support.ebooks import sized_epub, sized_mobi, sized_pdf

MIN_KB, MAX_KB = 10, 200
MIX = (("pdf", 0.5), ("epub", 0.35), ("mobi", 0.15))
SEED = 20261129


MAKERS = {"pdf": sized_pdf, "epub": sized_epub, "mobi": sized_mobi}


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
