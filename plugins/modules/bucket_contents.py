#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bucket_contents
short_description: Count, or delete, every version in an S3 bucket
version_added: 1.0.0
description:
  - Counts the current objects, all object versions and the delete markers of a versioned bucket.
  - With O(state=absent), deletes every version and delete marker, and the bucket itself with O(delete_bucket=true).
  - The teardown of dev and test uses it; it refuses nothing by itself, the role decides whether deleting is allowed.
author:
  - TAP infrastructure team (@tap-infra)
options:
  bucket:
    description: Name of the bucket.
    required: true
    type: str
  state:
    description:
      - V(present) only counts.
      - V(absent) deletes every object version and delete marker.
    choices: [present, absent]
    default: present
    type: str
  delete_bucket:
    description: With O(state=absent), delete the emptied bucket too.
    default: false
    type: bool
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Count what the data bucket holds
  tap.ebook_storage.bucket_contents:
    bucket: ebooks-storage-dev
  register: contents

- name: Delete every version, then the bucket
  tap.ebook_storage.bucket_contents:
    bucket: ebooks-storage-test
    state: absent
    delete_bucket: true
"""

RETURN = r"""
bucket:
  description: Name of the bucket.
  returned: always
  type: str
exists:
  description: Whether the bucket existed when the module started.
  returned: always
  type: bool
objects:
  description: Current objects (latest versions that are not delete markers).
  returned: always
  type: int
versions:
  description: Object versions, current and noncurrent.
  returned: always
  type: int
delete_markers:
  description: Delete markers.
  returned: always
  type: int
bytes:
  description: Size of all object versions in bytes.
  returned: always
  type: int
deleted:
  description: Versions and delete markers deleted (or that would be, in check mode).
  returned: always
  type: int
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession

# DeleteObjects takes at most 1000 keys a request.
DELETE_BATCH = 1000


def list_versions(s3, bucket):
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 1000}):
        for version in page.get("Versions", []):
            yield "version", version
        for marker in page.get("DeleteMarkers", []):
            yield "marker", marker


def count_and_collect(s3, bucket):
    counts = dict(objects=0, versions=0, delete_markers=0, bytes=0)
    entries = []
    for kind, item in list_versions(s3, bucket):
        entries.append({"Key": item["Key"], "VersionId": item["VersionId"]})
        if kind == "marker":
            counts["delete_markers"] += 1
            continue
        counts["versions"] += 1
        counts["bytes"] += item.get("Size", 0)
        if item.get("IsLatest"):
            counts["objects"] += 1
    return counts, entries


def delete_entries(module, s3, bucket, entries):
    for start in range(0, len(entries), DELETE_BATCH):
        batch = entries[start:start + DELETE_BATCH]
        response = s3.delete_objects(
            aws_retry=True, Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:
            example = f"{errors[0].get('Key')}: {errors[0].get('Message')}"
            msg = f"Could not delete {len(errors)} versions from {bucket}, e.g. {example}"
            module.fail_json(msg=msg, errors=errors)


def delete_bucket(s3, bucket):
    # A retried DeleteBucket whose first attempt went through finds no bucket:
    # that is the outcome asked for, not an error.
    try:
        s3.delete_bucket(aws_retry=True, Bucket=bucket)
    except is_boto3_error_code("NoSuchBucket"):
        pass


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            bucket=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            delete_bucket=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    bucket = module.params["bucket"]
    s3 = AwsSession(module).client("s3")
    result = dict(
        changed=False, bucket=bucket, exists=True, objects=0, versions=0, delete_markers=0, bytes=0, deleted=0
    )

    try:
        counts, entries = count_and_collect(s3, bucket)
    except is_boto3_error_code("NoSuchBucket"):
        result["exists"] = False
        module.exit_json(**result)
    except AWS_ERRORS as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Could not list the versions in bucket {bucket}")
    result.update(counts)

    if module.params["state"] == "absent":
        result["deleted"] = len(entries)
        result["changed"] = bool(entries) or module.params["delete_bucket"]
        if not module.check_mode:
            try:
                delete_entries(module, s3, bucket, entries)
                if module.params["delete_bucket"]:
                    delete_bucket(s3, bucket)
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"Could not empty or delete bucket {bucket}")

    module.exit_json(**result)


if __name__ == "__main__":
    main()
