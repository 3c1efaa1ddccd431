"""An S3 Inventory report written as S3 writes one, for the monitor's tests and its benchmark.

The layout is AWS's documented one for a CSV inventory ("Locating your inventory list" and "Amazon S3
Inventory list" in the S3 User Guide):

    <prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/manifest.json
    <prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/manifest.checksum   (MD5 of manifest.json)
    <prefix>/<source bucket>/<config id>/hive/dt=<YYYY-MM-DD-HH-MM>/symlink.txt  (the data files' s3:// URLs)
    <prefix>/<source bucket>/<config id>/data/<uuid>.csv.gz

The manifest names its source bucket, the destination bucket as an ARN, version "2016-11-30", the
creation time in milliseconds as a string, fileFormat "CSV", the fileSchema (the column names, joined by
", ") and the data files with key, size and MD5checksum. A data file is gzip CSV without a header line,
every field double-quoted, the key URL-encoded (a space as "+", as S3 does; decode with unquote_plus), Size
empty for a delete marker, LastModifiedDate like 2026-12-01T10:00:00.000Z, EncryptionStatus SSE-KMS,
SSE-S3, SSE-C, DSSE-KMS or NOT-SSE, BucketKeyStatus ENABLED or DISABLED. S3 splits a large inventory into
several data files; `rows_per_file` does the same here.

Writing goes through a `put(key, body_bytes)` callable: `put_into_bucket` (moto, LocalStack),
`put_into_folder` (the benchmark). `records_from_bucket` builds the records of a live bucket from
ListObjectVersions and HeadObject, and `FolderS3` serves a folder to the monitor's inventory reading in
place of its S3 client. Plain Python (boto3 and the standard library), like the rest of tests/support.
"""

import csv
import gzip
import hashlib
import io
import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote_plus

# The columns of the stack's inventory (files/TapStack.yml, InventoryConfigurations: the fixed Bucket, Key,
# VersionId, IsLatest, IsDeleteMarker, then its OptionalFields in S3's order).
SCHEMA = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate",
          "EncryptionStatus", "BucketKeyStatus")
FILE_SCHEMA = ", ".join(SCHEMA)
MANIFEST_VERSION = "2016-11-30"
PREFIX, CONFIG_ID = "inventory", "daily"  # the template's Destination Prefix and inventory Id
ROWS_PER_FILE = 1_000_000  # rows per data file (S3 documents no figure; it splits large inventories)
# HeadObject's ServerSideEncryption (None: none) -> the inventory's EncryptionStatus
ENCRYPTION = {"aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS", "AES256": "SSE-S3", None: "NOT-SSE"}


class Version(NamedTuple):
    """One version (or delete marker) of the source bucket, as its inventory row describes it.

    last_modified: a datetime (any timezone; written in UTC) or a string already in the inventory's
    form. size is ignored for a delete marker (written empty)."""

    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    size: int
    last_modified: datetime | str
    encryption: str = "SSE-KMS"
    bucket_key: bool = True


class Report(NamedTuple):
    """What `write_inventory` wrote: the manifest's key and content, and the rows written."""

    manifest_key: str
    manifest: dict
    rows: int
    folder: str  # <prefix>/<source bucket>/<config id>/


def encode_key(key):
    """A key as the CSV inventory writes it: URL-encoded, a space as "+" (unquote_plus gives it back)."""
    return quote_plus(key, safe="/")


def timestamp(value):
    """LastModifiedDate as the inventory writes it: 2026-12-01T10:00:00.000Z."""
    if isinstance(value, str):
        return value
    value = value.astimezone(UTC) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def row(bucket, version):
    """The CSV fields of one version, in SCHEMA's order."""
    v = version
    return (bucket, encode_key(v.key), v.version_id, "true" if v.is_latest else "false",
            "true" if v.is_delete_marker else "false", "" if v.is_delete_marker else str(v.size),
            timestamp(v.last_modified), v.encryption, "ENABLED" if v.bucket_key else "DISABLED")


def report_folder(source_bucket, prefix=PREFIX, config_id=CONFIG_ID):
    return f"{prefix}/{source_bucket}/{config_id}/" if prefix else f"{source_bucket}/{config_id}/"


