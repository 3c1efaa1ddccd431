"""boto3 against LocalStack: clients; stacks, buckets, keys and functions; clean-up and what is left over.

Usable from pytest and from plain scripts run with the controller's Python (no pytest import here).
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import sys
import threading
import time
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.environment import DUMMY_CREDENTIALS, REGION, ROOT

ENVIRONMENTS = ("dev", "test", "prod")
NOT_FOUND = ("404", "NoSuchBucket", "NotFound")
GONE_KEY_STATES = ("PendingDeletion", "PendingReplicaDeletion")


# --------------------------------------------------------------------------- names
# Nothing is named here: the stack's name is the role's default (ebook_stack_name), the names of what the stack
# makes are files/TapStack.yml's own, resolved for the environment by plugins/module_utils/stack_names.py.


def module_utils(name):
    """A module of the collection's plugins/module_utils, imported as Ansible does (ansible_collections.tap...).

    Outside the unit tests (which link the checkout themselves) the link that tools/setup-environments.sh makes
    in .collections (ansible.cfg's collections_path) is put on ``sys.path``.
    """
    full = f"ansible_collections.tap.ebook_storage.plugins.module_utils.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError:
        path = str(ROOT / ".collections")
        if path in sys.path:
            raise
        sys.path.append(path)
        return importlib.import_module(full)


@functools.cache
def template():
    """files/TapStack.yml, parsed (cfn_template.load_template)."""
    return module_utils("cfn_template").load_template((ROOT / "files" / "TapStack.yml").read_text(encoding="utf-8"))


@functools.cache
def template_names(env):
    """Logical id -> physical name of each resource the template names, for ``env`` (stack_names.resource_names)."""
    return module_utils("stack_names").resource_names(template(), {"Environment": env})


@functools.cache
def template_outputs(env):
    """The outputs a stack of ``env`` gives that the template alone decides (stack_names.output_names):
    EbooksBucketName, LoggingBucketName, StorageMonitoringFunctionName, ..."""
    return module_utils("stack_names").output_names(template(), {"Environment": env})


def output_resource_name(env, output_key):
    """Name of the resource an output of the template points at (Ref or Fn::GetAtt), for ``env``: the access
    role's name for S3AccessRoleArn, the topic's name for SNSTopicArn."""
    logical_id = module_utils("cfn_template").referenced_logical_id(template()["Outputs"][output_key]["Value"])
    return template_names(env)[logical_id]


def declared_property(env, output_key, *path, parameters=None):
    """A property (a path of keys) of the resource an output points at, as the template declares it for ``env``
    and ``parameters`` (stack_names.named_resolver: other resources' names resolved, e.g. the data bucket's
    LoggingConfiguration names the log bucket)."""
    logical_id = module_utils("cfn_template").referenced_logical_id(template()["Outputs"][output_key]["Value"])
    value = template()["Resources"][logical_id]["Properties"]
    for key in path:
        value = value[key]
    resolver = module_utils("stack_names").named_resolver(template(), {"Environment": env, **(parameters or {})})
    return resolver.resolve(value, ".".join(("Resources", logical_id, "Properties") + path))


def declared_outputs(env, parameters=None):
    """Keys of the outputs a stack of ``env`` and ``parameters`` has (those whose Condition holds)."""
    resolver = module_utils("stack_names").named_resolver(template(), {"Environment": env, **(parameters or {})})
    outputs = template()["Outputs"]
    return {key for key, output in outputs.items()
            if "Condition" not in output or resolver.condition(output["Condition"])}


def names_of_type(env, resource_type):
    """Names of the template's resources of a type (``AWS::IAM::Role``, ...), for ``env``, sorted."""
    resources = template()["Resources"]
    return sorted(name for lid, name in template_names(env).items() if resources[lid]["Type"] == resource_type)


@functools.cache
def _role_defaults():
    import yaml

    return yaml.safe_load((ROOT / "roles" / "ebook_stack" / "defaults" / "main.yml").read_text(encoding="utf-8"))


def role_default(name, env):
    """A default of the ebook_stack role (``defaults/main.yml``), its strings rendered for ``env``."""
    import jinja2

    def render(value):
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        if isinstance(value, list):
            return [render(item) for item in value]
        return jinja2.Template(value).render(ebook_stack_environment=env) if isinstance(value, str) else value

    return render(_role_defaults()[name])


def stack_name(env):
    """The stack of ``env``: the role's default ebook_stack_name, rendered."""
    return role_default("ebook_stack_name", env)


def bucket_names(env):
    """(data bucket, access-log bucket) of an environment."""
    outputs = template_outputs(env)
    return outputs["EbooksBucketName"], outputs["LoggingBucketName"]


def key_alias(env):
    """The alias of the stack's own key."""
    (alias,) = names_of_type(env, "AWS::KMS::Alias")
    return alias


def declared_tags(env, resource_type):
    """The tags the template gives its resources of a type (the same on each), resolved for ``env``."""
    cfn_template = module_utils("cfn_template")
    resolver = cfn_template.Resolver(template(), cfn_template.given_parameter_values(template(), {"Environment": env}),
                                     {})
    found = [resolver.resolve(r.get("Properties", {}).get("Tags", []), f"Resources.{lid}.Properties.Tags")
             for lid, r in template()["Resources"].items() if r["Type"] == resource_type]
    (tags,) = {json.dumps({t["Key"]: t["Value"] for t in item}, sort_keys=True) for item in found}
    return json.loads(tags)


# --------------------------------------------------------------------------- clients

# boto3.client() uses boto3's default session, which is not safe to use from several threads at once.
_CLIENT_LOCK = threading.Lock()


def client(endpoint, service, *, read_timeout=60, attempts=3, pool=None, credentials=True, region=REGION):
    """A boto3 client for ``service`` at ``endpoint`` (LocalStack): dummy credentials, us-east-1.

    Connect timeout 5 s, ``read_timeout``, ``attempts`` in botocore's standard retry mode (1: never retried),
    ``pool`` connections (botocore's default 10 when None), path-style S3 addressing. ``credentials``: True for
    LocalStack's dummy ones, or a dict like DUMMY_CREDENTIALS. ``endpoint`` None, ``credentials`` False or
    ``region`` None: boto3 takes them from the AWS_* environment (what Molecule's scripts are given).
    """
    options = {"connect_timeout": 5, "read_timeout": read_timeout,
               "retries": {"max_attempts": attempts, "mode": "standard"}, "s3": {"addressing_style": "path"}}
    if pool:
        options["max_pool_connections"] = pool
    kwargs = {"config": Config(**options)}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if region:
        kwargs["region_name"] = region
    if credentials:
        credentials = DUMMY_CREDENTIALS if credentials is True else credentials
        kwargs["aws_access_key_id"] = credentials["AWS_ACCESS_KEY_ID"]
        kwargs["aws_secret_access_key"] = credentials["AWS_SECRET_ACCESS_KEY"]
    with _CLIENT_LOCK:
        return boto3.client(service, **kwargs)


class Clients:
    """``aws("s3")``: one client per service for an endpoint, made once (options as for client())."""

    def __init__(self, endpoint, **options):
        self.endpoint = endpoint
        self.options = options
        self._clients = {}
        self._lock = threading.Lock()

    def __call__(self, service):
        with self._lock:
            if service not in self._clients:
                self._clients[service] = client(self.endpoint, service, **self.options)
            return self._clients[service]


def error_code(exc):
    """The AWS error code of a botocore error ("" for anything else)."""
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


def _pages(aws_client, operation, key, **params):
    for page in aws_client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


# --------------------------------------------------------------------------- stacks


def describe_stack(cfn, name):
    """The stack as DescribeStacks returns it, or None when it does not exist (or is deleted)."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc) or error_code(exc) in ("ValidationError", "StackNotFoundException"):
            return None
        raise
    stack = stacks[0] if stacks else None
    if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    return stack


def wait_stack(cfn, name, timeout=300, interval=0.5):
    """Poll every ``interval`` seconds until the stack is not *_IN_PROGRESS; return it (None once deleted)."""
    deadline = time.monotonic() + timeout
    while True:
        stack = describe_stack(cfn, name)
        if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {stack['StackStatus']} after {timeout} s")
        time.sleep(interval)


def wait_settled(cfn, name, quiet=3.0, timeout=120):
    """Wait until the stack is not *_IN_PROGRESS and has not changed for ``quiet`` seconds.

    After a paused LocalStack resumes, it still serves the requests that reached it while it was paused
    (an UpdateStack of the run that gave up, botocore's retries of it): let them land before going on.
    """
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        stack = describe_stack(cfn, name)
        seen = stack and (stack["StackStatus"], str(stack.get("LastUpdatedTime")), event_count(cfn, name))
        if seen != last:
            last, since = seen, time.monotonic()
        elif time.monotonic() - since >= quiet and not (stack and stack["StackStatus"].endswith("_IN_PROGRESS")):
            return stack
        time.sleep(0.5)
    raise AssertionError(f"{name} did not settle within {timeout} s: {last}")


def stack_outputs(stack):
    """{OutputKey: OutputValue} of a stack ({} for None)."""
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def stack_parameters(stack):
    """{ParameterKey: ParameterValue} of a stack ({} for None)."""
    return {p["ParameterKey"]: p.get("ParameterValue") for p in (stack or {}).get("Parameters", [])}


def event_count(cfn, name):
    return len(cfn.describe_stack_events(StackName=name)["StackEvents"])


def stack_fingerprint(cfn, name):
    """What a refusal must leave as it was: id, status, reason, update time, parameters, events, resources."""
    stack = describe_stack(cfn, name)
    if stack is None:
        return None
    resources = sorted((r["LogicalResourceId"], r.get("PhysicalResourceId"), r["ResourceStatus"])
                       for r in cfn.describe_stack_resources(StackName=name)["StackResources"])
    return {"id": stack["StackId"], "status": stack["StackStatus"], "reason": stack.get("StackStatusReason"),
            "updated": str(stack.get("LastUpdatedTime")), "parameters": stack_parameters(stack),
            "events": event_count(cfn, name), "resources": resources}


def stack_snapshot(cfn, envs=ENVIRONMENTS):
    """What a bad run must not change: the stack of each environment with its status, update time and parameters."""
    snapshot = {}
    for env in envs:
        stack = describe_stack(cfn, stack_name(env))
        if stack:
            snapshot[stack["StackName"]] = (stack["StackStatus"], str(stack.get("LastUpdatedTime")),
                                            stack_parameters(stack))
    return snapshot


# --------------------------------------------------------------------------- buckets


def bucket_exists(s3, bucket):
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return False
        raise


def bucket_versions(s3, bucket, prefix=""):
    """(versions, delete markers) of a bucket (under ``prefix``)."""
    versions, markers = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    return versions, markers


def purge_bucket(s3, bucket, prefix="", delete_bucket=True):
    """Delete every version and delete marker (under ``prefix``), then the bucket unless ``delete_bucket`` is
    false. A bucket that does not exist: nothing to do.

    Everything is listed first, then deleted 1,000 at a time (deleting while paginating would move the markers);
    a key that could not be deleted is an error.
    """
    try:
        versions, markers = bucket_versions(s3, bucket, prefix)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return
        raise
    entries = [{"Key": item["Key"], "VersionId": item["VersionId"]} for item in versions + markers]
    for start in range(0, len(entries), 1000):
        reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": entries[start:start + 1000], "Quiet": True})
        if reply.get("Errors"):
            failed = [f"{e.get('Key')} {e.get('VersionId')}: {e.get('Code')}" for e in reply["Errors"][:5]]
            raise RuntimeError(f"could not delete {len(reply['Errors'])} versions in {bucket}: {failed}")
    if delete_bucket:
        s3.delete_bucket(Bucket=bucket)


# --------------------------------------------------------------------------- KMS keys


def key_state(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def retire_key(kms, key_id):
    """Schedule the deletion of a key (the end state of every key the tests create); gone already: fine."""
    try:
        if key_state(kms, key_id) != "PendingDeletion":
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise


def retire_keys(kms, key_ids):
    for key_id in key_ids:
        retire_key(kms, key_id)


def delete_alias(kms, alias):
    try:
        kms.delete_alias(AliasName=alias)
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise


# --------------------------------------------------------------------------- Lambda functions


def zip_source(source, filename="index.py"):
    """A deployment package holding one file (``source``: str or bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def wait_for_function(lambda_client, name, timeout=30, interval=0.3):
    """Wait until the function has left Pending (Active, Failed...); its configuration (also after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        config = lambda_client.get_function_configuration(FunctionName=name)
        if config["State"] != "Pending" or time.monotonic() > deadline:
            return config
        time.sleep(interval)


def invoke(lambda_client, name, event=None, **kwargs):
    """Invoke synchronously; (response, decoded JSON payload or None)."""
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


# --------------------------------------------------------------------------- clean-up and leftovers


def force_cleanup(aws, env, key_ids=()):
    """Remove an environment's stack, buckets, key alias, the stack's key and ``key_ids`` with boto3: the
    fallback when teardown.yml failed or cannot be used. ``aws``: service -> client (a Clients)."""
    cfn, s3, kms = aws("cloudformation"), aws("s3"), aws("kms")
    name = stack_name(env)
    stack = describe_stack(cfn, name)
    keys = set(key_ids)
    if stack:
        # KmsKeyArn is the stack's own key; KmsKeyId may be an external key's id.
        if stack_outputs(stack).get("KmsKeyArn"):
            keys.add(stack_outputs(stack)["KmsKeyArn"])
        cfn.delete_stack(StackName=name)
        wait_stack(cfn, name)
    for bucket in bucket_names(env):
        purge_bucket(s3, bucket)
    delete_alias(kms, key_alias(env))
    retire_keys(kms, sorted(keys))


def _left_stacks(aws, env, prefix, tag):
    return [s["StackName"] for s in _pages(aws("cloudformation"), "list_stacks", "StackSummaries")
            if s["StackName"] == stack_name(env) and s["StackStatus"] != "DELETE_COMPLETE"]


def _left_buckets(aws, env, prefix, tag):
    names = set(bucket_names(env))
    return [b["Name"] for b in aws("s3").list_buckets().get("Buckets", [])
            if b["Name"] in names or (prefix and b["Name"].startswith(prefix))]


def _left_roles(aws, env, prefix, tag):
    names = set(names_of_type(env, "AWS::IAM::Role"))
    return [r["RoleName"] for r in _pages(aws("iam"), "list_roles", "Roles") if r["RoleName"] in names]


def _left_functions(aws, env, prefix, tag):
    names = set(names_of_type(env, "AWS::Lambda::Function"))
    return [f["FunctionName"] for f in _pages(aws("lambda"), "list_functions", "Functions")
            if f["FunctionName"] in names]


def _left_topics(aws, env, prefix, tag):
    names = set(names_of_type(env, "AWS::SNS::Topic"))
    arns = [t["TopicArn"] for t in _pages(aws("sns"), "list_topics", "Topics")]
    return [a for a in arns if a.rsplit(":", 1)[-1] in names or (prefix and ":" + prefix in a)]


def _left_queues(aws, env, prefix, tag):
    return aws("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", []) if prefix else []


def _left_rules(aws, env, prefix, tag):
    return [name for name in names_of_type(env, "AWS::Events::Rule")
            if any(r["Name"] == name for r in aws("events").list_rules(NamePrefix=name).get("Rules", []))]


def _left_log_groups(aws, env, prefix, tag):
    left = []
    for name in names_of_type(env, "AWS::Logs::LogGroup"):
        groups = _pages(aws("logs"), "describe_log_groups", "logGroups", logGroupNamePrefix=name)
        left += [g["logGroupName"] for g in groups if g["logGroupName"] == name]
    return left


def _left_aliases(aws, env, prefix, tag):
    return [a["AliasName"] for a in _pages(aws("kms"), "list_aliases", "Aliases")
            if a["AliasName"] == key_alias(env) or (prefix and a["AliasName"].startswith("alias/" + prefix))]


def _left_keys(aws, env, prefix, tag):
    """Customer keys of the environment (the Project and Environment tags the template gives the stack's key, for
    env) or tagged ``tag``; a key scheduled for deletion counts as gone."""
    kms = aws("kms")
    declared = {k: v for k, v in declared_tags(env, "AWS::KMS::Key").items() if k in ("Project", "Environment")}
    left = []
    for key in _pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") in GONE_KEY_STATES:
            continue
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
        ours = all(tags.get(k) == v for k, v in declared.items())
        if ours:
            left.append(f"{key['KeyId']} ({meta.get('KeyState')})")
        elif tag and tag in tags:
            left.append(f"{key['KeyId']} ({meta.get('KeyState')}, {tag}={tags[tag]})")
    return left


LEFTOVER_KINDS = {
    "stacks": _left_stacks,
    "buckets": _left_buckets,
    "iam_roles": _left_roles,
    "lambda_functions": _left_functions,
    "sns_topics": _left_topics,
    "sqs_queues": _left_queues,
    "event_rules": _left_rules,
    "log_groups": _left_log_groups,
    "kms_aliases": _left_aliases,
    "kms_keys": _left_keys,
}


def resources_left(aws, env, kinds=tuple(LEFTOVER_KINDS), fixture_prefix=None, fixture_tag=None):
    """{kind: names still there} of what the stack of ``env`` makes, plus fixtures whose names start
    with ``fixture_prefix`` or keys tagged ``fixture_tag`` (Molecule's). Every list empty: nothing is left."""
    return {kind: LEFTOVER_KINDS[kind](aws, env, fixture_prefix, fixture_tag) for kind in kinds}


def leftovers(aws, envs=ENVIRONMENTS):
    """Stacks and buckets of the given environments that exist: ["stack <name>", "bucket <name>", ...]."""
    found = {env: resources_left(aws, env, kinds=("stacks", "buckets")) for env in envs}
    return ([f"stack {name}" for env in envs for name in found[env]["stacks"]]
            + [f"bucket {name}" for env in envs for name in found[env]["buckets"]])
