# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's buckets compared with what its template declares and, when asked, put back.

``reconcile_buckets`` is the one loop over the buckets' settings: it reads each setting the template
manages (bucket_settings), compares it with the declared one and, when asked to write, puts it back as
declared. Two callers use it:

* the LocalStack parity step (localstack_parity.apply_parity), which writes every setting that differs,
  because LocalStack's CloudFormation drops them on create;
* ``bucket_drift``, on AWS, where CloudFormation applies the settings but never undoes a change made
  outside it (a suspended versioning, another default encryption, a public access block turned off): it
  reports such drift and repairs it only when asked (``repair``).
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings as bs
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.kms_keys import KeyResolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_resources import StackParts

ACL_DISABLED_ERRORS = ("AccessControlListNotSupported", "InvalidBucketAclWithObjectOwnership")


def put_acl(session, bucket, canned, notes):
    try:
        bs.put_setting(session, bucket, "acl", canned)
    except AWS_ERRORS as e:
        if error_code(e) not in ACL_DISABLED_ERRORS:
            raise
        bs.put_setting(session, bucket, "ownership", "ObjectWriter")
        bs.put_setting(session, bucket, "acl", canned)
        notes.append(f"{bucket}: ownership set to ObjectWriter to replace the ACL, then set as declared")


def bucket_targets(model, parts):
    """[(part, bucket name, desired settings)], the log bucket first: the data bucket's logging needs its target.

    Raises TemplateResolutionError when the template has no data bucket or a bucket has no physical id.
    """
    if not parts.data_bucket:
        raise TemplateResolutionError("Outputs.EbooksBucketName", "cannot find the data bucket in the template")
    buckets = []
    for part, logical_id in (("logging_bucket", parts.logging_bucket), ("data_bucket", parts.data_bucket)):
        if not logical_id:
            continue
        name = parts.name(logical_id)
        if not name:
            raise TemplateResolutionError(f"Resources.{logical_id}", "the stack has no physical id for this bucket")
        buckets.append((part, name, bs.desired_settings(model.properties(logical_id), name)))
    return buckets


def reconcile_buckets(module, session, keys, targets, found, notes, written=None, failure=dict):
    """Compare every setting the template manages on each of ``targets`` (see bucket_targets) with the live one.

    Each one that differs is appended to ``found`` as ``<part>.<setting>``. With ``written`` (a list) it is
    also put back as declared and appended there; in check mode it is only appended (what would be written).
    An AWS error fails the module with ``failure()`` (what was found and written so far).
    """
    for part, bucket, desired in targets:
        for setting in bs.SETTING_NAMES:
            if not bs.managed(setting, desired):
                continue
            want = desired[setting]
            try:
                live = bs.read_setting(session, bucket, setting)
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"cannot read {setting} of bucket {bucket}", **failure())
            if bs.setting_matches(setting, want, live, keys):
                continue
            found.append(f"{part}.{setting}")
            if written is None:
                continue
            if not module.check_mode:
                try:
                    if setting == "acl":
                        put_acl(session, bucket, want, notes)
                        bs.forget_setting(session, bucket, "ownership")
                    else:
                        bs.put_setting(session, bucket, setting, want)
                except AWS_ERRORS as e:
                    module.fail_json_aws(e, msg=f"cannot apply {setting} to bucket {bucket}", **failure())
            written.append(f"{part}.{setting}")


def bucket_plan(session, model):
    """(StackParts, bucket targets, KeyResolver) of a loaded stack; raises TemplateResolutionError."""
    parts = StackParts(model)
    targets = bucket_targets(model, parts)
    return parts, targets, KeyResolver(session, model.region, model.account_id, model.partition)


def bucket_drift(module, session, model, repair):
    """The buckets' settings that differ from the template (changed outside CloudFormation); with ``repair``
    put back as declared (in check mode: listed, not written).

    Returns {found, repaired, notes, buckets}: ``found`` and ``repaired`` as ``<part>.<setting>``, ``buckets``
    the bucket name of each part. Raises TemplateResolutionError like bucket_targets.
    """
    _parts, targets, keys = bucket_plan(session, model)
    found, notes = [], []
    repaired = [] if repair else None

    def failure():
        return {"drift": {"found": found, "repaired": repaired or [], "notes": notes}}

    reconcile_buckets(module, session, keys, targets, found, notes, written=repaired, failure=failure)
    return {
        "found": found,
        "repaired": repaired or [],
        "notes": notes,
        "buckets": {part: name for part, name, _desired in targets},
    }