def write_inventory(put, records, *, source_bucket, destination_bucket, when=None, prefix=PREFIX,
                    config_id=CONFIG_ID, rows_per_file=ROWS_PER_FILE, compresslevel=6, rng=None):
    """Write the report of `records` (Version tuples, any iterable, streamed) through put(key, bytes):
    the data files first, then the manifest, its checksum and the Hive symlink, as S3 delivers them.

    when: the report's time (the folder's name, creationTimestamp), default now. rng: a random.Random
    for the data files' names (reproducible output), else random UUIDs. Returns a Report."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    rng = rng or random.Random()
    folder = report_folder(source_bucket, prefix, config_id)
    files, total, chunk = [], 0, []

    def flush():
        raw = io.BytesIO()
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0) as gz, \
                io.TextIOWrapper(gz, encoding="utf-8", newline="") as text:
            csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(chunk)
        body = raw.getvalue()
        key = f"{folder}data/{uuid.UUID(int=rng.getrandbits(128), version=4)}.csv.gz"
        put(key, body)
        files.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
        chunk.clear()

    for version in records:
        chunk.append(row(source_bucket, version))
        total += 1
        if len(chunk) >= rows_per_file:
            flush()
    if chunk or not files:  # an empty bucket still gets one (empty) data file
        flush()
    manifest = {
        "sourceBucket": source_bucket, "destinationBucket": f"arn:aws:s3:::{destination_bucket}",
        "version": MANIFEST_VERSION, "creationTimestamp": str(int(when.timestamp() * 1000)),
        "fileFormat": "CSV", "fileSchema": FILE_SCHEMA, "files": files}
    body = json.dumps(manifest, indent=4).encode()
    manifest_key = f"{folder}{when:%Y-%m-%dT%H-%MZ}/manifest.json"
    put(manifest_key, body)
    put(f"{folder}{when:%Y-%m-%dT%H-%MZ}/manifest.checksum", hashlib.md5(body).hexdigest().encode())
    put(f"{folder}hive/dt={when:%Y-%m-%d-%H-%M}/symlink.txt",
        "".join(f"s3://{destination_bucket}/{f['key']}\n" for f in files).encode())
    return Report(manifest_key, manifest, total, folder)


def read_rows(data):
    """The rows of one data file (gzip bytes), for tests."""
    return list(csv.reader(io.StringIO(gzip.decompress(data).decode("utf-8"), newline="")))


# --------------------------------------------------------------------------- where it is written


def put_into_bucket(s3, bucket):
    """put(key, bytes) into a bucket with a boto3 S3 client (moto, LocalStack)."""
    def put(key, body):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return put


def put_into_folder(root):
    """put(key, bytes) into files under root (the key's slashes as folders)."""
    root = Path(root)

    def put(key, body):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return put


def records_from_bucket(s3, bucket, prefix=""):
    """The Version records of a live bucket: every version and delete marker from ListObjectVersions,
    each version's encryption and bucket-key status from HeadObject (one call per version)."""
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            head = s3.head_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            enc = "SSE-C" if head.get("SSECustomerAlgorithm") else ENCRYPTION.get(head.get("ServerSideEncryption"),
                                                                                  "NOT-SSE")
            out.append(Version(v["Key"], v["VersionId"], bool(v.get("IsLatest")), False, v.get("Size", 0),
                               v["LastModified"], enc, bool(head.get("BucketKeyEnabled"))))
        out += [Version(d["Key"], d["VersionId"], bool(d.get("IsLatest")), True, 0, d["LastModified"],
                        "NOT-SSE", False) for d in page.get("DeleteMarkers", [])]
    return out


class FolderS3:
    """The S3 calls with which the monitor finds and reads an inventory (list_objects_v2 with a Delimiter
    through get_paginator, get_object), served from a folder that `put_into_folder` filled. The bucket
    name is ignored. Bodies are botocore StreamingBody objects over the open files, as boto3 returns them.
    """

    def __init__(self, root):
        self.root = Path(root)

    def get_object(self, Bucket, Key):  # boto3 parameter names
        from botocore.exceptions import ClientError
        from botocore.response import StreamingBody

        path = self.root / Key
        if not path.is_file():
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        size = path.stat().st_size
        return {"Body": StreamingBody(path.open("rb"), size), "ContentLength": size}

    def get_paginator(self, operation):
        if operation != "list_objects_v2":
            raise NotImplementedError(operation)
        return self

    def paginate(self, Bucket, Prefix="", Delimiter="/", **_):
        """One page: the sub-folders of Prefix (a folder, ending in "/") as CommonPrefixes."""
        if Delimiter != "/" or (Prefix and not Prefix.endswith("/")):
            raise NotImplementedError("FolderS3 lists a folder's sub-folders only (Prefix ending in /, Delimiter /)")
        folder = self.root / Prefix
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{n}/"} for n in names], "KeyCount": len(names)}
