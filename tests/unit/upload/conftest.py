"""A versioned bucket and a KMS key in moto for the ebook_upload / ebook_restore tests.

``run`` and ``moto`` come from tests/unit/conftest.py.
"""

from __future__ import annotations

import pytest

REGION = "us-east-1"


@pytest.fixture
def s3(moto):
    import boto3

    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def kms_key_arn(moto):
    import boto3

    kms = boto3.client("kms", region_name=REGION)
    return kms.create_key(Description="ebook test key")["KeyMetadata"]["Arn"]


@pytest.fixture
def bucket(s3):
    name = "ebooks-storage-unit"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
