# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Desired S3 bucket settings derived from a resolved AWS::S3::Bucket, and the live ones.

``desired_settings`` turns the bucket's resolved template properties into the
shapes the S3 API takes; ``read_setting`` reads one setting from S3 in the same
shape (``None`` when the bucket has none); ``normalize`` makes both comparable;
``put_setting`` writes one.  The verification and the LocalStack parity step
share these so they agree on what "as declared" means.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_code

# Order in which the parity step applies settings: the ACL before ownership
# controls (ACL calls fail once BucketOwnerEnforced is set), logging and the
# inventory late (their target bucket must be ready).
SETTING_NAMES = (
    "acl",
    "ownership",
    "public_access_block",
    "encryption",
    "versioning",
    "lifecycle",
    "logging",
    "inventory",
    "notifications",
)

PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")

GROUP_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
GROUP_AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
GROUP_LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"

# CloudFormation AccessControl values -> canned ACL and the grants it gives (besides the owner's).
CANNED_ACLS = {
    "Private": ("private", []),
    "PublicRead": ("public-read", [("group", GROUP_ALL_USERS, "READ")]),
    "PublicReadWrite": ("public-read-write", [("group", GROUP_ALL_USERS, "READ"), ("group", GROUP_ALL_USERS, "WRITE")]),
    "AuthenticatedRead": ("authenticated-read", [("group", GROUP_AUTHENTICATED, "READ")]),
    "LogDeliveryWrite": (
        "log-delivery-write",
        [("group", GROUP_LOG_DELIVERY, "WRITE"), ("group", GROUP_LOG_DELIVERY, "READ_ACP")],
    ),
    "BucketOwnerRead": ("bucket-owner-read", []),
    "BucketOwnerFullControl": ("bucket-owner-full-control", []),
}

# Errors S3 answers with when a bucket simply has no such configuration.
_NOT_CONFIGURED = {
    "encryption": ("ServerSideEncryptionConfigurationNotFoundError",),
    "ownership": ("OwnershipControlsNotFoundError",),
    "public_access_block": ("NoSuchPublicAccessBlockConfiguration",),
    "lifecycle": ("NoSuchLifecycleConfiguration",),
    "tags": ("NoSuchTagSet", "NoSuchTagSetError"),
    "policy": ("NoSuchBucketPolicy",),
}


def as_bool(value):
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_int(value):
    if value is None or value == "":
        return None
    return int(str(value).strip())


# -- template properties -> API shapes -------------------------------------------------


def _encryption(props):
    config = props.get("BucketEncryption")
    if not config:
        return None
    rules = []
    for rule in config.get("ServerSideEncryptionConfiguration") or []:
        default = rule.get("ServerSideEncryptionByDefault") or {}
        api_default = {"SSEAlgorithm": default.get("SSEAlgorithm")}
        if default.get("KMSMasterKeyID"):
            api_default["KMSMasterKeyID"] = default["KMSMasterKeyID"]
        api_rule = {"ApplyServerSideEncryptionByDefault": api_default}
        api_rule["BucketKeyEnabled"] = as_bool(rule.get("BucketKeyEnabled", False))
        rules.append(api_rule)
    return {"Rules": rules}


def _lifecycle_filter(rule):
    prefix = rule.get("Prefix")
    tags = [{"Key": t["Key"], "Value": str(t["Value"])} for t in rule.get("TagFilters") or []]
    bigger = as_int(rule.get("ObjectSizeGreaterThan"))
    smaller = as_int(rule.get("ObjectSizeLessThan"))
    parts = [p for p in (prefix is not None, tags, bigger is not None, smaller is not None) if p]
    if not parts:
        return {"Prefix": ""}
    if len(parts) == 1 and len(tags) <= 1:
        if prefix is not None:
            return {"Prefix": prefix}
        if tags:
            return {"Tag": tags[0]}
        if bigger is not None:
            return {"ObjectSizeGreaterThan": bigger}
        return {"ObjectSizeLessThan": smaller}
    both = {}
    if prefix is not None:
        both["Prefix"] = prefix
    if tags:
        both["Tags"] = tags
    if bigger is not None:
        both["ObjectSizeGreaterThan"] = bigger
    if smaller is not None:
        both["ObjectSizeLessThan"] = smaller
    return {"And": both}


