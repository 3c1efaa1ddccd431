"""Each alert: raised when its condition holds, absent on a healthy bucket, with severity and an action."""

import pytest
from .support import DATA_BUCKET, LOG_BUCKET, ROOT, alert_of, codes

DOCUMENTED = {
    "CHECK_FAILED": "critical", "KMS_KEY_NOT_ENABLED": "critical", "VERSIONING_NOT_ENABLED": "critical",
    "DEFAULT_ENCRYPTION_DRIFT": "critical", "PUBLIC_ACCESS_BLOCK_OFF": "critical", "ACLS_ENABLED": "critical",
    "LOGGING_DRIFT": "warning", "OBJECT_NOT_KMS": "critical", "UPLOADS_NONE": "critical",
    "UPLOADS_LOW": "warning", "UPLOADS_HIGH": "warning", "UNSUPPORTED_FORMAT": "warning",
    "STORAGE_THRESHOLD_EXCEEDED": "warning", "EMPTY_OBJECT": "warning", "INVENTORY_STALE": "warning",
}


def documented_alerts():
    """docs/monitor.md's alert table: {code: (severity, raised when, operator action)}, backticks removed."""
    rows = {}
    for line in (ROOT / "docs" / "monitor.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4 and cells[1] in ("critical", "warning"):
            rows[cells[0]] = tuple(cells[1:])
    return rows


def test_alert_table_matches_the_documented_codes_and_severities(mon):
    assert {code: entry[0] for code, entry in mon.ALERTS.items()} == DOCUMENTED
    assert {code: row[0] for code, row in documented_alerts().items()} == DOCUMENTED


@pytest.mark.parametrize("code", ["EMPTY_OBJECT", "INVENTORY_STALE"])
def test_new_alerts_are_documented_with_the_fix_their_message_gives(mon, code):
    assert documented_alerts()[code][2] == mon.ALERTS[code][1]


def test_documented_check_failed_row_names_every_check(mon):
    raised_when = documented_alerts()["CHECK_FAILED"][1]
    assert [check for check in mon.ACTIONS if check not in raised_when] == []


def test_healthy_bucket_raises_none_of_the_alerts(healthy):
    report = healthy.run()
    assert [code for code in DOCUMENTED if code in codes(report)] == []
    assert report["alerts"] == []
    assert report["status"] == "OK"


def assert_actionable(alert, severity):
    assert alert["severity"] == severity
    assert ". Fix: " in alert["message"] and alert["message"].endswith(".")


def test_uploads_none_is_critical(stack):
    stack.put("old/a.pdf", days_old=2)
    report = stack.run()
    alert = alert_of(report, "UPLOADS_NONE")
    assert_actionable(alert, "critical")
    assert "expected about 4" in alert["message"]
    assert report["status"] == "ALERT"


@pytest.mark.parametrize(("uploads", "expected_code"), [(1, "UPLOADS_LOW"), (2, None), (6, None), (7, "UPLOADS_HIGH")])
def test_upload_deviation_limits(stack, uploads, expected_code):
    # expected 4 per day, deviation 50 %: 2..6 is normal
    for i in range(uploads):
        stack.put(f"day/{i}.epub")
    found = [c for c in codes(stack.run()) if c.startswith("UPLOADS_")]
    assert found == ([expected_code] if expected_code else [])


def test_uploads_low_and_high_are_warnings_with_numbers(stack):
    stack.put("day/1.pdf")
    low = alert_of(stack.run(), "UPLOADS_LOW")
    assert_actionable(low, "warning")
    assert "1 uploads in 24 h, below 2" in low["message"]
    stack.env(EXPECTED_DAILY_UPLOADS="1", UPLOAD_DEVIATION_PERCENT="10")
    for i in range(3):
        stack.put(f"day/extra{i}.pdf")
    high = alert_of(stack.run(), "UPLOADS_HIGH")
    assert_actionable(high, "warning")
    assert "4 uploads in 24 h, above 1.1" in high["message"]


def test_object_not_kms_lists_sample_keys(healthy):
    healthy.put("new/plain.pdf", ServerSideEncryption="AES256")
    healthy.put("new/wrong-key.epub", ServerSideEncryption="aws:kms", SSEKMSKeyId=healthy.other_key_arn)
    report = healthy.run()
    alert = alert_of(report, "OBJECT_NOT_KMS")
    assert_actionable(alert, "critical")
    assert alert["samples"] == ["new/plain.pdf (AES256)", f"new/wrong-key.epub (aws:kms {healthy.other_key_arn})"]
    assert "2 of 6 new objects" in alert["message"]
    assert report["encryption_check"]["not_kms"] == 2


def test_object_not_kms_samples_are_capped(stack, mon):
    stack.env(EXPECTED_DAILY_UPLOADS="12")
    for i in range(12):
        stack.put(f"plain/{i:02d}.pdf", ServerSideEncryption="AES256")
    alert = alert_of(stack.run(), "OBJECT_NOT_KMS")
    assert len(alert["samples"]) == mon.SAMPLES == 10
    assert "12 of 12 new objects" in alert["message"]


def test_object_encrypted_under_the_alias_counts_as_the_expected_key(healthy):
    # LocalStack and moto may report the alias ARN that the default encryption names
    healthy.env(EXPECTED_KMS_KEY=healthy.alias_arn)
    healthy.set_default_encryption("aws:kms", healthy.alias_arn)
    healthy.put("new/by-alias.pdf")
    report = healthy.run()
    assert report["encryption_check"]["expected_key"] == healthy.key_arn
    assert report["encryption_check"]["checked"] == 5
    assert codes(report) == []


def test_old_objects_are_not_head_checked_so_no_object_alert_for_them(healthy):
    healthy.put("old/plain.pdf", ServerSideEncryption="AES256", days_old=4)
    assert "OBJECT_NOT_KMS" not in codes(healthy.run())


def test_unsupported_format_is_a_warning_with_samples(healthy):
    healthy.put("misc/readme.txt")
    healthy.put("misc/cover", days_old=3)
    alert = alert_of(healthy.run(), "UNSUPPORTED_FORMAT")
    assert_actionable(alert, "warning")
    assert "2 objects (1 new)" in alert["message"]
    assert sorted(alert["samples"]) == ["misc/cover", "misc/readme.txt"]


def test_versioning_suspended(healthy):
    healthy.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    report = healthy.run()
    assert_actionable(alert_of(report, "VERSIONING_NOT_ENABLED"), "critical")
    assert report["configuration"]["versioning"] == "Suspended"


def test_versioning_never_enabled(healthy):
    healthy.s3.create_bucket(Bucket="unversioned-books")
    healthy.env(BUCKET_NAME="unversioned-books")
    assert "Versioning is Disabled" in alert_of(healthy.run(), "VERSIONING_NOT_ENABLED")["message"]


@pytest.mark.parametrize("setting", ["AES256", "other-key", "aws-managed", "removed"])
def test_default_encryption_drift(healthy, setting):
    if setting == "AES256":
        healthy.set_default_encryption("AES256")
    elif setting == "other-key":
        healthy.set_default_encryption("aws:kms", healthy.other_key_arn)
    elif setting == "aws-managed":
        healthy.set_default_encryption("aws:kms")
    else:
        healthy.s3.delete_bucket_encryption(Bucket=DATA_BUCKET)
    alert = alert_of(healthy.run(), "DEFAULT_ENCRYPTION_DRIFT")
    assert_actionable(alert, "critical")
    assert healthy.key_arn in alert["message"]


def test_default_encryption_by_alias_or_key_id_is_not_drift(healthy):
    for key in (healthy.alias_arn, healthy.key_arn.split("/")[-1]):
        healthy.set_default_encryption("aws:kms", key)
        assert "DEFAULT_ENCRYPTION_DRIFT" not in codes(healthy.run())


def test_public_access_block_partly_off(healthy):
    healthy.s3.put_public_access_block(Bucket=DATA_BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
    alert = alert_of(healthy.run(), "PUBLIC_ACCESS_BLOCK_OFF")
    assert_actionable(alert, "critical")
    assert "BlockPublicPolicy" in alert["message"] and "BlockPublicAcls" not in alert["message"]


def test_public_access_block_removed(healthy):
    healthy.s3.delete_public_access_block(Bucket=DATA_BUCKET)
    report = healthy.run()
    assert_actionable(alert_of(report, "PUBLIC_ACCESS_BLOCK_OFF"), "critical")
    assert not any(report["configuration"]["public_access_block"].values())


@pytest.mark.parametrize("ownership", ["ObjectWriter", "BucketOwnerPreferred", None])
def test_acls_enabled(healthy, ownership):
    if ownership:
        healthy.s3.put_bucket_ownership_controls(
            Bucket=DATA_BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})
    else:
        healthy.s3.delete_bucket_ownership_controls(Bucket=DATA_BUCKET)
    report = healthy.run()
    assert_actionable(alert_of(report, "ACLS_ENABLED"), "critical")
    assert report["configuration"]["object_ownership"] == (ownership or "not set")


def test_logging_turned_off_is_drift(healthy):
    healthy.s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={})
    alert = alert_of(healthy.run(), "LOGGING_DRIFT")
    assert_actionable(alert, "warning")
    assert f"Access logs go to nowhere, expected {LOG_BUCKET}" in alert["message"]


