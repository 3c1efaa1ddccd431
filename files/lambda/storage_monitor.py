"""eBook storage monitor: the Lambda function eBook-StorageMonitoring-<env> (docs/monitor.md).

Two entry points in one function (handler dispatches on the event):

* the daily run (EventBridge schedule, or {"source": "manual"}): reads the data bucket's configuration,
  takes its totals from the newest S3 Inventory report (or, until there is one, from one listing of every
  version), the uploads of the last 24 hours from the upload metrics, raises alerts and publishes a JSON
  report to the alert topic;
* the upload check (S3 "Object Created" event through the upload rule): checks the one new object at once
  (SSE-KMS with the stack's key, an e-book by content, not empty), records it as CloudWatch metrics, and
  alerts on the topic when a check fails.

boto3 and the standard library only (the python3.11 runtime's). This file is the source of truth;
tools/embed_monitor.py copies it into files/TapStack.yml (StorageMonitoringFunction, Code.ZipFile),
compressed to fit CloudFormation's 51,200-byte template limit; `embed_monitor.py --check` fails when the
two differ. Line numbers in the function's tracebacks are this file's.
"""
import csv
import gzip
import io
import json
import logging
import os
import struct
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
FORMATS = ("pdf", "epub", "mobi", "other")
WINDOW, SAMPLES, WORKERS = timedelta(hours=24), 10, 16  # SAMPLES: keys named in an alert
RETRIES = {"mode": "adaptive", "max_attempts": 10}
LIST_RESERVE_S = 60  # stop listing when less time is left
# Where S3 writes the inventory reports in the log bucket: the template's InventoryConfigurations
# (Destination Prefix "inventory", Id "daily"); tests/unit/monitor/test_inventory.py keeps the two in step.
INVENTORY = "inventory/{bucket}/daily/"
INVENTORY_MAX_AGE = timedelta(hours=48)  # S3 writes one a day; older means delivery stopped
METRICS = "eBookStorage"  # CloudWatch namespace of the upload metrics (PutUploadMetrics in the template)
HEAD_BYTES, TAIL_BYTES = 4096, 1024  # what the upload check reads of a new object
RANK = {"critical": 2, "warning": 1}
ERRORS = (ClientError, BotoCoreError)
DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled"}
ABSENT = {"ServerSideEncryptionConfigurationNotFoundError", "NoSuchPublicAccessBlockConfiguration",
          "OwnershipControlsNotFoundError"}
