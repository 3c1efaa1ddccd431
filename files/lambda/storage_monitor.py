"""eBook storage monitor: the Lambda function eBook-StorageMonitoring-<env> (docs/monitor.md).

One run reads the data bucket's configuration, lists every object version once, checks the encryption of
the objects that arrived in the last 24 hours, raises alerts, and publishes a JSON report to the alert
topic. boto3 and the standard library only (the python3.11 runtime's).

This file is the source of truth. tools/embed_monitor.py copies it into files/TapStack.yml
(StorageMonitoringFunction, Code.ZipFile) without its comments and docstrings, which keeps the template
under CloudFormation's 51,200-byte limit; `embed_monitor.py --check` fails when the two differ.
"""
import json
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
FORMATS = ("pdf", "epub", "mobi", "other")
WINDOW, SAMPLES, WORKERS = timedelta(hours=24), 10, 16  # SAMPLES: keys named in an alert
RETRIES = {"mode": "adaptive", "max_attempts": 10}
LIST_RESERVE_S = 60  # stop listing when less time is left
RANK = {"critical": 2, "warning": 1}
ERRORS = (ClientError, BotoCoreError)
DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled"}
ABSENT = {"ServerSideEncryptionConfigurationNotFoundError", "NoSuchPublicAccessBlockConfiguration",
          "OwnershipControlsNotFoundError"}
EVENT_KEYS = ("source", "detail-type", "id", "time", "resources")  # of an EventBridge event, in reports
PAB = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ACTIONS = {  # IAM action each check needs
    "kms_key": "kms:DescribeKey", "inventory": "s3:ListBucketVersions", "object_encryption": "s3:GetObject",
    "versioning": "s3:GetBucketVersioning", "default_encryption": "s3:GetEncryptionConfiguration",
    "public_access_block": "s3:GetBucketPublicAccessBlock",
    "ownership_controls": "s3:GetBucketOwnershipControls", "logging": "s3:GetBucketLogging"}
# The action of an alert about a bucket setting that the template declares and that someone changed
# outside CloudFormation: the deploy puts the declared settings back (see repair_fix).
DRIFT = "drift"
ALERTS = {  # code: (severity, operator action; DRIFT: repair_fix for the environment)
    "CHECK_FAILED": ("critical", 'read the function log, then rerun with {"source": "manual"}'),
    "KMS_KEY_NOT_ENABLED": ("critical", "enable the key or cancel its deletion, now"),
    "VERSIONING_NOT_ENABLED": ("critical", DRIFT),
    "DEFAULT_ENCRYPTION_DRIFT": ("critical", DRIFT),
    "PUBLIC_ACCESS_BLOCK_OFF": ("critical", DRIFT),
    "ACLS_ENABLED": ("critical", DRIFT),
    "LOGGING_DRIFT": ("warning", DRIFT),
    "OBJECT_NOT_KMS": ("critical", "re-encrypt them (copy in place with the key); find the writer"),
    "UPLOADS_NONE": ("critical", "check the upload service, its role's S3/KMS rights, the key"),
    "UPLOADS_LOW": ("warning", "check the upload service; if normal, lower ExpectedDailyUploads"),
    "UPLOADS_HIGH": ("warning", "confirm a planned bulk load, else find the unknown writer"),
    "UNSUPPORTED_FORMAT": ("warning", "remove or convert them; tell the uploader"),
    "STORAGE_THRESHOLD_EXCEEDED": ("warning", "review growth and lifecycle, or raise the threshold")}


def repair_fix(environment):
    """How an operator puts back a bucket setting that drifted from the template.

    The deploy compares the bucket with what the template declares and puts back what differs: in dev
    and test on every run, in prod only when asked with -e ebook_stack_repair_drift=true (it then shows
    what it changed, and its verification passes).
    """
    if environment in ("dev", "test"):
        command = f"ansible-playbook deploy.yml -i inventories/{environment}"
    elif environment == "prod":
        command = "ansible-playbook deploy.yml -i inventories/prod -e ebook_stack_repair_drift=true"
    else:  # ENVIRONMENT not set: name both forms
        command = "ansible-playbook deploy.yml -i inventories/ENV (prod: add -e ebook_stack_repair_drift=true)"
    return f"{command} puts back the declared settings; find who changed it in CloudTrail"


def err_code(exc):
    """The AWS error code of an exception (403/404 of a HEAD request by name), else its class name."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code") or "ClientError"
        return {"403": "AccessDenied", "404": "NotFound"}.get(code, code)
    return type(exc).__name__


def fmt_of(key):
    """pdf, epub or mobi by the key's extension (case-insensitive); anything else is other."""
    name = key.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext if ext in FORMATS[:3] else "other"


