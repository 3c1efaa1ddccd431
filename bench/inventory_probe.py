"""One timed read of a local inventory report, in a fresh process (bench/phase_inventory.py starts it).

    python -m bench.inventory_probe monitor|bare ROOT SOURCE_BUCKET DESTINATION_BUCKET

monitor: files/lambda/storage_monitor.py's own newest_inventory() + read_inventory(), its S3 client
replaced by tests/support/s3_inventory.FolderS3 (the files as boto3 StreamingBody objects).
bare: the floor of the same work, gzip + csv.reader over every data file of the manifest, counting rows.
listing: the listing fallback's CPU, botocore parsing 30 ListObjectVersions answers of 1,000 versions each.
Prints one JSON line: wall and CPU seconds of the read, of the set-up before it (imports, boto3 clients),
and peak RSS (VmHWM, as ru_maxrss) after the set-up and at the end.
"""

import gzip
import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu():
    """(CPU seconds, peak RSS in MB). The peak is VmHWM, this process's own high-water mark: Linux carries
    ru_maxrss across exec, so a child's ru_maxrss starts at its parent's peak (here the generator's)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    status = Path("/proc/self/status")
    hwm = next((int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM:")),
               r.ru_maxrss) if status.exists() else r.ru_maxrss
    return r.ru_utime + r.ru_stime, hwm / 1024  # both in KiB


def _dummy_aws():
    """The monitor makes boto3 clients: a region and dummy credentials, nothing of the caller's AWS settings."""
    from tests.support.environment import AWS_ENV_TO_DROP, DUMMY_CREDENTIALS, REGION

    for name in AWS_ENV_TO_DROP:
        os.environ.pop(name, None)
    os.environ.update(DUMMY_CREDENTIALS, AWS_DEFAULT_REGION=REGION)


def _monitor(root, source, destination):
    _dummy_aws()
    from tests.support.s3_inventory import FolderS3

    spec = importlib.util.spec_from_file_location("index", ROOT / "files" / "lambda" / "storage_monitor.py")
    mon = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mon)
    monitor = mon.Monitor(mon.settings({"BUCKET_NAME": source, "LOGGING_BUCKET": destination}))
    monitor.s3 = FolderS3(root)

    def read():
        found = monitor.newest_inventory()
        if not found:
            raise SystemExit(f"no inventory found: {monitor.alerts}")
        inv = monitor.read_inventory(found)
        if not inv or not inv["complete"] or monitor.alerts:
            raise SystemExit(f"inventory read incomplete: {monitor.alerts}")
        return {"n": dict(inv["n"]), "not_kms": inv["not_kms"], "largest": inv["largest"], "files": inv["files"],
                "date": found["date"].isoformat(), "not_kms_keys": inv["not_kms_keys"][:3]}
    return read


def _bare(root, source, destination):
    import csv

    from tests.support.s3_inventory import report_folder

    folder = Path(root) / report_folder(source)

    def read():
        manifest = json.loads(max(folder.glob("*/manifest.json")).read_text())
        rows = 0
        for f in manifest["files"]:
            with gzip.open(Path(root) / f["key"], "rt", encoding="utf-8", newline="") as text:
                for _ in csv.reader(text):
                    rows += 1
        return {"rows": rows, "files": len(manifest["files"])}
    return read


def _listing(root, source, destination, pages=30):
    """The listing fallback's CPU per page: botocore parsing one 1,000-version ListObjectVersions answer."""
    import boto3

    _dummy_aws()
    s3 = boto3.client("s3")
    model = s3.meta.service_model.operation_model("ListObjectVersions")
    parser = s3._response_parser  # the client's own rest-xml parser
    entry = ("<Version><Key>2026/11/fiction/silent-river-winter-{i}.pdf</Key>"
             "<VersionId>Y8bQ2l1S3ZcZ1YjJtxFQwZ6x.{i:08d}</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-30T09:15:42.000Z</LastModified>"
             "<ETag>&quot;3858f62230ac3c915f300c664312c11f&quot;</ETag><Size>{size}</Size>"
             "<StorageClass>STANDARD</StorageClass><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6"
             "caea54ba06a</ID></Owner></Version>")
    body = ('<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{source}</Name><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>"
            "<NextKeyMarker>k</NextKeyMarker><NextVersionIdMarker>v</NextVersionIdMarker><MaxKeys>1000</MaxKeys>"
            "<IsTruncated>true</IsTruncated>" + "".join(entry.format(i=i, size=1_000_000 + i) for i in range(1000))
            + "</ListVersionsResult>").encode()

    def read():
        versions = 0
        for _ in range(pages):
            parsed = parser.parse({"body": body, "headers": {}, "status_code": 200}, model.output_shape)
            versions += len(parsed["Versions"])
        return {"pages": pages, "versions": versions, "page_bytes": len(body)}
    return read


def main(mode, root, source, destination):
    t0, (c0, _) = time.perf_counter(), _cpu()
    read = {"monitor": _monitor, "bare": _bare, "listing": _listing}[mode](root, source, destination)
    t1, (c1, rss_setup) = time.perf_counter(), _cpu()
    result = read()
    t2, (c2, rss_peak) = time.perf_counter(), _cpu()
    print(json.dumps({"mode": mode, "python": sys.version.split()[0], "setup_wall_s": t1 - t0,
                      "setup_cpu_s": c1 - c0, "wall_s": t2 - t1, "cpu_s": c2 - c1, "rss_setup_mb": rss_setup,
                      "rss_peak_mb": rss_peak, "result": result}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
