#!/usr/bin/python

# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# ruff: noqa: E402  (DOCUMENTATION comes before the imports, as in amazon.aws)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ebook_restore
short_description: List the versions of an e-book and restore an earlier one, or undelete it
version_added: 1.0.0
description:
  - Lists the versions and delete markers of one object of the versioned e-book bucket, newest first.
  - With O(version_id) or O(before), makes that version the current one by a server-side C(CopyObject) of it onto
    the same key (C(MetadataDirective=COPY), so C(Content-Type) and the C(sha256) metadata are kept), encrypted
    with SSE-KMS under O(kms_key_id).
  - With O(undelete=true), removes the delete marker(s) on top of the key, so the version below becomes current
    again.
  - Never deletes an object version. The only deletions it makes are of delete markers, and only with
    O(undelete=true) when the current entry is a delete marker.
  - Without O(version_id), O(before) or O(undelete), it only lists.
  - Idempotent. When the chosen version holds the same content as the current object (same C(sha256) metadata,
    full-object SHA-256 checksum or ETag), nothing is copied and RV(ignore:changed) is false.
author:
  - TAP infrastructure team (@tap-infra)
options:
  bucket:
    description:
      - Name of the e-book bucket (stack output C(EbooksBucketName)).
    required: true
    type: str
  key:
    description:
      - Object key of the e-book, for example C(backlog/2026-11/dune.epub).
    required: true
    type: str
  version_id:
    description:
      - Version to make current. Mutually exclusive with O(before) and O(undelete).
    type: str
  before:
    description:
      - ISO 8601 time (for example C(2026-11-29T08:15:00Z)); the newest version last modified at or before it is
        made current. A time without a UTC offset is taken as UTC, a date alone as its midnight UTC.
      - Mutually exclusive with O(version_id) and O(undelete).
    type: str
  undelete:
    description:
      - Remove the delete marker(s) that hide the object, so its newest version is current again.
      - When the object is not deleted, nothing changes (with a warning).
      - Mutually exclusive with O(version_id) and O(before).
    type: bool
    default: false
  kms_key_id:
    description:
      - ARN of the KMS key, or of its alias, to encrypt the restored copy with (stack output C(EncryptionKeyArn)).
      - When omitted, no encryption headers are sent and the bucket's default encryption applies.
    type: str
notes:
  - Supports check mode; it reports what would be restored or undeleted.
  - Objects over 5 GiB cannot be restored by this module (CopyObject limit).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: List the versions of an e-book
  tap.ebook_storage.ebook_restore:
    bucket: "{{ outputs.EbooksBucketName }}"
    key: backlog/2026-11/dune.epub
  register: history

- name: Restore a given version
  tap.ebook_storage.ebook_restore:
    bucket: "{{ outputs.EbooksBucketName }}"
    key: backlog/2026-11/dune.epub
    version_id: 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY
    kms_key_id: "{{ outputs.EncryptionKeyArn }}"

- name: Restore the book as it was yesterday morning
  tap.ebook_storage.ebook_restore:
    bucket: "{{ outputs.EbooksBucketName }}"
    key: backlog/2026-11/dune.epub
    before: "2026-11-28T08:00:00Z"
    kms_key_id: "{{ outputs.EncryptionKeyArn }}"

- name: Bring back a deleted e-book
  tap.ebook_storage.ebook_restore:
    bucket: "{{ outputs.EbooksBucketName }}"
    key: backlog/2026-11/dune.epub
    undelete: true
"""

RETURN = r"""
action:
  description: V(list), V(restore) or V(undelete).
  returned: always
  type: str
  sample: restore
msg:
  description: What was done, or why nothing was.
  returned: always
  type: str
  sample: "Version AbC.1 of backlog/dune.epub restored as the new current version XyZ.2"
source_version_id:
  description: The version that was (or would be) made current.
  returned: when O(version_id) or O(before) is given
  type: str
  sample: 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY
current_version_id:
  description: The current version after the action (null when the key is deleted).
  returned: always
  type: str
  sample: zN8aYxW4kI3lf1lNv1y.7a2zwQmG0_qT
removed_delete_markers:
  description: Version ids of the delete markers removed (or that would be) by O(undelete=true).
  returned: when O(undelete=true)
  type: list
  elements: str
  sample: ["Wn1w3qmhs5kBfyQ1RKk5PO7Y3D.TIvUb"]
