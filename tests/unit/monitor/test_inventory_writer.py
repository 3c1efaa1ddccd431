"""tests/support/s3_inventory.py writes an inventory report as S3 does: layout, manifest, CSV fields."""

import gzip
import hashlib
import json
import random
from datetime import UTC, datetime
from urllib.parse import unquote_plus

import boto3

from tests.support import s3_inventory as inv

from .support import DATA_BUCKET, LOG_BUCKET, REGION

WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ODD_KEYS = ("2026/12/fiction/War and Peace-1.pdf", "2026/12/math/C++ + notes-2.epub",
            "2026/12/fr/Les Misérables-3.mobi", "2026/12/de/Straße & Co (100%)-4.pdf")


def _versions():
    t = datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=UTC)
    return [
        inv.Version("2026/12/fiction/a-1.pdf", "v2", True, False, 2_000_000, t),
        inv.Version("2026/12/fiction/a-1.pdf", "v1", False, False, 1_500_000, "2026-11-29T08:00:00.000Z",
                    "SSE-S3", False),
        inv.Version("2026/12/fiction/b-2.epub", "dm1", True, True, 0, t, "NOT-SSE", False),
        inv.Version("2026/12/fiction/b-2.epub", "v3", False, False, 3_000_000, t),
        *(inv.Version(k, f"o{i}", True, False, 1_000 + i, t) for i, k in enumerate(ODD_KEYS)),
    ]


def _write(records, **kwargs):
    store = {}
    report = inv.write_inventory(store.__setitem__, records, source_bucket=DATA_BUCKET,
                                 destination_bucket=LOG_BUCKET, when=WHEN, rng=random.Random(1), **kwargs)
    return store, report


def test_layout_manifest_and_checksum():
    store, report = _write(_versions(), rows_per_file=3)
    folder = f"inventory/{DATA_BUCKET}/daily/"
    assert report.folder == folder
    assert report.manifest_key == f"{folder}2026-12-01T10-00Z/manifest.json"
    body = store[report.manifest_key]
    assert store[f"{folder}2026-12-01T10-00Z/manifest.checksum"] == hashlib.md5(body).hexdigest().encode()
    manifest = json.loads(body)
    assert manifest == report.manifest
    assert {k: manifest[k] for k in ("sourceBucket", "destinationBucket", "version", "creationTimestamp",
                                     "fileFormat", "fileSchema")} == {
        "sourceBucket": DATA_BUCKET, "destinationBucket": f"arn:aws:s3:::{LOG_BUCKET}", "version": "2016-11-30",
        "creationTimestamp": str(int(WHEN.timestamp() * 1000)), "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, EncryptionStatus, "
                      "BucketKeyStatus"}
    # 8 rows, 3 a file: three data files, each listed with its size and MD5
    assert report.rows == 8 and len(manifest["files"]) == 3
    for f in manifest["files"]:
        assert f["key"].startswith(f"{folder}data/") and f["key"].endswith(".csv.gz")
        assert f["size"] == len(store[f["key"]])
        assert f["MD5checksum"] == hashlib.md5(store[f["key"]]).hexdigest()
    symlink = store[f"{folder}hive/dt=2026-12-01-10-00/symlink.txt"].decode().splitlines()
    assert symlink == [f"s3://{LOG_BUCKET}/{f['key']}" for f in manifest["files"]]


def test_rows_are_quoted_csv_in_schema_order():
    store, report = _write(_versions())
    (f,) = report.manifest["files"]
    text = gzip.decompress(store[f["key"]]).decode()
    lines = text.splitlines()
    assert len(lines) == 8 and text.endswith("\n")  # no header line
    assert lines[0] == (f'"{DATA_BUCKET}","2026/12/fiction/a-1.pdf","v2","true","false","2000000",'
                        '"2026-11-30T09:15:42.123Z","SSE-KMS","ENABLED"')
    assert lines[1].endswith('"false","false","1500000","2026-11-29T08:00:00.000Z","SSE-S3","DISABLED"')
    # a delete marker: IsDeleteMarker true, Size empty
    assert lines[2] == (f'"{DATA_BUCKET}","2026/12/fiction/b-2.epub","dm1","true","true","",'
                        '"2026-11-30T09:15:42.123Z","NOT-SSE","DISABLED"')
    rows = inv.read_rows(store[f["key"]])
    assert all(len(r) == len(inv.SCHEMA) for r in rows)


