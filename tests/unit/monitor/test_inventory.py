"""The daily run's totals from the newest S3 Inventory report (Monitor.newest_inventory / read_inventory).

Reports are written into the log bucket in AWS's layout by tests/support/s3_inventory.py (manifest.json,
gzip CSV data files, data/ and hive/ beside the dated folders). The constants that locate them agree with
files/TapStack.yml (read with cfn-lint's loader, as tests/unit/test_template.py reads it).
"""

import gzip
import itertools
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cfnlint.decode.cfn_yaml import load as cfn_load
from tests.support.s3_inventory import Version

from .support import DATA_BUCKET, LOG_BUCKET, ROOT, alert_of, codes

TOTALS = ("objects", "bytes", "noncurrent_versions", "delete_markers", "largest_object")
HOUR = timedelta(hours=1)


VERSION_IDS = itertools.count(1)


def version(key, size=10, latest=True, marker=False, encryption="SSE-KMS"):
    """One inventory row of a version written three hours ago."""
    return Version(key, f"v{next(VERSION_IDS)}", latest, marker, size, datetime.now(UTC) - 3 * HOUR, encryption)


def varied_bucket(stack):
    """Current books of each format and other files, overwritten versions, delete markers."""
    stack.healthy_content()
    stack.put("new/a.pdf", b"v2" * 10)
    stack.delete("old/y.epub")
    stack.put("misc/notes to self.txt", b"t" * 3)
    stack.put("auteurs/Émile Zola/L'Œuvre (1886).epub", b"e" * 5000)
    stack.put("gone/z.mobi", b"z" * 70)
    stack.delete("gone/z.mobi")


def inventory_line(report):
    return next(line for line in report["summary"] if line.startswith("Inventory "))[23:]


def put_log(stack, key, body):
    stack.s3.put_object(Bucket=LOG_BUCKET, Key=key, Body=body)


# --- the same totals as the listing --------------------------------------------------------------------

@pytest.mark.parametrize("rows_per_file", [1_000_000, 3])
def test_inventory_gives_the_listings_totals(stack, rows_per_file):
    varied_bucket(stack)
    listed = stack.run()
    assert listed["inventory"]["source"] == "listing"
    written = stack.write_inventory(rows_per_file=rows_per_file)
    report = stack.run()
    assert report["inventory"]["source"] == "s3-inventory"
    assert report["inventory"]["files"] == len(written.manifest["files"]) == (1 if rows_per_file > 3 else 4)  # 12 rows
    assert report["inventory"]["complete"] is True
    assert {k: report[k] for k in TOTALS} == {k: listed[k] for k in TOTALS}
    assert report["objects"]["by_format"]["other"] == 1 and report["delete_markers"]["count"] == 2
    assert "ListObjectVersions" not in report["requests"] and "HeadObject" not in report["requests"]


def test_inventory_report_is_named_in_the_report_and_summary(stack):
    stack.healthy_content()
    when = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
    stack.write_inventory(when=when)
    report = stack.run()
    assert report["inventory"]["date"] == "2026-11-30T01:30Z"
    assert inventory_line(report).startswith("complete s3-inventory of 2026-11-30T01:30Z, ")


def test_listing_is_named_in_the_summary(healthy):
    assert inventory_line(healthy.run()).startswith("complete listing, ")


# --- which report -----------------------------------------------------------------------------------

def test_newest_complete_report_is_chosen(stack):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    stack.write_inventory([version("older/a.pdf", 1)], when=now - 20 * HOUR)
    newest = stack.write_inventory([version("newest/b.epub", 2), version("newest/c.mobi", 3)], when=now - 2 * HOUR)
    folder = newest.folder
    # S3 is still writing the next one: its folder has no manifest.json yet
    put_log(stack, f"{folder}{now - HOUR:%Y-%m-%dT%H-%MZ}/manifest.checksum", b"0")
    put_log(stack, f"{folder}not-a-report/manifest.json", b"{not json")  # no date: not a report either
    report = stack.run()
    assert report["inventory"]["date"] == f"{now - 2 * HOUR:%Y-%m-%dT%H:%MZ}"
    assert report["objects"]["by_format"] == {"pdf": 0, "epub": 1, "mobi": 1, "other": 0}
    assert [c for c in codes(report) if c in ("CHECK_FAILED", "INVENTORY_STALE")] == []


