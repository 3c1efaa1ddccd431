"""Issue 14, gap 4: a deploy that would create a bucket which exists outside the stack stops on AWS first.

The shared LocalStack holds what a deleted prod stack leaves behind: ``ebooks-storage-prod`` with e-books and no
stack (``shared_prod_library``). On AWS, CloudFormation would fail half way creating that bucket; LocalStack
creates over it, so the role is shown AWS through a proxy that hides LocalStack's own paths (``as_aws``): it must
stop before any change, write the import template and print the commands that adopt the bucket.
"""

from __future__ import annotations

import json
import re

from reliability_support import FaultProxy, prod_deploy

from tests.support.aws import client, describe_stack, stack_name

PROD = stack_name("prod")


def test_prod_deploy_over_a_retained_bucket_stops_with_the_import_commands(ansible, shared_endpoint,
                                                                           shared_prod_library):
    cfn = client(shared_endpoint, "cloudformation")
    assert describe_stack(cfn, PROD) is None, "a prod stack is left from another test"
    with FaultProxy(shared_endpoint, as_aws=True) as proxy:
        run = prod_deploy(ansible, proxy.url, label="deploy-prod-retained-bucket")

    assert run.rc != 0, f"prod deploy went on over a retained bucket:\n{run.describe()}"
    assert not run.has_traceback(), run.describe()
    final = run.failures()[-1]
    assert final.task.startswith("Stop before creating over"), run.describe()
    message = final.data["msg"]
    assert f"{PROD} would create {PROD}, which exist outside the stack" in message, message
    assert "(this account; kept by DeletionPolicy Retain)" in message, message
    assert "Nothing was changed" in message, message
    for command in ("aws cloudformation create-change-set", "--change-set-type IMPORT",
                    "aws cloudformation execute-change-set", "aws cloudformation wait stack-import-complete",
                    "ansible-playbook deploy.yml -i inventories/prod"):
        assert command in message, f"{command!r} is missing:\n{message}"
    resources = json.loads(re.search(r"--resources-to-import '([^']+)'", message).group(1))
    assert resources == [{"ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "EbooksS3Bucket",
                          "ResourceIdentifier": {"BucketName": PROD}}]
    assert "--parameters" not in message, "a new stack has no previous parameter values"
    template_file = re.search(r"--template-body file://(\S+)", message).group(1)
    with open(template_file, encoding="utf-8") as handle:
        template = json.load(handle)
    assert template == {"Resources": {"EbooksS3Bucket": {
        "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {"BucketName": PROD}}}}

    assert not run.ran("Create or update"), run.describe()
    assert describe_stack(cfn, PROD) is None
    problems = shared_prod_library.problems()
    assert not problems, f"e-books changed ({shared_prod_library.summary()}): {problems}"