EVENT_KEYS = ("source", "detail-type", "id", "time", "resources")  # of an EventBridge event, in reports
PAB = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ACTIONS = {  # IAM action each check needs
    "kms_key": "kms:DescribeKey", "inventory": "s3:ListBucketVersions", "object_encryption": "s3:GetObject",
    "inventory_report": "s3:ListBucket and s3:GetObject on the log bucket's inventory/",
    "upload_metrics": "cloudwatch:GetMetricData",
    "upload_check": "s3:GetObject and s3:GetObjectVersion",  # the check names the uploaded version
    "upload_record": "cloudwatch:PutMetricData",
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
    "EMPTY_OBJECT": ("warning", "upload the file again; find why the uploader sent nothing"),
    "INVENTORY_STALE": ("warning", "check the data bucket's inventory configuration (storage_verify) and the "
                        "log bucket policy's AllowS3InventoryDelivery"),
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


def sniff(head, tail):
    """The e-book format of content, by the header and trailer rules of ebook_upload
    (plugins/module_utils/ebook_formats.py), from its first HEAD_BYTES and last TAIL_BYTES; None for none.

    PDF: "%PDF-" first and "%%EOF" in the last 1,024 bytes. EPUB: a ZIP whose first entry is "mimetype",
    stored, holding "application/epub+zip". MOBI: "BOOKMOBI" at offset 60 and a MOBI header in record 0
    when record 0 starts within the bytes read. The checks that need the whole file (the EPUB's central
    directory, the MOBI record table) stay with ebook_upload.
    """
    if head.startswith(b"%PDF-"):
        return "pdf" if b"%%EOF" in tail else None
    if head[:4] == b"PK\x03\x04" and len(head) >= 30:
        method, name_len, extra_len = struct.unpack("<H16xHH", head[8:30])
        start = 30 + name_len + extra_len
        if method == 0 and head[30:30 + name_len] == b"mimetype" and \
                head[start:start + 20] == b"application/epub+zip":
            return "epub"
        return None
    if head[60:68] == b"BOOKMOBI" and len(head) >= 82:
        (record0,) = struct.unpack(">I", head[78:82])
        return "mobi" if record0 + 20 > len(head) or head[record0 + 16:record0 + 20] == b"MOBI" else None
    return None


def dimensions(bucket, fmt):
    """The upload metrics' dimensions: the check records them, the daily run sums them."""
    return [{"Name": "Bucket", "Value": bucket}, {"Name": "Format", "Value": fmt}]


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
        self.s3, self.kms, self.sns, self.cw = (boto3.client(n, config=bc) for n in ("s3", "kms", "sns", "cloudwatch"))
        for client in (self.s3, self.kms, self.sns, self.cw):
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

    def newest_inventory(self):
        """The newest complete S3 Inventory report of the data bucket: {"key", "date", "manifest"}, or None
        when there is none (the first day after deploy, logging off, LocalStack) or it cannot be read."""
        if not self.s.logging_bucket:
            return None
        lb, prefix = self.s.logging_bucket, INVENTORY.format(bucket=self.s.bucket)
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=lb, Prefix=prefix, Delimiter="/")
            folders = sorted((p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])), reverse=True)
            for folder in folders:
                try:  # a report's folder is named by its time; data/ and hive/ are not reports
                    date = datetime.strptime(folder[len(prefix):], "%Y-%m-%dT%H-%MZ/").replace(tzinfo=UTC)
                except ValueError:
                    continue
                try:  # S3 writes manifest.json once the report's data files are complete
                    body = self.s3.get_object(Bucket=lb, Key=folder + "manifest.json")["Body"].read()
                except ERRORS as exc:
                    if err_code(exc) in ("NoSuchKey", "NotFound"):
                        continue
                    raise
                if not isinstance(manifest := json.loads(body), dict):
                    raise ValueError(f"{folder}manifest.json is not a JSON object")
                return {"key": folder + "manifest.json", "date": date, "manifest": manifest}
        except ERRORS as exc:
            self.failed("inventory_report", exc, "; totals come from a listing")
        except ValueError as exc:
            self.failed("inventory_report", "BadManifest", f" ({exc}); totals come from a listing")
        return None

    def read_inventory(self, found):
        """Totals from an inventory report in the listing's shape, plus the versions not stored with SSE-KMS:
        each gzip CSV file of its manifest in one streaming pass (columns as its fileSchema names them)."""
        m, lb, n = found["manifest"], self.s.logging_bucket, Counter()
        col = {name.strip(): i for i, name in enumerate(m.get("fileSchema", "").split(","))}
        ik, il, idm, isz, ienc = (col.get(c) for c in ("Key", "IsLatest", "IsDeleteMarker", "Size", "EncryptionStatus"))
        if None in (ik, il, idm, isz, ienc):  # the template's configuration has them all
            self.failed("inventory_report", "BadManifest", f" ({found['key']} lacks a column of Key, IsLatest, "
                        "IsDeleteMarker, Size, EncryptionStatus); totals come from a listing")
            return None
        inv = {"n": n, "largest": [None, 0], "new_keys": [], "other_keys": [], "complete": True,
               "source": "s3-inventory", "date": found["date"], "files": 0, "not_kms": 0, "not_kms_keys": []}
        by_fmt, largest, plain = {f: [0, 0] for f in FORMATS}, inv["largest"], inv["not_kms_keys"]
        try:
            for file in m.get("files", []):
                if self.left() < LIST_RESERVE_S:
                    inv["complete"] = False
                    self.failed("inventory_report", "TimeBudget", f" after {inv['files']} of {len(m['files'])} files")
                    break
                # gzip reads 8 KiB at a time: a 1 MiB buffer saves thousands of reads from the S3 stream
                body = io.BufferedReader(self.s3.get_object(Bucket=lb, Key=file["key"])["Body"], 1 << 20)
                with gzip.open(body, "rt", encoding="utf-8", newline="") as text:
                    for row in csv.reader(text):
                        if row[idm] == "true":
                            n["dm"] += 1
                            continue
                        size = int(row[isz] or 0)
                        if row[ienc] != "SSE-KMS":
                            inv["not_kms"] += 1
                            plain += [f"{unquote_plus(row[ik])} ({row[ienc]})"][:SAMPLES - len(plain)]
                        if row[il] != "true":
                            n["nc"] += 1
                            n["nc_bytes"] += size
                            continue
                        # S3 writes keys URL-encoded; an extension reads the same either way, so only the keys
                        # shown are decoded (decoding every row costs 7% of the pass: bench/README.md)
                        raw = row[ik]
                        totals = by_fmt[fmt := fmt_of(raw)]
                        totals[0] += 1
                        totals[1] += size
                        if size > largest[1] or largest[0] is None:
                            largest[:] = [unquote_plus(raw), size]
                        if fmt == "other" and len(inv["other_keys"]) < SAMPLES:
                            inv["other_keys"].append(unquote_plus(raw))
                inv["files"] += 1
        except (*ERRORS, OSError, EOFError, csv.Error, ValueError, IndexError) as exc:
            inv["complete"] = False
            self.failed("inventory_report", exc, f" in file {inv['files'] + 1}; totals are partial")
        for f, (count, size) in by_fmt.items():
            n[f], n[f + "_bytes"] = count, size
        return inv

    def listing(self):
        """One paginated ListObjectVersions pass: current, noncurrent and delete markers."""
        n, since = Counter(), self.now - WINDOW
        inv = {"n": n, "largest": [None, 0], "new_keys": [], "other_keys": [], "complete": True,
               "source": "listing", "date": None, "files": 0}
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
        inv["new_listed"] = n["up"]  # the HEAD checks' base, whatever source the upload count takes
        return inv

    def uploads(self, inv):
        """The uploads of the window into inv's counts: from the listing when it saw every version, else
        (inventory, or a listing cut short) the exact sum of the upload check's metrics, minute by minute."""
        n = inv["n"]
        if inv["source"] == "listing" and inv["complete"]:
            inv["uploads"] = "listing"
            return
        end = self.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        queries = [{"Id": f"{name.lower()}_{f}", "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
            "Namespace": METRICS, "MetricName": name, "Dimensions": dimensions(self.s.bucket, f)}}}
            for name in ("Uploads", "UploadBytes") for f in FORMATS]
        sums, token = Counter(), {}
        try:
            while True:
                r = self.cw.get_metric_data(MetricDataQueries=queries, StartTime=end - WINDOW, EndTime=end, **token)
                for result in r.get("MetricDataResults", []):
                    sums[result["Id"].split("_")[0]] += sum(result.get("Values", []))
                if not r.get("NextToken"):
                    break
                token = {"NextToken": r["NextToken"]}
        except ERRORS as exc:
            inv["uploads"] = None
            return self.failed("upload_metrics", exc, "; no upload alerts")
        n["up"], n["up_bytes"], inv["uploads"] = int(sums["uploads"]), int(sums["uploadbytes"]), "metrics"

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
        """HeadObject on objects modified in the window, at most max_heads; from an inventory, the versions
        it lists as not SSE-KMS (new objects are checked one by one by the upload check as they arrive)."""
        up, cap, keys = inv.get("new_listed", inv["n"]["up"]), self.s.max_heads, inv["new_keys"]
        res = {"expected_key": self.key_arn, "new_objects": up, "cap": cap, "cap_reached": up > cap,
               "checked": 0, "not_kms": 0, "unchecked": up - len(keys), "errors": 0, "source": inv["source"]}
        if inv["source"] != "listing":
            res.update(cap_reached=False, unchecked=0, stored_not_kms=inv["not_kms"])
            if plain := inv["not_kms_keys"]:
                self.alert("OBJECT_NOT_KMS", f"{inv['not_kms']} stored versions are not SSE-KMS (inventory of "
                           f"{inv['date']:%Y-%m-%d}): {'; '.join(plain)}", samples=plain)
            return res
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
        if not inv["uploads"]:
            pass  # unknown uploads: upload alerts would be wrong
        elif n["up"] == 0:
            alert("UPLOADS_NONE", f"No uploads in the last 24 h (expected about {s.expected})")
        elif n["up"] < low:
            alert("UPLOADS_LOW", f"{n['up']} uploads in 24 h, below {low:g} ({s.expected} -{s.deviation}%)")
        elif n["up"] > high:
            alert("UPLOADS_HIGH", f"{n['up']} uploads in 24 h, above {high:g} ({s.expected} +{s.deviation}%)")
        if other := n["other"]:
            new = f"{n['other_new']} new" if inv["source"] == "listing" else f"inventory of {inv['date']:%Y-%m-%d}"
            alert("UNSUPPORTED_FORMAT", f"{other} objects ({new}) are not pdf/epub/mobi: "
                  f"{', '.join(inv['other_keys'])}", samples=inv["other_keys"])
        if inv["date"] and (age := self.now - inv["date"]) > INVENTORY_MAX_AGE:
            alert("INVENTORY_STALE", f"The newest inventory report is {age.total_seconds() / 3600:.0f} h old "
                  f"({inv['date']:%Y-%m-%d %H:%M} UTC); totals are from then")
        if (stored := sum(n[f + "_bytes"] for f in FORMATS) + n["nc_bytes"]) > s.threshold_gb * 1024**3:
            alert("STORAGE_THRESHOLD_EXCEEDED", f"{human(stored)} stored with old versions, over "
                  f"{s.threshold_gb} GiB")

    def run(self, trigger="schedule"):
        """Every check in order, then the report (docs/monitor.md, "The report")."""
        self.expected_key()
        self.configuration()
        found = self.newest_inventory()
        inv = (found and self.read_inventory(found)) or self.listing()
        self.uploads(inv)
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
                                 "deviation_percent": s.deviation, "source": inv["uploads"]},
            "noncurrent_versions": {"count": n["nc"], "bytes": n["nc_bytes"]},
            "delete_markers": {"count": n["dm"]},
            "largest_object": {"key": inv["largest"][0], "bytes": inv["largest"][1]},
            "encryption_check": enc, "configuration": self.conf,
            "inventory": {"complete": inv["complete"], "pages": n["pages"], "source": inv["source"],
                          "date": inv["date"] and inv["date"].strftime("%Y-%m-%dT%H:%MZ"), "files": inv["files"]},
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