def test_data_and_hive_folders_are_not_reports(stack):
    written = stack.write_inventory([version("a.pdf")])
    listed = stack.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix=written.folder, Delimiter="/")["CommonPrefixes"]
    assert sorted(p["Prefix"][len(written.folder):] for p in listed) == [
        written.manifest_key.split("/")[-2] + "/", "data/", "hive/"]  # both sort after a dated folder
    report = stack.run()
    assert report["inventory"]["source"] == "s3-inventory" and report["objects"]["total"] == 1


def test_report_older_than_48_hours_is_stale(stack):
    stack.write_inventory([version("a.pdf")], when=datetime.now(UTC) - 50 * HOUR)
    report = stack.run()
    alert = alert_of(report, "INVENTORY_STALE")
    assert alert["severity"] == "warning"
    assert "is 50 h old" in alert["message"] and "AllowS3InventoryDelivery" in alert["message"]
    assert report["inventory"]["source"] == "s3-inventory"  # its totals are still used


def test_report_of_47_hours_is_not_stale(stack):
    stack.write_inventory([version("a.pdf")], when=datetime.now(UTC) - 47 * HOUR)
    assert "INVENTORY_STALE" not in codes(stack.run())


def test_no_logging_bucket_means_the_listing(healthy):
    healthy.write_inventory([version("only-in-the-report.pdf")])
    healthy.env(LOGGING_BUCKET="")
    report = healthy.run()
    assert report["inventory"]["source"] == "listing" and report["objects"]["total"] == 6
    assert "ListObjectsV2" not in report["requests"]


# --- what the report holds ----------------------------------------------------------------------------

def test_versions_not_sse_kms_alert_with_their_keys_decoded(stack):
    stack.write_inventory([
        version("books/my book.pdf", encryption="SSE-S3"), version("Émile/Œuvre.epub", encryption="NOT-SSE"),
        version("old/v1.mobi", latest=False, encryption="SSE-S3"), version("fine.pdf"),
        version("fine.pdf", latest=False), version("gone.pdf", marker=True)])
    report = stack.run()
    alert = alert_of(report, "OBJECT_NOT_KMS")
    assert alert["samples"] == ["books/my book.pdf (SSE-S3)", "Émile/Œuvre.epub (NOT-SSE)", "old/v1.mobi (SSE-S3)"]
    assert "3 stored versions are not SSE-KMS (inventory of " in alert["message"]
    enc = report["encryption_check"]
    assert (enc["source"], enc["stored_not_kms"], enc["checked"], enc["cap_reached"]) == ("s3-inventory", 3, 0, False)
    assert any(line.endswith("at upload; 3 stored versions not SSE-KMS") for line in report["summary"])


def test_url_encoded_keys_are_decoded(stack):
    keys = ["auteurs/Émile Zola/L'Œuvre (1886).epub", "a+b & c/100% sure.pdf", "notes to self.txt"]
    stack.write_inventory([version(keys[0], 900), version(keys[1], 5), version(keys[2], 1)])
    raw = gzip.decompress(stack.s3.get_object(Bucket=LOG_BUCKET, Key=stack.s3.list_objects_v2(
        Bucket=LOG_BUCKET, Prefix=f"inventory/{DATA_BUCKET}/daily/data/")["Contents"][0]["Key"])["Body"].read())
    assert b"%C3%89mile+Zola" in raw and b"a%2Bb+%26+c" in raw  # written as S3 writes them
    report = stack.run()
    assert report["largest_object"] == {"key": keys[0], "bytes": 900}
    assert report["objects"]["by_format"] == {"pdf": 1, "epub": 1, "mobi": 0, "other": 1}
    alert = alert_of(report, "UNSUPPORTED_FORMAT")
    assert alert["samples"] == ["notes to self.txt"] and "(inventory of " in alert["message"]