def test_keys_are_url_encoded_as_s3_writes_them():
    store, report = _write(_versions())
    rows = inv.read_rows(store[report.manifest["files"][0]["key"]])
    written = [r[1] for r in rows[4:]]
    assert written == ["2026/12/fiction/War+and+Peace-1.pdf", "2026/12/math/C%2B%2B+%2B+notes-2.epub",
                       "2026/12/fr/Les+Mis%C3%A9rables-3.mobi", "2026/12/de/Stra%C3%9Fe+%26+Co+%28100%25%29-4.pdf"]
    assert [unquote_plus(k) for k in written] == list(ODD_KEYS)


def test_empty_bucket_gets_one_empty_data_file():
    store, report = _write([])
    (f,) = report.manifest["files"]
    assert report.rows == 0 and gzip.decompress(store[f["key"]]) == b""


def test_streams_an_iterator_and_names_files_reproducibly():
    one, r1 = _write(iter(_versions()), rows_per_file=5)
    two, r2 = _write(_versions(), rows_per_file=5)
    assert r1.manifest == r2.manifest and one == two


def test_folder_stand_in_serves_what_the_monitor_reads(tmp_path):
    report = inv.write_inventory(inv.put_into_folder(tmp_path), _versions(), source_bucket=DATA_BUCKET,
                                 destination_bucket=LOG_BUCKET, when=WHEN, rows_per_file=5)
    s3 = inv.FolderS3(tmp_path)
    (page,) = s3.get_paginator("list_objects_v2").paginate(Bucket=LOG_BUCKET, Prefix=report.folder, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == [
        f"{report.folder}{n}/" for n in ("2026-12-01T10-00Z", "data", "hive")]
    body = s3.get_object(Bucket=LOG_BUCKET, Key=report.manifest_key)["Body"].read()
    assert json.loads(body) == report.manifest
    with gzip.open(s3.get_object(Bucket=LOG_BUCKET, Key=report.manifest["files"][1]["key"])["Body"], "rt") as f:
        assert len(f.read().splitlines()) == 3


def test_monitor_reads_the_written_report(tmp_path, mon, monkeypatch):
    """The monitor's inventory reading over the folder stand-in gives the totals of the records."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    inv.write_inventory(inv.put_into_folder(tmp_path), _versions(), source_bucket=DATA_BUCKET,
                        destination_bucket=LOG_BUCKET, when=WHEN, rows_per_file=3)
    monitor = mon.Monitor(mon.settings({"BUCKET_NAME": DATA_BUCKET, "LOGGING_BUCKET": LOG_BUCKET}))
    monitor.s3 = inv.FolderS3(tmp_path)
    found = monitor.newest_inventory()
    assert found["date"] == WHEN
    got = monitor.read_inventory(found)
    n = got["n"]
    assert (n["pdf"], n["epub"], n["mobi"], n["other"]) == (3, 1, 1, 0)
    assert (n["pdf_bytes"], n["nc"], n["nc_bytes"], n["dm"]) == (2_000_000 + 1_000 + 1_003, 2, 4_500_000, 1)
    assert got["not_kms"] == 1 and got["files"] == 3 and got["complete"]


def test_records_from_a_bucket(moto):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=DATA_BUCKET, Key="a b.pdf", Body=b"1", ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=DATA_BUCKET, Key="a b.pdf", Body=b"22", ServerSideEncryption="AES256")
    s3.put_object(Bucket=DATA_BUCKET, Key="c.epub", Body=b"333")
    s3.delete_object(Bucket=DATA_BUCKET, Key="c.epub")
    records = sorted(inv.records_from_bucket(s3, DATA_BUCKET), key=lambda v: (v.key, not v.is_latest))
    assert [(v.key, v.is_latest, v.is_delete_marker, v.size, v.encryption) for v in records] == [
        ("a b.pdf", True, False, 2, "SSE-S3"), ("a b.pdf", False, False, 1, "SSE-KMS"),
        ("c.epub", True, True, 0, "NOT-SSE"), ("c.epub", False, False, 3, "NOT-SSE")]
    s3.create_bucket(Bucket=LOG_BUCKET)
    report = inv.write_inventory(inv.put_into_bucket(s3, LOG_BUCKET), records, source_bucket=DATA_BUCKET,
                                 destination_bucket=LOG_BUCKET, when=WHEN)
    body = s3.get_object(Bucket=LOG_BUCKET, Key=report.manifest["files"][0]["key"])["Body"].read()
    assert [r[1] for r in inv.read_rows(body)] == ["a+b.pdf", "a+b.pdf", "c.epub", "c.epub"]
