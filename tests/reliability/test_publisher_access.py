"""A backlog upload by someone the publisher role does not trust, as AWS answers it.

playbooks/upload.yml assumes S3AccessRole by default (the identity the bucket policy and the key admit for
writes). On AWS only the publisher backend's services and the principals of the stack parameter
PublisherPrincipalArns may assume it; LocalStack evaluates no trust policy, so a proxy gives the AccessDenied
AWS gives. The operator must learn what to add and where, and nothing may be uploaded.
"""

from __future__ import annotations

from reliability_support import FaultProxy

from tests.support.aws import client
from tests.support.ebooks import sample_pdf

PREFIX = "publisher-denied"


def test_an_untrusted_publisher_is_told_what_to_add_and_nothing_is_uploaded(shared_test_stack, ansible, tmp_path):
    book = tmp_path / "atlas.pdf"
    book.write_bytes(sample_pdf("Atlas"))
    s3 = client(shared_test_stack.endpoint, "s3")
    bucket = shared_test_stack.ledger.bucket
    with FaultProxy(shared_test_stack.endpoint, deny_assume_role=True) as proxy:
        run = ansible.playbook("playbooks/upload.yml", "inventories/test",
                               {"ebook_upload_src": str(book), "ebook_upload_prefix": PREFIX},
                               endpoint=proxy.url, label="upload-untrusted-publisher")
    assert proxy.denied >= 1, "the upload never asked STS to assume the publisher role"
    assert run.rc != 0, run.describe()
    message = run.failure_text()
    for text in ("Unable to assume the role", "AccessDenied", "ebook_stack_publisher_principal_arns",
                 "inventories/test/group_vars/all/main.yml", "Nothing was uploaded"):
        assert text in message, f"the failure does not say {text!r}:\n{message}"
    listed = s3.list_object_versions(Bucket=bucket, Prefix=PREFIX)
    assert not listed.get("Versions") and not listed.get("DeleteMarkers"), listed
