"""Issue "reliability", case 4: teardown guards.

Teardown without ``ebook_stack_purge_data=true`` of a stack whose bucket holds e-books must change nothing:
the stack, every version and delete marker stay (roles/ebook_stack/tasks/teardown.yml refuses before its
first change). Teardown of prod is refused before the stack or its bucket is even read, even with the purge
flag.
"""

from __future__ import annotations

from tests.support.aws import bucket_exists, client, stack_fingerprint, stack_name
from tests.support.environment import DUMMY_CREDENTIALS


def test_teardown_without_purge_of_a_bucket_with_ebooks_changes_nothing(shared_test_stack, shared_endpoint, ansible):
    ledger = shared_test_stack.ledger
    cfn, kms = client(shared_endpoint, "cloudformation"), client(shared_endpoint, "kms")
    stack = shared_test_stack.stack()
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    listing = ledger.listing()
    before = stack_fingerprint(cfn, shared_test_stack.name)

    run = ansible.playbook("playbooks/teardown.yml", "inventories/test", endpoint=shared_endpoint,
                           label="teardown-test-no-purge")
    assert run.rc != 0, f"teardown without purge went through:\n{run.describe()}"
    current = sum(1 for _k, _v, kind, _e, latest in listing if kind == "version" and latest)
    versions = sum(1 for entry in listing if entry[2] == "version")
    markers = sum(1 for entry in listing if entry[2] == "marker")
    message = run.failure_text()
    assert (f"{ledger.bucket} holds {current} e-books ({versions} versions, {markers} delete markers). "
            "Nothing was changed.") in message, message
    assert "-e ebook_stack_purge_data=true" in message, message
    assert not run.ran("Delete the stack") and not run.ran("Delete the data bucket"), run.describe()
    assert not run.has_traceback(), run.describe()

    assert stack_fingerprint(cfn, shared_test_stack.name) == before, "the stack changed"
    assert ledger.listing() == listing, "versions or delete markers changed"
    assert bucket_exists(client(shared_endpoint, "s3"), outputs["LoggingBucketName"])
    assert kms.describe_key(KeyId=outputs["KmsKeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    problems = ledger.problems()
    assert not problems, f"e-books lost or changed ({ledger.summary()}): {problems}"


def test_teardown_of_prod_is_refused_even_with_purge(shared_prod_library, shared_endpoint, ansible):
    listing = shared_prod_library.listing()
    run = ansible.playbook("playbooks/teardown.yml", "inventories/prod",
                           {"ebook_stack_endpoint_url": shared_endpoint, "ebook_stack_aws_env": DUMMY_CREDENTIALS,
                            "ebook_stack_purge_data": True},
                           endpoint=shared_endpoint, label="teardown-prod-purge")
    assert run.rc != 0, f"teardown of prod went through:\n{run.describe()}"
    final = run.failures()[-1]
    assert final.task == "Refuse to tear down prod", run.describe()
    refusal = f"Teardown refuses prod ({stack_name('prod')}): prod data is never deleted by a playbook."
    assert refusal in final.data["msg"]
    assert "docs/runbooks/teardown.md" in final.data["msg"]
    assert not run.ran("Count what the data bucket holds"), "teardown of prod read the bucket before refusing"
    assert not run.has_traceback(), run.describe()
    assert shared_prod_library.listing() == listing
    problems = shared_prod_library.problems()
    assert not problems, f"e-books lost or changed ({shared_prod_library.summary()}): {problems}"