def test_logging_to_another_bucket_is_drift(healthy):
    healthy.s3.create_bucket(Bucket="somewhere-else")
    healthy.s3.put_bucket_acl(Bucket="somewhere-else", ACL="log-delivery-write")
    healthy.s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "somewhere-else", "TargetPrefix": ""}})
    assert "Access logs go to somewhere-else" in alert_of(healthy.run(), "LOGGING_DRIFT")["message"]


def test_logging_on_when_the_stack_has_it_off_is_drift_and_off_is_fine(healthy):
    healthy.env(LOGGING_BUCKET="")
    assert "expected logging off" in alert_of(healthy.run(), "LOGGING_DRIFT")["message"]
    healthy.s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={})
    assert "LOGGING_DRIFT" not in codes(healthy.run())


def test_storage_threshold_counts_noncurrent_versions(stack):
    stack.env(STORAGE_ALERT_THRESHOLD_GB="0")
    stack.put("gone.pdf", b"12345", days_old=2)
    stack.delete("gone.pdf")  # no current bytes left, only a noncurrent version
    alert = alert_of(stack.run(), "STORAGE_THRESHOLD_EXCEEDED")
    assert_actionable(alert, "warning")
    assert "5 B stored with old versions, over 0 GiB" in alert["message"]


def test_storage_under_threshold_has_no_alert(healthy):
    healthy.env(STORAGE_ALERT_THRESHOLD_GB="1")
    assert "STORAGE_THRESHOLD_EXCEEDED" not in codes(healthy.run())


