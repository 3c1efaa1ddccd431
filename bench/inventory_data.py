"""Three years of a publisher's bucket as an S3 Inventory report (tests/support/s3_inventory.py), with its totals.

3,000 uploads a day for 1,095 days = 3,285,000 inventory rows: per day 2,700 new e-books, 240 re-uploads of
an existing title (a new version; the one before becomes noncurrent) and 60 deletes (a delete marker; the
version before becomes noncurrent). Keys `<year>/<month>/<genre>/<title>-<n>.<pdf|epub|mobi>` (a few titles
with spaces, "+" or accents), sizes of real e-books (1-20 MB), SSE-KMS with the bucket key except a few
versions from an old SSE-S3 writer. Rows in S3's order (by key, newest version first), split into data
files of ROWS_PER_FILE rows. Cached under bench/results/run.tmp/inventory/<hash of this generator>/.
"""

import base64
import hashlib
import json
import random
import shutil
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import config
from tests.support import s3_inventory
from tests.support.aws import bucket_names

YEARS, DAILY = config.YEARS, config.DAILY_UPLOADS
DAYS = 365 * YEARS
NEW, REUPLOADS, DELETES = 2_700, 240, 60  # of DAILY
assert NEW + REUPLOADS + DELETES == DAILY
ROWS = DAILY * DAYS
ROWS_PER_FILE = s3_inventory.ROWS_PER_FILE
START = datetime(2023, 12, 2, tzinfo=UTC)  # three years up to the report
REPORT_TIME = START + timedelta(days=DAYS, hours=1)  # S3 starts the day's scan after midnight
# A prod data bucket and the access-log bucket its inventory reports go to, named as files/TapStack.yml names them.
SOURCE, DESTINATION = bucket_names("prod")
FORMATS = (("pdf", 0.50, 2_000_000, 20_000_000), ("epub", 0.35, 1_000_000, 8_000_000),
           ("mobi", 0.15, 1_000_000, 10_000_000))
NOT_KMS_SHARE = 0.0005  # versions from an old SSE-S3 writer
GENRES = ("biography", "business", "children", "cookery", "fantasy", "fiction", "history", "mystery", "poetry",
          "romance", "science", "travel")
WORDS = ("silent", "river", "winter", "garden", "shadow", "empire", "letters", "journey", "secret", "house",
         "ocean", "stars", "lost", "kingdom", "night", "city", "iron", "glass", "summer", "fire", "atlas", "storm")
ODD_TITLES = ("War and Peace", "C++ Primer + Exercises", "Les Misérables", "Über Nacht", "Cien años de soledad")
SEED = 15


def _hash():
    """The cache's name: this generator and the writer, so a change to either regenerates."""
    h = hashlib.sha256()
    for path in (Path(__file__), Path(s3_inventory.__file__)):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _stamp(day, second):
    return (START + timedelta(days=day, seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{second % 997:03d}Z"


class Truth:
    """What the monitor must find: the generator's totals, kept as the rows are made."""

    def __init__(self):
        self.n = Counter()
        self.largest = ("", 0)

    def add(self, v, fmt):
        n = self.n
        n["rows"] += 1
        if v.is_delete_marker:
            n["dm"] += 1
            return
        if v.encryption != "SSE-KMS":
            n["not_kms"] += 1
        if v.is_latest:
            n[fmt] += 1
            n[fmt + "_bytes"] += v.size
            if v.size > self.largest[1]:
                self.largest = (v.key, v.size)
        else:
            n["nc"] += 1
            n["nc_bytes"] += v.size


def _records(truth):
    """The rows in S3's order, month by month (keys start with the upload's year/month)."""
    rng = random.Random(SEED)
    keys = NEW * DAYS
    extra = Counter(rng.choices(range(keys), k=REUPLOADS * DAYS))  # key index -> re-uploads
    deleted = set(rng.sample(range(keys), DELETES * DAYS))
    vid = base64.b64encode  # 24 random bytes -> 32 characters, "+/" made "._" as S3's ids look
    table = bytes.maketrans(b"+/", b"._")
    serial, day = 0, 0
    while day < DAYS:
        month = (START + timedelta(days=day)).strftime("%Y/%m")
        batch = []
        while day < DAYS and (START + timedelta(days=day)).strftime("%Y/%m") == month:
            for _ in range(NEW):
                r = rng.random()
                fmt, lo, hi = next((f, lo, hi) for f, share, lo, hi in _CUMULATIVE if r < share)
                odd = rng.random()
                title = rng.choice(ODD_TITLES) if odd < 0.02 else "-".join(rng.sample(WORDS, 3))
                key = f"{month}/{rng.choice(GENRES)}/{title}-{serial}.{fmt}"
                batch.append((key, serial, day, fmt, lo, hi))
                serial += 1
            day += 1
        batch.sort()
        for key, index, first, fmt, lo, hi in batch:
            times = [(first, rng.randrange(86_400))]
            times += sorted((d, rng.randrange(86_400)) for d in
                            (rng.randint(first, DAYS - 1) for _ in range(extra.get(index, 0))))
            if index in deleted:
                d = rng.randint(times[-1][0], DAYS - 1)
                stamp = _stamp(d, max(times[-1][1] + 1, rng.randrange(86_400)) if d == times[-1][0]
                               else rng.randrange(86_400))
                dm = s3_inventory.Version(key, vid(rng.randbytes(24)).translate(table).decode(), True, True, 0,
                                          stamp, "NOT-SSE", False)
                truth.add(dm, fmt)
                yield dm
            for i, (d, second) in enumerate(reversed(times)):  # newest first
                kms = rng.random() >= NOT_KMS_SHARE
                v = s3_inventory.Version(key, vid(rng.randbytes(24)).translate(table).decode(),
                                         i == 0 and index not in deleted, False, rng.randint(lo, hi),
                                         _stamp(d, second), "SSE-KMS" if kms else "SSE-S3", kms)
                truth.add(v, fmt)
                yield v


_CUMULATIVE, _c = [], 0.0
for _f, _share, _lo, _hi in FORMATS:
    _c += _share
    _CUMULATIVE.append((_f, _c if _f != FORMATS[-1][0] else 1.01, _lo, _hi))


def ensure():
    """The cached report: {"root", "manifest_key", "truth", "files", "gz_bytes", "rows", "generate_s"}."""
    base = config.SCRATCH / "inventory"
    root = base / _hash()
    done = root / "done.json"
    if done.exists():
        return {**json.loads(done.read_text()), "root": str(root), "cached": True}
    shutil.rmtree(base, ignore_errors=True)  # an older generator's files
    root.mkdir(parents=True)
    truth, started = Truth(), time.perf_counter()
    report = s3_inventory.write_inventory(
        s3_inventory.put_into_folder(root), _records(truth), source_bucket=SOURCE, destination_bucket=DESTINATION,
        when=REPORT_TIME, rows_per_file=ROWS_PER_FILE, rng=random.Random(SEED))
    if report.rows != ROWS or truth.n["rows"] != ROWS:
        raise RuntimeError(f"generator wrote {report.rows:,} rows, expected {ROWS:,}")
    out = {"manifest_key": report.manifest_key, "files": len(report.manifest["files"]),
           "gz_bytes": sum(f["size"] for f in report.manifest["files"]), "rows": report.rows,
           "truth": {**truth.n, "largest": list(truth.largest)}, "generate_s": time.perf_counter() - started,
           "source_bucket": SOURCE, "destination_bucket": DESTINATION}
    done.write_text(json.dumps(out, indent=1))
    return {**out, "root": str(root), "cached": False}
