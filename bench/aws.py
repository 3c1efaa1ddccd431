"""boto3 clients for a LocalStack endpoint."""

import boto3
from botocore.config import Config

from bench import config


def endpoint(port):
    return f"http://localhost:{port}"


def client(service, port, pool=32, read_timeout=60, attempts=3):
    extra = {"s3": {"addressing_style": "path"}} if service == "s3" else {}
    cfg = Config(max_pool_connections=pool, read_timeout=read_timeout, connect_timeout=5,
                 retries={"mode": "standard", "max_attempts": attempts}, **extra)
    return boto3.client(service, endpoint_url=endpoint(port), region_name=config.REGION,
                        aws_access_key_id=config.CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=config.CREDENTIALS["AWS_SECRET_ACCESS_KEY"], config=cfg)


def purge_bucket(s3, bucket, prefix="", delete_bucket=False):
    """Delete every version and delete marker (under `prefix`); optionally the bucket too. Missing: no-op."""
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        # List first, then delete: deleting while paginating would move the markers.
        entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for page in pages for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(entries), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": entries[start:start + 1000], "Quiet": True})
        if delete_bucket:
            s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        return