def human(n):
    """A byte count for people: 512 B, 1.5 KiB, ... (1024-based)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,} B" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def settings(env=None):
    """The run's settings from the function's environment variables (docs/monitor.md, "Settings")."""
    env = os.environ if env is None else env

    def num(name, default):
        return max(0, int(float(env.get(name) or default)))
    expected = num("EXPECTED_DAILY_UPLOADS", 3000)
    return SimpleNamespace(
        environment=env.get("ENVIRONMENT") or "unknown", bucket=env.get("BUCKET_NAME", ""),
        topic=env.get("SNS_TOPIC_ARN", ""), kms_key=env.get("EXPECTED_KMS_KEY", ""),
        logging_bucket=env.get("LOGGING_BUCKET", ""), expected=expected,
        deviation=num("UPLOAD_DEVIATION_PERCENT", 50), threshold_gb=num("STORAGE_ALERT_THRESHOLD_GB", 5000),
        max_heads=num("MAX_HEAD_REQUESTS", 2 * expected))


class Monitor:
    """One run: the checks, the alerts they raise, and the AWS requests made (counted for the report)."""

    def __init__(self, cfg, context=None):
        self.s, self.alerts, self.requests, self.conf = cfg, [], Counter(), {}
        self.lock, self.t0, self.now = threading.Lock(), time.monotonic(), datetime.now(UTC)
        self.deadline = self.t0 + (context.get_remaining_time_in_millis() if context else 900_000) / 1000
        self.key_arn, self.key_ids, self.key_cache = None, set(), {}
        bc = Config(retries=dict(RETRIES), max_pool_connections=WORKERS)
        self.s3, self.kms, self.sns = (boto3.client(n, config=bc) for n in ("s3", "kms", "sns"))
        for client in (self.s3, self.kms, self.sns):
            client.meta.events.register("before-call", self._count)

    def _count(self, model, **_):
        # botocore's before-call event: once per API call, retries not included
        with self.lock:
            self.requests[model.name] += 1

    def left(self):
        """Seconds left before the function's timeout."""
        return self.deadline - time.monotonic()

    def alert(self, code, what, fix=None, **extra):
        """Raise an alert; its message is what was found, then "Fix:" and what the operator does."""
        sev, action = ALERTS[code]
        if action == DRIFT:
            action = repair_fix(self.s.environment)
        self.alerts.append({"code": code, "severity": sev, "message": f"{what}. Fix: {fix or action}.", **extra})

    def failed(self, check, exc, note=""):
        """A check that could not run: a CHECK_FAILED alert that names it; the other checks go on."""
        code, fix = err_code(exc) if isinstance(exc, Exception) else exc, None
        if code in DENIED:
            fix = f"grant {ACTIONS.get(check)} to the monitor's role"
        elif check == "kms_key" and code in ("NotFoundException", "ParamValidationError"):
            fix = "set EXPECTED_KMS_KEY to an existing key (stack output EncryptionKeyArn)"
        elif code == "TimeBudget":
            fix = "raise the function timeout, or use S3 Inventory"
        self.alert("CHECK_FAILED", f"Check '{check}' could not run ({code}){note}; other checks ran", fix,
                   check=check, error=code, detail=str(exc)[:300])

    def expected_key(self):
        """Resolve EXPECTED_KMS_KEY (key or alias ARN) to the key ARN, and alert when the key is not enabled."""
        try:
            meta = self.kms.describe_key(KeyId=self.s.kms_key)["KeyMetadata"]
        except ERRORS as exc:
            return self.failed("kms_key", exc)
        self.key_arn, self.key_ids = meta["Arn"], {self.s.kms_key, meta["Arn"], meta["KeyId"]}
        if meta.get("KeyState", "Enabled") != "Enabled":
            self.alert("KMS_KEY_NOT_ENABLED", f"KMS key {meta['Arn']} is {meta['KeyState']}: uploads fail")

    def key_matches(self, kid):
        """Whether a key id, key ARN or alias ARN names the expected key (others resolved once each)."""
        if not kid or not self.key_arn or kid in self.key_ids:  # no key_arn: CHECK_FAILED raised
            return bool(kid)
        if kid not in self.key_cache:
            try:
                self.key_cache[kid] = self.kms.describe_key(KeyId=kid)["KeyMetadata"]["Arn"]
            except ERRORS:
                self.key_cache[kid] = None
        return self.key_cache[kid] == self.key_arn

    def _get(self, check, call):
        # response; {} when not configured; None on failure
        try:
            return call(Bucket=self.s.bucket)
        except ERRORS as exc:
            if err_code(exc) in ABSENT:
                return {}
            self.failed(check, exc)

    def configuration(self):
        """The bucket settings that the template declares, one call each; an alert for each that drifted."""
        s3, c, alert = self.s3, self.conf, self.alert
        if (r := self._get("versioning", s3.get_bucket_versioning)) is not None:
            c["versioning"] = v = r.get("Status", "Disabled")
            if v != "Enabled":
                alert("VERSIONING_NOT_ENABLED", f"Versioning is {v}: deletes cannot be undone")
        if (r := self._get("default_encryption", s3.get_bucket_encryption)) is not None:
            rule = (r.get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}])[0]
            d = rule.get("ApplyServerSideEncryptionByDefault", {})
            alg, kid = d.get("SSEAlgorithm"), d.get("KMSMasterKeyID")
            c["default_encryption"] = {"algorithm": alg, "kms_key": kid,
                                       "bucket_key_enabled": bool(rule.get("BucketKeyEnabled"))}
            if alg != "aws:kms" or not self.key_matches(kid):
                alert("DEFAULT_ENCRYPTION_DRIFT", f"Default encryption is {alg} with key {kid}, expected "
                      f"aws:kms with {self.key_arn or self.s.kms_key}")
        if (r := self._get("public_access_block", s3.get_public_access_block)) is not None:
            pab = r.get("PublicAccessBlockConfiguration", {})
            c["public_access_block"] = {k: bool(pab.get(k)) for k in PAB}
            if off := [k for k in PAB if not pab.get(k)]:
                alert("PUBLIC_ACCESS_BLOCK_OFF", f"Public access block off: {', '.join(off)}")
        if (r := self._get("ownership_controls", s3.get_bucket_ownership_controls)) is not None:
            rules = r.get("OwnershipControls", {}).get("Rules") or [{}]
            c["object_ownership"] = own = rules[0].get("ObjectOwnership", "not set")
            if own != "BucketOwnerEnforced":
                alert("ACLS_ENABLED", f"Object ownership is {own}, so ACLs can grant access")
        if (r := self._get("logging", s3.get_bucket_logging)) is not None:
            le = r.get("LoggingEnabled") or {}
            c["logging"] = {"target_bucket": le.get("TargetBucket"), "target_prefix": le.get("TargetPrefix")}
            if (target := le.get("TargetBucket") or "") != self.s.logging_bucket:
                alert("LOGGING_DRIFT", f"Access logs go to {target or 'nowhere'}, expected "
                      f"{self.s.logging_bucket or 'logging off'}")

    def inventory(self):
        """One paginated ListObjectVersions pass: current, noncurrent and delete markers."""
        n, since = Counter(), self.now - WINDOW
        inv = {"n": n, "largest": [None, 0], "new_keys": [], "other_keys": [], "complete": True}
        pages = self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.s.bucket, PaginationConfig={"PageSize": 1000})
        try:
            for page in pages:
                n["pages"] += 1
                n["dm"] += len(page.get("DeleteMarkers", []))
                for v in page.get("Versions", []):
                    key, size = v["Key"], v.get("Size", 0)
                    if not v.get("IsLatest"):
                        n.update(nc=1, nc_bytes=size)
                        continue
                    fmt, new = fmt_of(key), v["LastModified"] >= since
                    n.update({fmt: 1, fmt + "_bytes": size})
                    if inv["largest"][0] is None or size > inv["largest"][1]:
                        inv["largest"] = [key, size]
                    if fmt == "other":
                        n["other_new"] += new
                        inv["other_keys"] += [key][:SAMPLES - len(inv["other_keys"])]
                    if new:
                        n.update(up=1, up_bytes=size)
                        inv["new_keys"] += [key][:self.s.max_heads - len(inv["new_keys"])]
                if page.get("IsTruncated") and self.left() < LIST_RESERVE_S:
                    inv["complete"] = False
                    self.failed("inventory", "TimeBudget", f" after {n['pages']} pages")
                    break
        except ERRORS as exc:
            inv["complete"] = False
            self.failed("inventory", exc, f" after {n['pages']} pages; counts are partial")
        return inv

    def _head(self, key):
        """HeadObject of one key: (key, "ok" | "gone" | "error" | "skipped", (algorithm, key id) or error)."""
        if self.left() < 15:  # keep time to report
            return key, "skipped", None
        try:
            r = self.s3.head_object(Bucket=self.s.bucket, Key=key)
        except ERRORS as exc:
            return key, "gone" if err_code(exc) in ("NotFound", "NoSuchKey") else "error", exc
        return key, "ok", (r.get("ServerSideEncryption"), r.get("SSEKMSKeyId"))

    def encryption(self, inv):
        """HeadObject on objects modified in the window, at most max_heads."""
        up, cap, keys = inv["n"]["up"], self.s.max_heads, inv["new_keys"]
        res = {"expected_key": self.key_arn, "new_objects": up, "cap": cap, "cap_reached": up > cap,
               "checked": 0, "not_kms": 0, "unchecked": up - len(keys), "errors": 0}
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(self._head, keys))
        bad, errors = [], []
        for key, outcome, value in results:
            if outcome == "ok":
                res["checked"] += 1
                if value[0] != "aws:kms" or not self.key_matches(value[1]):
                    bad.append(f"{key} ({value[0]} {value[1] or ''})".replace(" )", ")"))
            elif outcome != "gone":
                res["unchecked"] += 1
                errors += [value] if outcome == "error" else []
        res["not_kms"], res["errors"] = len(bad), len(errors)
        if bad:
            self.alert("OBJECT_NOT_KMS", f"{len(bad)} of {res['checked']} new objects are not SSE-KMS under "
                       f"{self.key_arn or self.s.kms_key}: {'; '.join(bad[:SAMPLES])}", samples=bad[:SAMPLES])
        if errors:
            self.failed("object_encryption", errors[0], f" for {len(errors)} objects")
        return res

    def evaluate(self, inv):
        """The alerts on the inventory's counts: uploads against the expectation, formats, stored bytes."""
        s, n, alert = self.s, inv["n"], self.alert
        low, high = s.expected * (100 - s.deviation) / 100, s.expected * (100 + s.deviation) / 100
        if not inv["complete"]:
            pass  # partial counts: upload alerts would be wrong
        elif n["up"] == 0:
            alert("UPLOADS_NONE", f"No uploads in the last 24 h (expected about {s.expected})")
        elif n["up"] < low:
            alert("UPLOADS_LOW", f"{n['up']} uploads in 24 h, below {low:g} ({s.expected} -{s.deviation}%)")
        elif n["up"] > high:
            alert("UPLOADS_HIGH", f"{n['up']} uploads in 24 h, above {high:g} ({s.expected} +{s.deviation}%)")
        if other := n["other"]:
            alert("UNSUPPORTED_FORMAT", f"{other} objects ({n['other_new']} new) are not pdf/epub/mobi: "
                  f"{', '.join(inv['other_keys'])}", samples=inv["other_keys"])
        if (stored := sum(n[f + "_bytes"] for f in FORMATS) + n["nc_bytes"]) > s.threshold_gb * 1024**3:
            alert("STORAGE_THRESHOLD_EXCEEDED", f"{human(stored)} stored with old versions, over "
                  f"{s.threshold_gb} GiB")

    def run(self, trigger="schedule"):
        """Every check in order, then the report (docs/monitor.md, "The report")."""
        self.expected_key()
        self.configuration()
        inv = self.inventory()
        enc = self.encryption(inv)
        self.evaluate(inv)
        s, n = self.s, inv["n"]
        objs, size = ({f: n[f + k] for f in FORMATS} for k in ("", "_bytes"))
        alerts = sorted(self.alerts, key=lambda a: -RANK[a["severity"]])
        report = {
            "status": "ALERT" if alerts else "OK", "environment": s.environment, "bucket": s.bucket,
            "generated_at": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"), "trigger": trigger,
            "objects": {"total": sum(objs.values()), "by_format": objs},
            "bytes": {"total": sum(size.values()), "by_format": size},
            "uploads_last_24h": {"count": n["up"], "bytes": n["up_bytes"], "expected": s.expected,
                                 "deviation_percent": s.deviation},
            "noncurrent_versions": {"count": n["nc"], "bytes": n["nc_bytes"]},
            "delete_markers": {"count": n["dm"]},
            "largest_object": {"key": inv["largest"][0], "bytes": inv["largest"][1]},
            "encryption_check": enc, "configuration": self.conf,
            "inventory": {"complete": inv["complete"], "pages": n["pages"]},
            "alerts": alerts, "requests": dict(sorted(self.requests.items())),
            "duration_ms": int((time.monotonic() - self.t0) * 1000)}
        report["summary"] = summary(report)
        return report

    def publish(self, report):
        """Send the report to the topic: JSON for every protocol, the summary lines first for e-mail."""
        sev = max((a["severity"] for a in report["alerts"]), key=RANK.get, default="none")
        body = json.dumps(report, indent=1)
        email = "\n".join(report["summary"]) + "\n\n" + body
        self.sns.publish(TopicArn=self.s.topic, Subject=subject(report), MessageStructure="json",
                         Message=json.dumps({"default": body, "email": email}),
                         MessageAttributes={k: {"DataType": "String", "StringValue": v}
                                            for k, v in (("status", report["status"]), ("severity", sev))})