class UploadCheck(Monitor):
    """The upload check of one new object (an S3 "Object Created" event from the upload rule)."""

    def check(self, event):
        """Checks the object: SSE-KMS with the stack's key, an e-book by content that its name agrees with,
        not empty; records it as the metrics Uploads and UploadBytes (dimensions Bucket and Format by name),
        which the daily run sums. Returns the check's report (docs/monitor.md, "The upload check")."""
        obj = (event.get("detail") or {}).get("object") or {}
        version = {"VersionId": obj["version-id"]} if obj.get("version-id") else {}
        key = obj.get("key", "")
        info = {"key": key, "version_id": version.get("VersionId"), "size": obj.get("size", 0),
                "format": fmt_of(key), "content": None, "encryption": None, "kms_key": None}
        self.expected_key()
        try:
            key, head = self.locate(key, version)
        except ERRORS as exc:
            head = None
            if err_code(exc) not in ("NotFound", "NoSuchKey"):  # else deleted since: nothing left to check
                self.failed("upload_check", exc, f" for {key}")
        if head is not None:
            info.update(key=key, size=head.get("ContentLength", 0), format=fmt_of(key),
                        encryption=head.get("ServerSideEncryption"), kms_key=head.get("SSEKMSKeyId"))
            self.verify(info, version)
        self.record(info)
        alerts = sorted(self.alerts, key=lambda a: -RANK[a["severity"]])
        report = {"status": "ALERT" if alerts else "OK", "environment": self.s.environment,
                  "bucket": self.s.bucket, "generated_at": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "trigger": "upload", "object": info, "alerts": alerts,
                  "requests": dict(sorted(self.requests.items())),
                  "duration_ms": int((time.monotonic() - self.t0) * 1000)}
        report["summary"] = [f"eBook upload check: {report['environment']} / {report['bucket']} / {info['key']}",
                             f"Status: {report['status']}, {tally(report)}", ""] + [
            f"[{a['severity'].upper()}] {a['code']}: {a['message']}" for a in alerts]
        return report

    def locate(self, key, version):
        """(key, HeadObject) of the event's key; S3 event keys may arrive URL-encoded: the decoded one next."""
        keys = list(dict.fromkeys((key, unquote_plus(key))))
        for k in keys:
            try:
                return k, self.s3.head_object(Bucket=self.s.bucket, Key=k, **version)
            except ERRORS as exc:
                if k == keys[-1] or err_code(exc) not in ("NotFound", "NoSuchKey"):
                    raise

    def verify(self, info, version):
        """The alerts on one stored object; its content is read only when its key lets the monitor read it."""
        key, alg, kid = info["key"], info["encryption"], info["kms_key"]
        kms_ok = alg == "aws:kms" and self.key_matches(kid)
        if not kms_ok:
            self.alert("OBJECT_NOT_KMS", f"New object {key} is stored with {alg} {kid or ''}".rstrip()
                       + f", not SSE-KMS under {self.key_arn or self.s.kms_key}", samples=[key])
        if not info["size"]:
            return self.alert("EMPTY_OBJECT", f"New object {key} is empty (0 bytes)", samples=[key])
        if not kms_ok and alg == "aws:kms":
            return  # another KMS key: reading needs that key's grant, and the alert above names it

        def read(byte_range):
            return self.s3.get_object(Bucket=self.s.bucket, Key=key, Range=byte_range, **version)["Body"].read()
        try:  # the trailer only for a PDF bigger than what the first read got
            first = read(f"bytes=0-{HEAD_BYTES - 1}")
            big_pdf = info["size"] > HEAD_BYTES and first[:5] == b"%PDF-"
            last = read(f"bytes=-{TAIL_BYTES}") if big_pdf else first[-TAIL_BYTES:]
        except ERRORS as exc:
            return self.failed("upload_check", exc, f" reading {key}")
        info["content"] = content = sniff(first, last) or "not an e-book"
        if content != info["format"]:
            named = f"named .{info['format']}" if info["format"] != "other" else "not named .pdf/.epub/.mobi"
            what = "no PDF, EPUB or MOBI content" if content == "not an e-book" else f"{content.upper()} content"
            self.alert("UNSUPPORTED_FORMAT", f"New object {key} is {named} but holds {what} (first bytes "
                       f"{first[:8].hex() or 'none'})", samples=[key])

    def record(self, info):
        """The upload as metrics, for the daily run's exact sum of the last 24 hours."""
        dims = dimensions(self.s.bucket, info["format"])
        try:
            self.cw.put_metric_data(Namespace=METRICS, MetricData=[
                {"MetricName": "Uploads", "Dimensions": dims, "Value": 1, "Unit": "Count"},
                {"MetricName": "UploadBytes", "Dimensions": dims, "Value": info["size"], "Unit": "Bytes"}])
        except ERRORS as exc:
            self.failed("upload_record", exc)


