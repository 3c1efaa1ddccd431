"""Bucket settings changed outside CloudFormation are put back by the deploy on AWS: in dev and test always, in prod
only with ``-e ebook_stack_repair_drift=true``; without it a prod deploy fails, names the settings, changes nothing
and says how to put them back.

On AWS, CloudFormation never undoes a change made outside it, so the role's own drift repair (post_deploy,
``repair_drift``) is what the monitor's "re-run the deploy" relies on. The role is shown AWS through a proxy that
hides LocalStack's own paths (``FaultProxy(as_aws=True)``), so that it takes its AWS path: no parity step, the drift
comparison instead.

Each stack is created *without* the proxy first: LocalStack's CloudFormation drops the buckets' encryption and
logging on create, and only the LocalStack path (the parity step) applies them; a create through the proxy would
leave them dropped, as if drifted from the start. Then the data bucket is drifted by hand with boto3 (versioning
Suspended, default encryption AES256, public access block off), and the deploys that are checked go through the
proxy.

These tests run on a LocalStack of their own (``RELIABILITY_DRIFT_PORT``, default ``RELIABILITY_DEPLOY_PORT`` + 10,
state folder ``.localstack/reliability-drift``), stopped at the end with everything on it: the deploy tests'
LocalStack holds ``ebooks-storage-prod`` as a retained bucket with e-books and no stack (``shared_prod_library``,
which test_retained_buckets and the prod refusals rely on), and a prod stack cannot be created there without
changing that bucket.
"""

from __future__ import annotations

from reliability_support import FaultProxy, play_recap

from tests.support.aws import client, describe_stack, stack_name, stack_outputs
from tests.support.environment import DUMMY_CREDENTIALS

# What drift_data_bucket does, as post_deploy names it (in the order it compares settings).
DRIFTED = ["data_bucket.public_access_block", "data_bucket.encryption", "data_bucket.versioning"]
FIX = "ansible-playbook deploy.yml -i inventories/prod -e ebook_stack_repair_drift=true"
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# inventories/prod has no endpoint and takes credentials from the usual chain: LocalStack's dummy ones here.
PROD_VARS = {"ebook_stack_aws_env": DUMMY_CREDENTIALS}


def deploy(ansible, env, endpoint, label, extra_vars=None):
    """deploy.yml of ``env`` at ``endpoint`` (LocalStack itself, or the proxy that plays AWS)."""
    extra = {"ebook_stack_endpoint_url": endpoint, **(PROD_VARS if env == "prod" else {}), **(extra_vars or {})}
    return ansible.playbook("deploy.yml", f"inventories/{env}", extra, endpoint=endpoint, label=label)


def create(ansible, env, endpoint):
    """The stack created on LocalStack's own path (parity applies what its CloudFormation drops); its data bucket."""
    run = deploy(ansible, env, endpoint, f"deploy-{env}-create")
    assert run.rc == 0, f"could not create {stack_name(env)}:\n{run.describe()}"
    assert run.tasks("verify the live state of")[-1].data["parity"]["applied"], "LocalStack's path ran no parity"
    return stack_outputs(describe_stack(client(endpoint, "cloudformation"), stack_name(env)))


