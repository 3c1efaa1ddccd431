# Copyright (c) 2026 TAP infrastructure team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure helpers of ebook_restore: version lists, ISO 8601 times, content comparison."""

from __future__ import annotations

import datetime
import re

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_iso8601(text):
    """Parse an ISO 8601 date or date-time into an aware UTC datetime.

    A value without a UTC offset is taken as UTC; a plain date means its
    midnight UTC. Raises ValueError with a message for anything else.
    """
    value = (text or "").strip()
    if not value:
        raise ValueError("empty time")
    if _DATE_ONLY.match(value):
        value += "T00:00:00"
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"'{text}' is not an ISO 8601 time; use e.g. 2026-11-29T08:15:00Z or 2026-11-29T09:15:00+01:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def iso(when):
    """ISO 8601 text of an aware datetime, in UTC with a Z suffix."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def merge_versions(key, versions, delete_markers):
    """Combine ListObjectVersions pages into one newest-first list for *key*.

    ListObjectVersions lists a prefix, so entries of other keys are dropped.
    The current entry (IsLatest) comes first; the rest by LastModified,
    newest first, keeping the service's order between equal times.
    """
    # A delete marker has no size or ETag: the keys of a version entry, with None.
    entries = [
        {
            "version_id": item.get("VersionId"),
            "is_latest": bool(item.get("IsLatest")),
            "last_modified": item.get("LastModified"),
            "size": item.get("Size"),
            "etag": item.get("ETag"),
            "delete_marker": delete_marker,
        }
        for items, delete_marker in ((versions, False), (delete_markers, True))
        for item in items
        if item.get("Key") == key
    ]
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

    def order(entry):
        when = entry["last_modified"] or epoch
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return (0 if entry["is_latest"] else 1, -when.timestamp())

    entries.sort(key=order)
    return entries


def public_versions(entries):
    """The version list as returned to the user (times as ISO 8601 text)."""
    return [dict(entry, last_modified=iso(entry["last_modified"])) for entry in entries]


def current_entry(entries):
    for entry in entries:
        if entry["is_latest"]:
            return entry
    return None


def find_version(entries, version_id):
    for entry in entries:
        if entry["version_id"] == version_id:
            return entry
    return None


def latest_version_before(entries, when):
    """The newest object version (not a delete marker) last modified at or before *when*."""
    for entry in entries:
        if entry["delete_marker"] or entry["last_modified"] is None:
            continue
        modified = entry["last_modified"]
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=datetime.UTC)
        if modified <= when:
            return entry
    return None


def oldest_version(entries):
    real = [entry for entry in entries if not entry["delete_marker"]]
    return real[-1] if real else None


def same_content(head_a, head_b):
    """Whether two HeadObject answers describe the same bytes.

    Decides on the ``sha256`` user metadata when both carry it, then on a
    full-object ChecksumSHA256, then on equal ETags; anything else counts as
    different (so a restore then copies, which is safe).
    """
    meta_a = (head_a.get("Metadata") or {}).get("sha256")
    meta_b = (head_b.get("Metadata") or {}).get("sha256")
    if meta_a and meta_b:
        return meta_a == meta_b
    sum_a = head_a.get("ChecksumSHA256")
    sum_b = head_b.get("ChecksumSHA256")
    if sum_a and sum_b and "-" not in sum_a and "-" not in sum_b:
        return sum_a == sum_b
    etag_a = head_a.get("ETag")
    etag_b = head_b.get("ETag")
    return bool(etag_a) and etag_a == etag_b and head_a.get("ContentLength") == head_b.get("ContentLength")