def tally(r):
    """The alert count in words: "3 alerts (1 critical)", "1 alert" or "no alerts"."""
    count, crit = len(r["alerts"]), sum(a["severity"] == "critical" for a in r["alerts"])
    return (f"{count} alert{'s' * (count != 1)}" if count else "no alerts") + (f" ({crit} critical)" * bool(crit))


def subject(r):
    """The SNS subject (at most 100 characters): status, environment, date and the alert count."""
    what = "upload" if r["trigger"] == "upload" else "storage"
    return f"[{r['status']}] eBook {what} {r['environment']} {r['generated_at'][:10]}: {tally(r)}"[:100]


def summary(r):
    """The report as text lines: header, status, one line per alert, then a two-column table."""
    c, enc, up, nc, big, inv = (r[k] for k in ("configuration", "encryption_check", "uploads_last_24h",
                                               "noncurrent_versions", "largest_object", "inventory"))
    de, pab, lg = c.get("default_encryption"), c.get("public_access_block"), c.get("logging")
    rows = [("Objects", f"{r['objects']['total']:,} ({human(r['bytes']['total'])})")] + [
        (f"  {f}", f"{k:,} ({human(r['bytes']['by_format'][f])})") for f, k in r["objects"]["by_format"].items()]
    rows += [
        ("Uploads last 24 h", f"{up['count']:,} ({human(up['bytes'])}), expected {up['expected']:,} "
         f"+/-{up['deviation_percent']}%" + (f", from {up['source']}" if up["source"] else ", UNKNOWN")),
        ("Noncurrent versions", f"{nc['count']:,} ({human(nc['bytes'])}), {r['delete_markers']['count']:,} "
         "delete markers"),
        ("Largest object", f"{big['key']} ({human(big['bytes'])})"),
        ("New objects checked", f"{enc['checked']:,} of {enc['new_objects']:,}, {enc['not_kms']} not SSE-KMS"
         + (f"; cap {enc['cap']} reached" if enc["cap_reached"] else "") if enc["source"] == "listing" else
         f"at upload; {enc['stored_not_kms']:,} stored versions not SSE-KMS"),
        ("Versioning", c.get("versioning", "unknown")),
        ("Default encryption", f"{de['algorithm']} {de['kms_key']}" if de else "unknown"),
        ("Public access block", ("all on" if all(pab.values()) else "OFF") if pab else "unknown"),
        ("Object ownership", c.get("object_ownership", "unknown")),
        ("Access logging", str(lg["target_bucket"] or "off") if lg else "unknown"),
        ("Inventory", ("complete" if inv["complete"] else "PARTIAL") + f" {inv['source']}"
         + (f" of {inv['date']}" if inv["date"] else "")
         + f", {sum(r['requests'].values()):,} requests, {r['duration_ms']:,} ms")]
    return [f"eBook storage report: {r['environment']} / {r['bucket']} / {r['generated_at']}",
            f"Status: {r['status']}, {tally(r)}", ""] + (
        [f"[{a['severity'].upper()}] {a['code']}: {a['message']}" for a in r["alerts"]] or ["No alerts."]
    ) + [""] + [f"{k:<22} {v}" for k, v in [("METRIC", "VALUE"), *rows]]


