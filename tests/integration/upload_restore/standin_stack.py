"""Deploy (or delete) the stand-in stack ebooks-storage-<env> on a LocalStack endpoint.

    python standin_stack.py http://127.0.0.1:4640 dev [--delete]

LocalStack's CloudFormation drops BucketEncryption (see the LocalStack
notes), so the bucket's default encryption is then set with the S3 API.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

TEMPLATE = Path(__file__).with_name("standin_stack.yml")


def clients(endpoint, region="us-east-1"):
    kwargs = dict(
        endpoint_url=endpoint, region_name=region, aws_access_key_id="localstack", aws_secret_access_key="localstack"
    )
    return boto3.client("cloudformation", **kwargs), boto3.client("s3", **kwargs)


def deploy(endpoint, environment):
    cfn, s3 = clients(endpoint)
    name = f"ebooks-storage-{environment}"
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "Environment", "ParameterValue": environment}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    for _attempt in range(120):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.5)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"{name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    s3.put_bucket_encryption(
        Bucket=outputs["EbooksBucketName"],
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": outputs["EncryptionKeyArn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    return outputs


def delete(endpoint, environment):
    cfn, s3 = clients(endpoint)
    name = f"ebooks-storage-{environment}"
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        return  # nothing to delete
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    bucket = outputs["EbooksBucketName"]
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    cfn.delete_stack(StackName=name)


if __name__ == "__main__":
    endpoint_url, env_name = sys.argv[1], sys.argv[2]
    if "--delete" in sys.argv[3:]:
        delete(endpoint_url, env_name)
    else:
        print(deploy(endpoint_url, env_name))