# --- reports that cannot be read ------------------------------------------------------------------------

@pytest.mark.parametrize("change", ["drop-size", "not-json"])
def test_unreadable_manifest_is_a_failed_check_and_the_listing_counts(healthy, change):
    written = healthy.write_inventory([version("only-in-the-report.pdf")])
    manifest = dict(written.manifest, fileSchema=written.manifest["fileSchema"].replace(", Size", ""))
    healthy.s3.put_object(Bucket=LOG_BUCKET, Key=written.manifest_key,
                          Body=json.dumps(manifest).encode() if change == "drop-size" else b'{"files": [')
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("inventory_report", "BadManifest")
    assert "totals come from a listing" in alert["message"]
    assert report["inventory"]["source"] == "listing"
    assert report["objects"]["total"] == 6 and report["uploads_last_24h"]["source"] == "listing"


def test_damaged_data_file_gives_partial_totals(stack):
    written = stack.write_inventory([version("a.pdf"), version("b.pdf")], rows_per_file=1)
    put_log(stack, written.manifest["files"][1]["key"], b"\x1f\x8b not gzip after all")
    report = stack.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert alert["check"] == "inventory_report" and "in file 2; totals are partial" in alert["message"]
    assert report["inventory"] == {"complete": False, "pages": 0, "source": "s3-inventory",
                                   "date": report["inventory"]["date"], "files": 1}
    assert report["objects"]["total"] == 1
    assert inventory_line(report).startswith("PARTIAL s3-inventory of ")


def test_denied_log_bucket_listing_is_a_failed_check_and_the_listing_counts(healthy, fail_call):
    healthy.write_inventory()
    fail_call("ListObjectsV2")
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("inventory_report", "AccessDenied")
    assert "grant s3:ListBucket and s3:GetObject on the log bucket's inventory/" in alert["message"]
    assert report["inventory"]["source"] == "listing" and report["objects"]["total"] == 6


def test_reading_stops_in_time(stack):
    written = stack.write_inventory([version("a.pdf"), version("b.pdf")], rows_per_file=1)
    report = stack.run(context=SimpleNamespace(get_remaining_time_in_millis=lambda: 30_000))
    alert = alert_of(report, "CHECK_FAILED")
    assert (alert["check"], alert["error"]) == ("inventory_report", "TimeBudget")
    assert f"after 0 of {len(written.manifest['files'])} files" in alert["message"]
    assert report["inventory"]["complete"] is False


# --- in step with the template ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template():
    return cfn_load(str(ROOT / "files" / "TapStack.yml"))


def find(node, test):
    """Every dict in the template for which test(d) holds."""
    if isinstance(node, dict):
        if test(node):
            yield node
        for value in node.values():
            yield from find(value, test)
    elif isinstance(node, list):
        for value in node:
            yield from find(value, test)


def test_inventory_location_matches_the_templates_inventory_configuration(mon, template):
    configs = template["Resources"]["EbooksS3Bucket"]["Properties"]["InventoryConfigurations"]
    [config] = configs["Fn::If"][1] if "Fn::If" in configs else configs
    location = f"{config['Destination']['Prefix']}/{{bucket}}/{config['Id']}/"
    assert location == mon.INVENTORY
    assert (config["Destination"]["Format"], config["IncludedObjectVersions"]) == ("CSV", "All")
    assert {"Size", "EncryptionStatus"} <= set(config["OptionalFields"])  # the columns the monitor reads


def test_metrics_namespace_matches_the_templates_put_upload_metrics(mon, template):
    [statement] = find(template, lambda d: d.get("Sid") == "PutUploadMetrics")
    assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"] == mon.METRICS