def test_kms_key_disabled(healthy):
    healthy.kms.disable_key(KeyId=healthy.key_arn.split("/")[-1])  # moto wants the key id here
    alert = alert_of(healthy.run(), "KMS_KEY_NOT_ENABLED")
    assert_actionable(alert, "critical")
    assert "is Disabled" in alert["message"]


def test_unknown_expected_key_is_a_failed_check_and_the_rest_still_runs(healthy):
    missing = healthy.alias_arn.replace("ebooks-dev", "does-not-exist")
    healthy.env(EXPECTED_KMS_KEY=missing)
    report = healthy.run()
    alert = alert_of(report, "CHECK_FAILED")
    assert_actionable(alert, "critical")
    assert (alert["check"], alert["error"]) == ("kms_key", "NotFoundException")
    assert "set EXPECTED_KMS_KEY" in alert["message"]
    assert report["objects"]["total"] == 6
    assert report["encryption_check"]["checked"] == 4
    assert report["encryption_check"]["expected_key"] is None


def test_missing_expected_key_setting_is_a_failed_check(healthy, monkeypatch):
    monkeypatch.delenv("EXPECTED_KMS_KEY")
    alert = alert_of(healthy.run(), "CHECK_FAILED")
    assert alert["check"] == "kms_key"
    assert "set EXPECTED_KMS_KEY" in alert["message"]


def test_alerts_are_sorted_critical_first(healthy):
    healthy.put("misc/a.txt", ServerSideEncryption="AES256")
    healthy.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    severities = [a["severity"] for a in healthy.run()["alerts"]]
    assert severities == ["critical", "critical", "warning"]


DRIFTS = ("VERSIONING_NOT_ENABLED", "DEFAULT_ENCRYPTION_DRIFT", "PUBLIC_ACCESS_BLOCK_OFF", "ACLS_ENABLED",
          "LOGGING_DRIFT")


def drift_everything(stack):
    stack.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    stack.set_default_encryption("AES256")
    stack.s3.delete_public_access_block(Bucket=DATA_BUCKET)
    stack.s3.put_bucket_ownership_controls(
        Bucket=DATA_BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    stack.s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={})


@pytest.mark.parametrize(("environment", "command"), [
    ("dev", "ansible-playbook deploy.yml -i inventories/dev"),
    ("test", "ansible-playbook deploy.yml -i inventories/test"),
    ("prod", "ansible-playbook deploy.yml -i inventories/prod -e ebook_stack_repair_drift=true"),
    (None, "ansible-playbook deploy.yml -i inventories/ENV (prod: add -e ebook_stack_repair_drift=true)"),
])
def test_drift_fix_is_the_deploy_that_puts_the_declared_settings_back(healthy, monkeypatch, environment, command):
    """The deploy repairs drift of what the template declares: dev/test on every run, prod only when asked."""
    if environment:
        healthy.env(ENVIRONMENT=environment)
    else:
        monkeypatch.delenv("ENVIRONMENT")
    drift_everything(healthy)
    report = healthy.run()
    assert set(DRIFTS) <= set(codes(report))
    for code in DRIFTS:
        message = alert_of(report, code)["message"]
        assert_actionable(alert_of(report, code), "warning" if code == "LOGGING_DRIFT" else "critical")
        assert message.endswith(f". Fix: {command} puts back the declared settings; find who changed it in "
                                "CloudTrail."), message
        assert ("ebook_stack_repair_drift" in message) == (environment in ("prod", None)), message