versions:
  description:
    - Versions and delete markers of the key after the action (in check mode, as they are), current first,
      then newest first.
  returned: always
  type: list
  elements: dict
  contains:
    version_id:
      description: Version id.
      type: str
    is_latest:
      description: Whether this is the current entry of the key.
      type: bool
    last_modified:
      description: Time of the version, ISO 8601 in UTC.
      type: str
      sample: "2026-11-29T08:15:02Z"
    size:
      description: Size in bytes; null for a delete marker.
      type: int
    etag:
      description: ETag; null for a delete marker.
      type: str
    delete_marker:
      description: Whether the entry is a delete marker.
      type: bool
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AwsSession
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import current_entry
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import find_version
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import iso
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import latest_version_before
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import merge_versions
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import oldest_version
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import parse_iso8601
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import public_versions
from ansible_collections.tap.ebook_storage.plugins.module_utils.ebook_versions import same_content
from ansible_collections.tap.ebook_storage.plugins.module_utils.module_warnings import warn

COPY_LIMIT = 5 * 1024 * 1024 * 1024
MAX_UNDELETE_MARKERS = 100


@AWSRetry.jittered_backoff()
def _list_object_versions(client, bucket, key):
    paginator = client.get_paginator("list_object_versions")
    return paginator.paginate(Bucket=bucket, Prefix=key).build_full_result()


class Restorer:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.bucket = module.params["bucket"]
        self.key = module.params["key"]

    def list_versions(self):
        try:
            pages = _list_object_versions(self.client, self.bucket, self.key)
        except is_boto3_error_code("NoSuchBucket"):
            self.module.fail_json(msg=f"Bucket {self.bucket} does not exist; check the bucket name (stack output)")
        except AWS_ERRORS as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Unable to list the versions of {self.key} in {self.bucket}")
        return merge_versions(self.key, pages.get("Versions", []), pages.get("DeleteMarkers", []))

    def head(self, version_id):
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key, VersionId=version_id, aws_retry=True)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Unable to read version {version_id} of {self.key}")

    def copy(self, version_id):
        args = dict(
            Bucket=self.bucket,
            Key=self.key,
            CopySource={"Bucket": self.bucket, "Key": self.key, "VersionId": version_id},
            MetadataDirective="COPY",
            ChecksumAlgorithm="SHA256",
        )
        kms_key_id = self.module.params["kms_key_id"]
        if kms_key_id:
            args.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
        try:
            return self.client.copy_object(aws_retry=True, **args)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Unable to restore version {version_id} of {self.key}")

    def delete_marker(self, entries, version_id):
        """Delete one delete marker. Refuses anything that the listing does not show as a delete marker."""
        entry = find_version(entries, version_id)
        if entry is None or not entry["delete_marker"]:
            self.module.fail_json(msg=f"Refusing to delete {version_id}: it is not a delete marker of {self.key}")
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version_id, aws_retry=True)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Unable to remove the delete marker {version_id} of {self.key}")


def _choose(module, entries):
    """Return the version entry chosen by version_id or before; fail with a clear message otherwise."""
    params = module.params
    key = params["key"]
    if params["version_id"]:
        entry = find_version(entries, params["version_id"])
        if entry is None:
            module.fail_json(
                msg=(
                    f"version_id {params['version_id']} does not exist for key {key} in bucket {params['bucket']}; "
                    "run without version_id, before and undelete to list the versions"
                ),
                versions=public_versions(entries),
            )
        if entry["delete_marker"]:
            module.fail_json(
                msg=(
                    f"version_id {params['version_id']} of {key} is a delete marker, not a version; "
                    "use undelete=true to bring the object back, or pick a version that is not a delete marker"
                ),
                versions=public_versions(entries),
            )
        return entry
    try:
        when = parse_iso8601(params["before"])
    except ValueError as exc:
        module.fail_json(msg=f"before: {exc}")
    entry = latest_version_before(entries, when)
    if entry is None:
        oldest = oldest_version(entries)
        hint = (
            f"the oldest version of {key} is from {iso(oldest['last_modified'])}; give a later time"
            if oldest
            else f"{key} has no versions in bucket {params['bucket']}"
        )
        module.fail_json(
            msg=f"before={params['before']}: no version of {key} was written at or before {iso(when)}; {hint}",
            versions=public_versions(entries),
        )
    return entry