def drift_data_bucket(s3, bucket):
    """What someone does by hand: versioning suspended, default encryption AES256, public access block off."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(PAB_FLAGS, False))


def bucket_state(s3, bucket):
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "encryption": rule["ApplyServerSideEncryptionByDefault"].get("SSEAlgorithm"),
        "key": rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
        "bucket_key": rule.get("BucketKeyEnabled", False),
        "public_access_block": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
    }


def drifted_state():
    return {"versioning": "Suspended", "encryption": "AES256", "key": None, "bucket_key": False,
            "public_access_block": dict.fromkeys(PAB_FLAGS, False)}


def declared_state(outputs):
    return {"versioning": "Enabled", "encryption": "aws:kms", "key": outputs["KmsKeyArn"], "bucket_key": True,
            "public_access_block": dict.fromkeys(PAB_FLAGS, True)}


def post_deploy_result(run):
    return run.tasks("verify the live state of")[-1].data


def assert_repaired(run, bucket):
    """The run put the drifted settings back, showed them one per line, and its verification passed."""
    assert run.rc == 0, run.describe()
    assert not run.has_traceback(), run.describe()
    result = post_deploy_result(run)
    assert "parity" not in result, "the role took LocalStack's path, not AWS's"
    assert result["drift"]["found"] == result["drift"]["repaired"] == DRIFTED, result["drift"]
    assert result["changed"] is True
    assert run.failed_checks() == [], run.describe()
    shown = run.tasks("Show the bucket settings put back")
    assert shown and shown[-1].status == "ok", run.describe()
    lines = shown[-1].data["msg"]
    for setting in ("public_access_block", "encryption", "versioning"):
        assert f"  {bucket}: {setting}" in lines, lines
    assert any("CloudTrail" in line for line in lines), lines


def test_prod_puts_drift_back_only_when_asked(ansible, drift_localstack):
    endpoint = drift_localstack.endpoint
    outputs = create(ansible, "prod", endpoint)
    bucket = outputs["EbooksBucketName"]
    s3 = client(endpoint, "s3")
    assert bucket_state(s3, bucket) == declared_state(outputs)
    drift_data_bucket(s3, bucket)

    with FaultProxy(endpoint, as_aws=True) as proxy:
        # (a) prod without the flag: the play fails, says what drifted and how to put it back, and changes nothing.
        refused = deploy(ansible, "prod", proxy.url, "deploy-prod-drift-refused")
        assert refused.rc != 0, f"a prod deploy with drift passed:\n{refused.describe()}"
        assert not refused.has_traceback(), refused.describe()
        final = refused.failures()[-1]
        assert final.task == "Fail when a check failed", refused.describe()
        message = final.data["msg"]
        for setting in ("public_access_block", "encryption", "versioning"):
            assert f"  {bucket}: {setting}\n" in message, message
        for text in ("changed outside CloudFormation", "nothing was changed", FIX, "CloudTrail",
                     f"AttributeValue={bucket}"):
            assert text in message, f"{text!r} is missing:\n{message}"
        result = post_deploy_result(refused)
        assert "parity" not in result, "the role took LocalStack's path, not AWS's"
        assert result["drift"]["found"] == DRIFTED and result["drift"]["repaired"] == [], result["drift"]
        assert {"bucket.versioning", "bucket.encryption", "bucket.public_access_block"} <= set(refused.failed_checks())
        assert not refused.ran("Show the bucket settings put back"), refused.describe()
        assert bucket_state(s3, bucket) == drifted_state(), "a prod deploy without the flag changed the bucket"

        # (b) prod with the flag: put back, shown, verified.
        repaired = deploy(ansible, "prod", proxy.url, "deploy-prod-drift-repaired", {"ebook_stack_repair_drift": True})
        assert_repaired(repaired, bucket)
        assert bucket_state(s3, bucket) == declared_state(outputs)

        # (c) the next run finds nothing to put back and changes nothing.
        again = deploy(ansible, "prod", proxy.url, "deploy-prod-drift-again", {"ebook_stack_repair_drift": True})
    assert again.rc == 0, again.describe()
    drift = post_deploy_result(again)["drift"]
    assert drift["found"] == drift["repaired"] == [], drift
    changed = [r.task for r in again.results if r.status == "changed"]
    assert play_recap(again)["changed"] == 0, f"the second run changed {changed}:\n{again.describe()}"
    assert not again.ran("Show the bucket settings put back"), again.describe()


def test_dev_puts_drift_back_without_the_flag(ansible, drift_localstack):
    endpoint = drift_localstack.endpoint
    outputs = create(ansible, "dev", endpoint)
    bucket = outputs["EbooksBucketName"]
    s3 = client(endpoint, "s3")
    drift_data_bucket(s3, bucket)

    with FaultProxy(endpoint, as_aws=True) as proxy:
        # Review mode executes nothing: no post_deploy, so no repair either.
        review = deploy(ansible, "dev", proxy.url, "deploy-dev-drift-review", {"ebook_stack_review": True})
        assert review.rc == 0, review.describe()
        assert not review.ran("verify the live state of"), review.describe()
        assert bucket_state(s3, bucket) == drifted_state(), "review mode changed the bucket"

        run = deploy(ansible, "dev", proxy.url, "deploy-dev-drift-repaired")
    assert_repaired(run, bucket)
    assert bucket_state(s3, bucket) == declared_state(outputs)