def _noncurrent_transition(t):
    out = {"NoncurrentDays": as_int(t.get("TransitionInDays")), "StorageClass": t.get("StorageClass")}
    if t.get("NewerNoncurrentVersions") is not None:
        out["NewerNoncurrentVersions"] = as_int(t["NewerNoncurrentVersions"])
    return out


def _transition(t):
    out = {"StorageClass": t.get("StorageClass")}
    if t.get("TransitionInDays") is not None:
        out["Days"] = as_int(t["TransitionInDays"])
    if t.get("TransitionDate") is not None:
        out["Date"] = t["TransitionDate"]
    return out


def lifecycle_rule_to_api(rule):
    """One CloudFormation lifecycle rule -> the S3 API's rule."""
    api = {"Status": rule.get("Status", "Enabled"), "Filter": _lifecycle_filter(rule)}
    if rule.get("Id"):
        api["ID"] = rule["Id"]
    expiration = {}
    if rule.get("ExpirationInDays") is not None:
        expiration["Days"] = as_int(rule["ExpirationInDays"])
    if rule.get("ExpirationDate") is not None:
        expiration["Date"] = rule["ExpirationDate"]
    if rule.get("ExpiredObjectDeleteMarker") is not None:
        expiration["ExpiredObjectDeleteMarker"] = as_bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        api["Expiration"] = expiration
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": as_int(noncurrent.get("NoncurrentDays"))}
        if noncurrent.get("NewerNoncurrentVersions") is not None:
            api["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = as_int(
                noncurrent["NewerNoncurrentVersions"]
            )
    elif rule.get("NoncurrentVersionExpirationInDays") is not None:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": as_int(rule["NoncurrentVersionExpirationInDays"])}
    transitions = list(rule.get("NoncurrentVersionTransitions") or [])
    if rule.get("NoncurrentVersionTransition"):
        transitions.append(rule["NoncurrentVersionTransition"])
    if transitions:
        api["NoncurrentVersionTransitions"] = [_noncurrent_transition(t) for t in transitions]
    transitions = list(rule.get("Transitions") or [])
    if rule.get("Transition"):
        transitions.append(rule["Transition"])
    if transitions:
        api["Transitions"] = [_transition(t) for t in transitions]
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": as_int(abort.get("DaysAfterInitiation"))}
    return api


def _lifecycle(props):
    config = props.get("LifecycleConfiguration")
    if not config or not config.get("Rules"):
        return None
    return [lifecycle_rule_to_api(r) for r in config["Rules"]]


def _logging(props, bucket_name):
    config = props.get("LoggingConfiguration")
    if config is None:
        return None
    enabled = {
        "TargetBucket": config.get("DestinationBucketName") or bucket_name,
        "TargetPrefix": config.get("LogFilePrefix") or "",
    }
    if config.get("TargetObjectKeyFormat"):
        enabled["TargetObjectKeyFormat"] = config["TargetObjectKeyFormat"]
    return enabled


def _public_access_block(props):
    config = props.get("PublicAccessBlockConfiguration")
    if config is None:
        return None
    return {flag: as_bool(config.get(flag, False)) for flag in PAB_FLAGS}


def _ownership(props):
    rules = (props.get("OwnershipControls") or {}).get("Rules") or []
    for rule in rules:
        if rule.get("ObjectOwnership"):
            return rule["ObjectOwnership"]
    return None


def inventory_to_api(config):
    """One CloudFormation InventoryConfiguration -> the PutBucketInventoryConfiguration shape."""
    dest = config.get("Destination") or {}
    s3_dest = {"Bucket": dest.get("BucketArn"), "Format": dest.get("Format")}
    if dest.get("Prefix"):
        s3_dest["Prefix"] = dest["Prefix"]
    if dest.get("BucketAccountId"):
        s3_dest["AccountId"] = str(dest["BucketAccountId"])
    api = {
        "Id": config.get("Id"),
        "IsEnabled": as_bool(config.get("Enabled", False)),
        "Destination": {"S3BucketDestination": s3_dest},
        "IncludedObjectVersions": config.get("IncludedObjectVersions"),
        "Schedule": {"Frequency": config.get("ScheduleFrequency")},
    }
    if config.get("Prefix"):
        api["Filter"] = {"Prefix": config["Prefix"]}
    if config.get("OptionalFields"):
        api["OptionalFields"] = list(config["OptionalFields"])
    return api


def _inventory(props):
    configs = props.get("InventoryConfigurations")
    if not configs:
        return None
    return [inventory_to_api(c) for c in configs]


