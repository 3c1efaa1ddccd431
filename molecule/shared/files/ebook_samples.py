#!/usr/bin/env python3
"""Upload sample e-books to a deployed stack, and read every version of them back.

    ebook_samples.py upload STACK_NAME MANIFEST
    ebook_samples.py read MANIFEST

upload: reads the stack (StackId, outputs EbooksBucketName and
EncryptionKeyArn), puts a PDF, an EPUB and a MOBI under PREFIX as a publisher
does (SSE-KMS with the stack's key) and a second, different PDF over the
first, so that the bucket holds a noncurrent version too. Writes MANIFEST and
prints it: {"stack_id", "bucket", "versions": {"<key>@<version id>": SHA-256
of the bytes uploaded}, "latest": {"<key>": version id}}.

read: lists every version and delete marker under PREFIX in the manifest's
bucket, downloads each version by its id and prints {"versions": {"<key>@<version
id>": SHA-256 of the bytes read back}, "latest": {"<key>": current version id},
"delete_markers": ["<key>@<version id>", ...]}. It compares nothing: the
caller compares the two.

The sample e-books and their digests come from tests/support/ebooks.py, as
in the test suites. Endpoint, region and credentials come from the AWS_*
environment variables.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.ebooks import sample_epub, sample_mobi, sample_pdf, sha256  # noqa: E402

PREFIX = "ebook-molecule/update/"
# (key, content type, bytes) in upload order: the second PDF lands over the first, as a new version.
SAMPLES = (
    (f"{PREFIX}dune.pdf", "application/pdf", sample_pdf("Dune")),
    (f"{PREFIX}emma.epub", "application/epub+zip", sample_epub("Emma")),
    (f"{PREFIX}ulysses.mobi", "application/x-mobipocket-ebook", sample_mobi("Ulysses")),
    (f"{PREFIX}dune.pdf", "application/pdf", sample_pdf("Dune, revised")),
)


def upload(stack_name, manifest):
    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    bucket, s3 = outputs["EbooksBucketName"], boto3.client("s3")
    written = {"stack_id": stack["StackId"], "bucket": bucket, "versions": {}, "latest": {}}
    for key, content_type, body in SAMPLES:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                               ServerSideEncryption="aws:kms", SSEKMSKeyId=outputs["EncryptionKeyArn"])
        written["versions"][f"{key}@{answer['VersionId']}"] = sha256(body)
        written["latest"][key] = answer["VersionId"]
    Path(manifest).write_text(json.dumps(written, indent=1))
    return written


def read(manifest):
    bucket, s3 = json.loads(Path(manifest).read_text())["bucket"], boto3.client("s3")
    found = {"versions": {}, "latest": {}, "delete_markers": []}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=PREFIX):
        for marker in page.get("DeleteMarkers", []):
            found["delete_markers"].append(f"{marker['Key']}@{marker['VersionId']}")
        for version in page.get("Versions", []):
            key, version_id = version["Key"], version["VersionId"]
            body = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
            found["versions"][f"{key}@{version_id}"] = sha256(body)
            if version.get("IsLatest"):
                found["latest"][key] = version_id
    return found


def main(argv):
    if len(argv) == 3 and argv[0] == "upload":
        result = upload(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "read":
        result = read(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