def _restore(module, restorer, entries):
    key = module.params["key"]
    source = _choose(module, entries)
    current = current_entry(entries)
    result = dict(action="restore", source_version_id=source["version_id"])
    if current is not None and not current["delete_marker"]:
        if current["version_id"] == source["version_id"]:
            return dict(result, changed=False, msg=f"Version {source['version_id']} of {key} is already current")
        if same_content(restorer.head(source["version_id"]), restorer.head(current["version_id"])):
            return dict(
                result,
                changed=False,
                msg=(
                    f"The current version {current['version_id']} of {key} already holds the content of "
                    f"version {source['version_id']}"
                ),
            )
    if (source["size"] or 0) > COPY_LIMIT:
        module.fail_json(
            msg=f"Version {source['version_id']} of {key} is over 5 GiB; CopyObject cannot restore it",
            versions=public_versions(entries),
        )
    if module.check_mode:
        return dict(result, changed=True, msg=f"Would restore version {source['version_id']} of {key}")
    response = restorer.copy(source["version_id"])
    return dict(
        result,
        changed=True,
        msg=f"Version {source['version_id']} of {key} restored as the new current version {response.get('VersionId')}",
    )


def _undelete(module, restorer, entries):
    key = module.params["key"]
    current = current_entry(entries)
    result = dict(action="undelete", removed_delete_markers=[])
    if current is None:
        module.fail_json(
            msg=f"undelete: {key} has no versions and no delete markers in bucket {module.params['bucket']}; "
            "check the key (list the bucket with a prefix to find it)",
        )
    if not current["delete_marker"]:
        warn(f"undelete: {key} is not deleted (its current version is {current['version_id']}); nothing to do")
        return dict(result, changed=False, msg=f"{key} is not deleted; nothing to undelete")
    if not any(not entry["delete_marker"] for entry in entries):
        module.fail_json(
            msg=f"undelete: {key} has only delete markers and no version to bring back; use the upload instead",
            versions=public_versions(entries),
        )
    if module.check_mode:
        markers = [entry["version_id"] for entry in entries if entry["delete_marker"] and entry["is_latest"]]
        return dict(
            result,
            changed=True,
            removed_delete_markers=markers,
            msg=f"Would remove the delete marker {markers[0]} of {key}",
        )
    removed = []
    # Remove the current delete marker until a version is current again (a key deleted twice has two on top).
    for _attempt in range(MAX_UNDELETE_MARKERS):
        current = current_entry(entries)
        if current is None or not current["delete_marker"]:
            break
        restorer.delete_marker(entries, current["version_id"])
        removed.append(current["version_id"])
        entries = restorer.list_versions()
    return dict(
        result,
        changed=True,
        removed_delete_markers=removed,
        msg=f"Removed {len(removed)} delete marker(s) of {key}",
    )


def main():
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        key=dict(type="str", required=True, no_log=False),
        version_id=dict(type="str"),
        before=dict(type="str"),
        undelete=dict(type="bool", default=False),
        kms_key_id=dict(type="str", no_log=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    chosen = [name for name in ("version_id", "before", "undelete") if params[name] not in (None, "", False)]
    if len(chosen) > 1:
        module.fail_json(
            msg=f"Give at most one of version_id, before and undelete (got {', '.join(chosen)}); nothing was changed"
        )
    if not params["key"]:
        module.fail_json(msg="key must not be empty")

    restorer = Restorer(module, AwsSession(module).client("s3"))
    entries = restorer.list_versions()

    if not chosen:
        current = current_entry(entries)
        markers = sum(1 for entry in entries if entry["delete_marker"])
        counts = f"{len(entries) - markers} version(s), {markers} delete marker(s)"
        if not entries:
            msg = f"{params['key']} has no versions in bucket {params['bucket']}"
        elif current["delete_marker"]:
            msg = f"{params['key']}: {counts}; it is deleted (the current entry is a delete marker)"
        else:
            msg = f"{params['key']}: {counts}; current version {current['version_id']}"
        module.exit_json(
            changed=False,
            action="list",
            msg=msg,
            current_version_id=current["version_id"] if current and not current["delete_marker"] else None,
            versions=public_versions(entries),
        )

    action = _undelete if params["undelete"] else _restore
    result = action(module, restorer, entries)

    if result["changed"] and not module.check_mode:
        entries = restorer.list_versions()
    current = current_entry(entries)
    result["current_version_id"] = current["version_id"] if current and not current["delete_marker"] else None
    result["versions"] = public_versions(entries)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