def tally(r):
    """The alert count in words: "3 alerts (1 critical)", "1 alert" or "no alerts"."""
    count, crit = len(r["alerts"]), sum(a["severity"] == "critical" for a in r["alerts"])
    return (f"{count} alert{'s' * (count != 1)}" if count else "no alerts") + (f" ({crit} critical)" * bool(crit))


def subject(r):
    """The SNS subject (at most 100 characters): status, environment, date and the alert count."""
    return f"[{r['status']}] eBook storage {r['environment']} {r['generated_at'][:10]}: {tally(r)}"[:100]


def summary(r):
    """The report as text lines: header, status, one line per alert, then a two-column table."""
    c, enc, up, nc, big = (r[k] for k in ("configuration", "encryption_check", "uploads_last_24h",
                                          "noncurrent_versions", "largest_object"))
    de, pab, lg = c.get("default_encryption"), c.get("public_access_block"), c.get("logging")
    rows = [("Objects", f"{r['objects']['total']:,} ({human(r['bytes']['total'])})")] + [
        (f"  {f}", f"{k:,} ({human(r['bytes']['by_format'][f])})") for f, k in r["objects"]["by_format"].items()]
    rows += [
        ("Uploads last 24 h", f"{up['count']:,} ({human(up['bytes'])}), expected {up['expected']:,} "
         f"+/-{up['deviation_percent']}%"),
        ("Noncurrent versions", f"{nc['count']:,} ({human(nc['bytes'])}), {r['delete_markers']['count']:,} "
         "delete markers"),
        ("Largest object", f"{big['key']} ({human(big['bytes'])})"),
        ("New objects checked", f"{enc['checked']:,} of {enc['new_objects']:,}, {enc['not_kms']} not SSE-KMS"
         + (f"; cap {enc['cap']} reached" if enc["cap_reached"] else "")),
        ("Versioning", c.get("versioning", "unknown")),
        ("Default encryption", f"{de['algorithm']} {de['kms_key']}" if de else "unknown"),
        ("Public access block", ("all on" if all(pab.values()) else "OFF") if pab else "unknown"),
        ("Object ownership", c.get("object_ownership", "unknown")),
        ("Access logging", str(lg["target_bucket"] or "off") if lg else "unknown"),
        ("Inventory", ("complete" if r["inventory"]["complete"] else "PARTIAL")
         + f", {sum(r['requests'].values()):,} requests, {r['duration_ms']:,} ms")]
    return [f"eBook storage report: {r['environment']} / {r['bucket']} / {r['generated_at']}",
            f"Status: {r['status']}, {tally(r)}", ""] + (
        [f"[{a['severity'].upper()}] {a['code']}: {a['message']}" for a in r["alerts"]] or ["No alerts."]
    ) + [""] + [f"{k:<22} {v}" for k, v in [("METRIC", "VALUE"), *rows]]


def handler(event, context):
    """Lambda entry point (index.handler). The event: EventBridge's scheduled event (the rule's target has
    no Input), {"source": "manual"}, or {"action": "test-failure"} to prove the on-failure destination."""
    event = event if isinstance(event, dict) else {}
    if event.get("action") == "test-failure":
        raise RuntimeError("Deliberate failure (action=test-failure) to test the failure path")
    cfg = settings()
    if not cfg.bucket:
        raise RuntimeError("BUCKET_NAME is not set")
    monitor, source = Monitor(cfg, context), event.get("source", "aws.events")
    report = monitor.run("schedule" if source == "aws.events" else str(source))
    # Where the run came from: the EventBridge event's identity, or a direct invocation.
    eb = event.get("source") == "aws.events" and "detail-type" in event
    report["invoked_by"] = {k: event.get(k) for k in EVENT_KEYS} if eb else {"source": "direct"}
    LOG.info("%s", json.dumps(report))
    if cfg.topic:
        monitor.publish(report)
    return report