def _notification_filter(cfn_filter):
    rules = ((cfn_filter or {}).get("S3Key") or {}).get("Rules") or []
    if not rules:
        return None
    return {"Key": {"FilterRules": [{"Name": r.get("Name"), "Value": r.get("Value")} for r in rules]}}


# CloudFormation NotificationConfiguration lists -> (API list, API target key, CloudFormation target key).
_NOTIFICATION_KINDS = {
    "TopicConfigurations": ("TopicConfigurations", "TopicArn", "Topic"),
    "QueueConfigurations": ("QueueConfigurations", "QueueArn", "Queue"),
    "LambdaConfigurations": ("LambdaFunctionConfigurations", "LambdaFunctionArn", "Function"),
}


def _notifications(props):
    """The whole PutBucketNotificationConfiguration document: a put replaces every kind, so all declared ones."""
    config = props.get("NotificationConfiguration")
    if not config:
        return None
    api = {}
    if as_bool((config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled", False)):
        api["EventBridgeConfiguration"] = {}
    for cfn_kind, (api_kind, api_target, cfn_target) in _NOTIFICATION_KINDS.items():
        for entry in config.get(cfn_kind) or []:
            item = {api_target: entry.get(cfn_target), "Events": [entry.get("Event")]}
            key_filter = _notification_filter(entry.get("Filter"))
            if key_filter:
                item["Filter"] = key_filter
            api.setdefault(api_kind, []).append(item)
    return api or None


def desired_settings(props, bucket_name):
    """Settings a bucket should have, from its resolved properties, in S3 API shapes.

    A value of None means the template declares nothing for that setting,
    except for ``logging``, ``lifecycle``, ``inventory`` and ``notifications``
    where None means "none at all" and ``acl`` which is always set
    (CloudFormation's default is Private).
    """
    versioning = (props.get("VersioningConfiguration") or {}).get("Status")
    access_control = props.get("AccessControl") or "Private"
    return {
        "acl": CANNED_ACLS.get(access_control, (access_control, []))[0],
        "ownership": _ownership(props),
        "public_access_block": _public_access_block(props),
        "encryption": _encryption(props),
        "versioning": versioning,
        "lifecycle": _lifecycle(props),
        "logging": _logging(props, bucket_name),
        "inventory": _inventory(props),
        "notifications": _notifications(props),
        "tags": {t["Key"]: str(t.get("Value", "")) for t in props.get("Tags") or []},
    }


# Settings whose absence in the template still says something (so parity enforces it): LocalStack's bucket
# provider has no update, so an inventory or notification the template stops declaring stays unless removed.
ALWAYS_MANAGED = ("acl", "lifecycle", "logging", "inventory", "notifications")


def managed(name, desired):
    return name in ALWAYS_MANAGED or desired.get(name) is not None


# -- live settings -----------------------------------------------------------------------


def read_setting(session, bucket, name):
    """One live setting in the shape of ``desired_settings`` (None when not configured).

    The ACL comes back as the full get_bucket_acl answer. AWS errors other than
    "not configured" propagate.
    """
    try:
        if name == "encryption":
            config = session.read("s3", "get_bucket_encryption", Bucket=bucket)
            return config.get("ServerSideEncryptionConfiguration") or None
        if name == "versioning":
            return session.read("s3", "get_bucket_versioning", Bucket=bucket).get("Status")
        if name == "public_access_block":
            config = session.read("s3", "get_public_access_block", Bucket=bucket)
            return config.get("PublicAccessBlockConfiguration")
        if name == "ownership":
            config = session.read("s3", "get_bucket_ownership_controls", Bucket=bucket)
            rules = (config.get("OwnershipControls") or {}).get("Rules") or []
            return rules[0].get("ObjectOwnership") if rules else None
        if name == "acl":
            answer = session.read("s3", "get_bucket_acl", Bucket=bucket)
            return {"Owner": answer.get("Owner"), "Grants": answer.get("Grants", [])}
        if name == "lifecycle":
            return session.read("s3", "get_bucket_lifecycle_configuration", Bucket=bucket).get("Rules") or None
        if name == "logging":
            return session.read("s3", "get_bucket_logging", Bucket=bucket).get("LoggingEnabled")
        if name == "inventory":
            return _read_inventory(session, bucket)
        if name == "notifications":
            answer = session.read("s3", "get_bucket_notification_configuration", Bucket=bucket)
            return {k: v for k, v in answer.items() if k in NOTIFICATION_KEYS and v is not None} or None
        if name == "tags":
            tags = session.read("s3", "get_bucket_tagging", Bucket=bucket).get("TagSet", [])
            return {t["Key"]: t.get("Value", "") for t in tags}
        if name == "policy":
            return session.read("s3", "get_bucket_policy", Bucket=bucket).get("Policy")
    except Exception as e:  # pylint: disable=broad-except
        if error_code(e) in _NOT_CONFIGURED.get(name, ()):
            return {} if name == "tags" else None
        raise
    raise ValueError(f"unknown bucket setting {name}")


NOTIFICATION_KEYS = (
    "TopicConfigurations",
    "QueueConfigurations",
    "LambdaFunctionConfigurations",
    "EventBridgeConfiguration",
)


def _read_inventory(session, bucket):
    """Every inventory configuration of the bucket (ListBucketInventoryConfigurations pages), None when none."""
    found, token = [], None
    while True:
        params = {"Bucket": bucket}
        if token:
            params["ContinuationToken"] = token
        page = session.read("s3", "list_bucket_inventory_configurations", **params)
        found.extend(page.get("InventoryConfigurationList") or [])
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return found or None


def forget_setting(session, bucket, name):
    if name == "inventory":
        # only the first page is forgotten: a bucket has at most a few configurations
        session.forget("s3", "list_bucket_inventory_configurations", Bucket=bucket)
        return
    operation = {
        "encryption": "get_bucket_encryption",
        "versioning": "get_bucket_versioning",
        "public_access_block": "get_public_access_block",
        "ownership": "get_bucket_ownership_controls",
        "acl": "get_bucket_acl",
        "lifecycle": "get_bucket_lifecycle_configuration",
        "logging": "get_bucket_logging",
        "tags": "get_bucket_tagging",
        "policy": "get_bucket_policy",
        "notifications": "get_bucket_notification_configuration",
    }[name]
    session.forget("s3", operation, Bucket=bucket)


# -- normal forms -------------------------------------------------------------------------


def grant_set(acl):
    """Grants of a get_bucket_acl answer as (kind, who, permission); the owner is ('owner', '', perm)."""
    acl = acl or {}
    owner_id = (acl.get("Owner") or {}).get("ID")
    found = set()
    for grant in acl.get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        if grantee.get("Type") == "Group":
            who = ("group", grantee.get("URI", ""))
        elif grantee.get("ID") and grantee.get("ID") == owner_id:
            who = ("owner", "")
        elif grantee.get("Type") == "CanonicalUser":
            who = ("user", grantee.get("ID", ""))
        else:
            who = (str(grantee.get("Type", "")).lower(), grantee.get("EmailAddress") or grantee.get("URI") or "")
        found.add((who[0], who[1], grant.get("Permission")))
    return found


def canned_grant_set(canned):
    for cfn_name, (name, extra) in CANNED_ACLS.items():
        if canned in (cfn_name, name):
            return {("owner", "", "FULL_CONTROL")} | set(extra)
    return None


def public_grants(acl):
    return sorted(
        f"{who.rsplit('/', 1)[-1]}:{perm}"
        for kind, who, perm in grant_set(acl)
        if kind == "group" and who in (GROUP_ALL_USERS, GROUP_AUTHENTICATED)
    )


def _date(value):
    if value is None:
        return None
    return str(value)[:10]


def _normal_filter(rule):
    filt = rule.get("Filter")
    out = {"prefix": "", "tags": [], "gt": None, "lt": None}
    if filt is None:
        out["prefix"] = rule.get("Prefix") or ""
        return out
    source = filt.get("And") if "And" in filt else filt
    out["prefix"] = source.get("Prefix") or ""
    tags = list(source.get("Tags") or [])
    if source.get("Tag"):
        tags.append(source["Tag"])
    out["tags"] = sorted((t["Key"], str(t.get("Value", ""))) for t in tags)
    out["gt"] = as_int(source.get("ObjectSizeGreaterThan"))
    out["lt"] = as_int(source.get("ObjectSizeLessThan"))
    return out


def normalize_lifecycle_rule(rule, with_id=True):
    exp = rule.get("Expiration") or {}
    expiration = {
        "days": as_int(exp.get("Days")),
        "date": _date(exp.get("Date")),
        "delete_marker": bool(exp.get("ExpiredObjectDeleteMarker")) or None,
    }
    ncx = rule.get("NoncurrentVersionExpiration") or {}
    out = {
        "status": rule.get("Status"),
        "filter": _normal_filter(rule),
        "expiration": {k: v for k, v in expiration.items() if v is not None} or None,
        "noncurrent_expiration": {
            k: v
            for k, v in (
                ("days", as_int(ncx.get("NoncurrentDays"))),
                ("newer", as_int(ncx.get("NewerNoncurrentVersions"))),
            )
            if v is not None
        }
        or None,
        "noncurrent_transitions": sorted(
            (as_int(t.get("NoncurrentDays")), t.get("StorageClass"), as_int(t.get("NewerNoncurrentVersions")) or 0)
            for t in rule.get("NoncurrentVersionTransitions") or []
        ),
        "transitions": sorted(
            (as_int(t.get("Days")) or 0, _date(t.get("Date")) or "", t.get("StorageClass"))
            for t in rule.get("Transitions") or []
        ),
        "abort_days": as_int((rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")),
    }
    if with_id:
        out["id"] = rule.get("ID")
    return out


def lifecycle_differences(desired, live):
    """Human-readable differences between desired and live lifecycle rules (empty when equal)."""
    problems = []
    unmatched = list(live or [])
    for rule in desired or []:
        with_id = bool(rule.get("ID"))
        want = normalize_lifecycle_rule(rule, with_id)
        match = next((c for c in unmatched if normalize_lifecycle_rule(c, with_id) == want), None)
        if match is not None:
            unmatched.remove(match)
            continue
        same_id = next((c for c in unmatched if with_id and c.get("ID") == rule.get("ID")), None)
        if same_id is None:
            problems.append(f"rule {rule.get('ID') or '(no id)'} is missing")
            continue
        unmatched.remove(same_id)
        got = normalize_lifecycle_rule(same_id, with_id)
        fields = sorted(k for k in want if want[k] != got.get(k))
        problems.append(f"rule {rule['ID']} differs in {', '.join(fields)}")
    for rule in unmatched:
        problems.append(f"rule {rule.get('ID') or '(no id)'} is not declared in the template")
    return problems


def normalize_encryption(config, keys):
    """Encryption rules as comparable tuples; ``keys`` is a KeyResolver (or None to compare text)."""
    out = []
    for rule in (config or {}).get("Rules") or []:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        key = default.get("KMSMasterKeyID")
        if key and keys is not None:
            key = keys.key_arn_or_guess(key)
        out.append((default.get("SSEAlgorithm"), key or None, bool(rule.get("BucketKeyEnabled", False))))
    return sorted(out, key=str)


def normalize_logging(enabled, compare_format):
    if not enabled:
        return None
    out = {"bucket": enabled.get("TargetBucket"), "prefix": enabled.get("TargetPrefix") or ""}
    if compare_format:
        out["format"] = enabled.get("TargetObjectKeyFormat") or {}
    return out


def normalize_public_access_block(config):
    if config is None:
        return None
    return {flag: bool(config.get(flag, False)) for flag in PAB_FLAGS}


def _optional_fields(value):
    # moto answers a list as {"Field": [...]}; S3 as a list
    if isinstance(value, dict):
        value = value.get("Field") or []
    return sorted([value] if isinstance(value, str) else value or [])


def normalize_inventory_config(config):
    """One inventory configuration (API shape) as a comparable dict."""
    dest = (config.get("Destination") or {}).get("S3BucketDestination") or {}
    return {
        "enabled": as_bool(config.get("IsEnabled", False)),
        "bucket": dest.get("Bucket"),
        "format": dest.get("Format"),
        "prefix": dest.get("Prefix") or "",
        "account": str(dest["AccountId"]) if dest.get("AccountId") else None,
        "encryption": sorted(dest.get("Encryption") or {}),
        "filter_prefix": (config.get("Filter") or {}).get("Prefix") or "",
        "versions": config.get("IncludedObjectVersions"),
        "fields": _optional_fields(config.get("OptionalFields")),
        "frequency": (config.get("Schedule") or {}).get("Frequency"),
    }


def inventory_differences(desired, live):
    """Human-readable differences between desired and live inventory configurations, matched by Id."""
    live_by_id = {c.get("Id"): c for c in live or []}
    problems = []
    for config in desired or []:
        got = live_by_id.pop(config.get("Id"), None)
        if got is None:
            problems.append(f"inventory {config.get('Id')} is missing")
            continue
        want_n, got_n = normalize_inventory_config(config), normalize_inventory_config(got)
        fields = sorted(k for k in want_n if want_n[k] != got_n[k])
        if fields:
            problems.append(f"inventory {config.get('Id')} differs in {', '.join(fields)}")
    problems.extend(f"inventory {config_id} is not declared in the template" for config_id in sorted(live_by_id))
    return problems


def _filter_rules(item):
    rules = ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    # S3 gives rule names back capitalised ("Prefix"), CloudFormation takes "prefix"
    return tuple(sorted((str(r.get("Name", "")).lower(), r.get("Value", "")) for r in rules))


def normalize_notifications(config):
    """A notification configuration (API shape) as comparable data; S3's generated Ids are left out."""
    config = config or {}
    out = {"eventbridge": "EventBridgeConfiguration" in config and config["EventBridgeConfiguration"] is not None}
    for api_kind, api_target, _cfn in _NOTIFICATION_KINDS.values():
        out[api_kind] = sorted(
            (item.get(api_target), tuple(sorted(item.get("Events") or [])), _filter_rules(item))
            for item in config.get(api_kind) or []
        )
    return out


def setting_matches(name, desired, live, keys=None):
    """True when the live setting already is what the template declares."""
    if name == "acl":
        want = canned_grant_set(desired)
        return want is not None and grant_set(live) == want
    if name == "encryption":
        return normalize_encryption(desired, keys) == normalize_encryption(live, keys)
    if name == "lifecycle":
        return not lifecycle_differences(desired, live)
    if name == "logging":
        compare_format = bool(desired and desired.get("TargetObjectKeyFormat"))
        return normalize_logging(desired, compare_format) == normalize_logging(live, compare_format)
    if name == "public_access_block":
        return normalize_public_access_block(desired) == normalize_public_access_block(live)
    if name == "inventory":
        return not inventory_differences(desired, live)
    if name == "notifications":
        return normalize_notifications(desired) == normalize_notifications(live)
    if name == "tags":
        return all((live or {}).get(k) == v for k, v in (desired or {}).items())
    return desired == live


# -- writes -------------------------------------------------------------------------------


def put_setting(session, bucket, name, desired):
    """Write one setting as declared (``None`` for logging/lifecycle removes it)."""
    if name == "acl":
        session.call("s3", "put_bucket_acl", Bucket=bucket, ACL=desired)
    elif name == "ownership":
        session.call(
            "s3",
            "put_bucket_ownership_controls",
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": desired}]},
        )
    elif name == "public_access_block":
        session.call("s3", "put_public_access_block", Bucket=bucket, PublicAccessBlockConfiguration=desired)
    elif name == "encryption":
        session.call("s3", "put_bucket_encryption", Bucket=bucket, ServerSideEncryptionConfiguration=desired)
    elif name == "versioning":
        session.call("s3", "put_bucket_versioning", Bucket=bucket, VersioningConfiguration={"Status": desired})
    elif name == "lifecycle":
        if desired:
            session.call(
                "s3", "put_bucket_lifecycle_configuration", Bucket=bucket, LifecycleConfiguration={"Rules": desired}
            )
        else:
            session.call("s3", "delete_bucket_lifecycle", Bucket=bucket)
    elif name == "logging":
        status = {"LoggingEnabled": desired} if desired else {}
        session.call("s3", "put_bucket_logging", Bucket=bucket, BucketLoggingStatus=status)
    elif name == "inventory":
        _put_inventory(session, bucket, desired or [])
    elif name == "notifications":
        # One put replaces the whole configuration: ``desired`` holds every kind the template declares.
        session.call(
            "s3", "put_bucket_notification_configuration", Bucket=bucket, NotificationConfiguration=desired or {}
        )
    else:
        raise ValueError(f"unknown bucket setting {name}")
    forget_setting(session, bucket, name)


def _put_inventory(session, bucket, desired):
    """Put each declared configuration that differs and delete the undeclared ones (they are kept by Id)."""
    live = {c.get("Id"): c for c in _read_inventory(session, bucket) or []}
    for config in desired:
        current = live.pop(config["Id"], None)
        if current is None or inventory_differences([config], [current]):
            session.call(
                "s3",
                "put_bucket_inventory_configuration",
                Bucket=bucket,
                Id=config["Id"],
                InventoryConfiguration=config,
            )
    for config_id in live:
        session.call("s3", "delete_bucket_inventory_configuration", Bucket=bucket, Id=config_id)
