"""The bare baselines for deploys: boto3 create/update of the same template and parameters, polled every 0.5 s."""

import time

from botocore.exceptions import ClientError

from bench import aws, config
from tests.support.aws import force_cleanup, role_default, stack_name, wait_stack

TEMPLATE = config.ROOT / "files" / "TapStack.yml"
POLL_S = 0.5


def parameters(env, logging=True):
    """What the ebook_stack role passes (template_parameters' output for the inventory's defaults)."""
    values = {"Environment": env, "EnableLogging": "true" if logging else "false", "KmsKeyAlias": ""}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def tags(env):
    """The role's default stack tags (ebook_stack_tags)."""
    return [{"Key": k, "Value": v} for k, v in role_default("ebook_stack_tags", env).items()]


def _arguments(env, logging):
    return dict(StackName=stack_name(env), TemplateBody=TEMPLATE.read_text(),
                Parameters=parameters(env, logging), Capabilities=["CAPABILITY_NAMED_IAM"], Tags=tags(env))


def _wait(cf, stack, want):
    found = wait_stack(cf, stack, timeout=3600, interval=POLL_S)
    status = found and found["StackStatus"]
    if status != want:
        raise RuntimeError(f"bare baseline: {stack} ended {status}, not {want}")


def create(cf, env):
    """create_stack, then describe_stacks every 0.5 s until complete; returns seconds."""
    started = time.perf_counter()
    cf.create_stack(**_arguments(env, True))
    _wait(cf, stack_name(env), "CREATE_COMPLETE")
    return time.perf_counter() - started


def update(cf, env, logging):
    started = time.perf_counter()
    cf.update_stack(**_arguments(env, logging))
    _wait(cf, stack_name(env), "UPDATE_COMPLETE")
    return time.perf_counter() - started


def noop(cf, env):
    """update_stack with nothing changed: CloudFormation's own 'No updates are to be performed.'"""
    started = time.perf_counter()
    try:
        cf.update_stack(**_arguments(env, True))
    except ClientError as e:
        if "No updates" not in str(e):
            raise
    else:
        raise RuntimeError("bare baseline: an unchanged update_stack started an update")
    return time.perf_counter() - started


def reset(port, env):
    """Delete the stack and what it retained (buckets, key alias; its key is scheduled for deletion), so that
    the next create starts from nothing."""
    force_cleanup(aws.clients(port), env)