def handler(event, context):
    """Lambda entry point (index.handler). The event: EventBridge's scheduled event (the rule's target has
    no Input), {"source": "manual"}, S3's "Object Created" event (the upload check; it publishes only
    alerts), or {"action": "test-failure"} to prove the on-failure destination."""
    event = event if isinstance(event, dict) else {}
    if event.get("action") == "test-failure":
        raise RuntimeError("Deliberate failure (action=test-failure) to test the failure path")
    cfg = settings()
    if not cfg.bucket:
        raise RuntimeError("BUCKET_NAME is not set")
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        check = UploadCheck(cfg, context)
        report = check.check(event)
        report["invoked_by"] = {k: event.get(k) for k in EVENT_KEYS}
        LOG.info("%s", json.dumps(report))
        if cfg.topic and report["alerts"]:
            check.publish(report)
        return report
    monitor, source = Monitor(cfg, context), event.get("source", "aws.events")
    report = monitor.run("schedule" if source == "aws.events" else str(source))
    # Where the run came from: the EventBridge event's identity, or a direct invocation.
    eb = event.get("source") == "aws.events" and "detail-type" in event
    report["invoked_by"] = {k: event.get(k) for k in EVENT_KEYS} if eb else {"source": "direct"}
    LOG.info("%s", json.dumps(report))
    if cfg.topic:
        monitor.publish(report)
    return report
