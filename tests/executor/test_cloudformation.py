"""A function created by a CloudFormation stack can be invoked."""

import json

from executor_aws import unique_name, wait_until

from tests.support.aws import invoke

HANDLER = """
import os


def handler(event, context):
    return {"stack_marker": os.environ["STACK_MARKER"], "name": context.function_name}
"""

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "FunctionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.11",
                "Handler": "index.handler",
                "Timeout": 30,
                "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
                "Code": {"ZipFile": HANDLER},
                "Environment": {"Variables": {"STACK_MARKER": {"Ref": "AWS::StackName"}}},
            },
        },
    },
    "Outputs": {"FunctionName": {"Value": {"Ref": "Function"}}},
}


def test_function_from_cloudformation_stack_can_be_invoked(aws):
    cloudformation = aws("cloudformation")
    stack_name = unique_name("executor-stack")
    cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(TEMPLATE))

    def finished():
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        return stack if not stack["StackStatus"].endswith("_IN_PROGRESS") else None

    stack = wait_until(finished, timeout=60)
    try:
        assert stack and stack["StackStatus"] == "CREATE_COMPLETE", stack
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}

        response, result = invoke(aws("lambda"), outputs["FunctionName"])

        assert "FunctionError" not in response
        assert result == {"stack_marker": stack_name, "name": outputs["FunctionName"]}
    finally:
        cloudformation.delete_stack(StackName=stack_name)
