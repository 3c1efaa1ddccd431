"""Plumbing of the reliability (fault) tests: real ansible runs, real LocalStacks, e-books and their digests.

Nothing here is mocked. ``ansible-playbook`` runs with ``-v`` and one JSON line per task result
(``ANSIBLE_CALLBACK_RESULT_FORMAT=json``), streamed, so that a test can act at a precise point of a run
(kill LocalStack when the CloudFormation task starts) and still read every task result afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import http.server
import io
import itertools
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# LocalStack accepts any credentials. Not "test": no_log would mask every "test" in the output.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localstack", "AWS_SECRET_ACCESS_KEY": "localstack-dummy-secret"}
# Everything in the caller's shell that could select credentials or a real AWS account.
AWS_ENV_TO_DROP = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                   "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
TRACEBACK = "Traceback (most recent call last)"
ROLE_PREFIX = "tap.ebook_storage.ebook_stack : "


def stack_name(env):
    return f"ebooks-storage-{env}"


def error_code(exc):
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


# --------------------------------------------------------------------------- ansible runs


@dataclass
class TaskResult:
    task: str  # task name without the role prefix
    status: str  # ok, changed, skipping, fatal, included
    data: dict

    @property
    def failed(self):
        return self.status == "fatal" or bool(self.data.get("failed"))


@dataclass
class Run:
    """One finished ansible / ansible-playbook run."""

    cmd: list
    rc: int
    output: str  # stdout and stderr, interleaved, as a user sees them (with -v)
    seconds: float
    log: Path
    results: list = field(default_factory=list)
    timed_out: bool = False
    retry_lines: list = field(default_factory=list)  # "FAILED - RETRYING: [localhost]: <task> (N retries left)"

    def tasks(self, name):
        """Results of the tasks whose name contains ``name``."""
        return [r for r in self.results if name in r.task]

    def ran(self, name):
        """Whether a task whose name contains ``name`` ran (was not skipped)."""
        return any(r.status != "skipping" for r in self.tasks(name))

    def failures(self):
        return [r for r in self.results if r.failed]

    def failure_text(self):
        """The messages of the failed tasks: what a user reads as the reason."""
        return "\n".join(_flatten(r.data.get("msg")) for r in self.failures())

    def messages(self):
        """Every msg of the run (debug output included) plus the raw output."""
        return "\n".join([_flatten(r.data.get("msg")) for r in self.results if r.data.get("msg")] + [self.output])

    def verification(self):
        found = [r for r in self.results if r.task.startswith("Verify the live state of") and "checks" in r.data]
        return found[-1].data if found else None

    def failed_checks(self):
        return [c["id"] for c in (self.verification() or {}).get("checks", []) if c["status"] == "failed"]

    def has_traceback(self):
        return TRACEBACK in self.output

    def describe(self):
        timing = f"rc={self.rc} in {self.seconds:.1f} s" + (" (TIMED OUT)" if self.timed_out else "")
        lines = [f"$ {' '.join(self.cmd)}", timing]
        lines += [f"failed task [{r.task}]: {_flatten(r.data.get('msg'))[:1500]}" for r in self.failures()]
        if self.failed_checks():
            lines.append(f"failed verification checks: {self.failed_checks()}")
        if not self.failures():
            lines.append("last output: " + self.output[-1500:])
        lines.append(f"full output: {self.log}")
        return "\n".join(lines)


def _flatten(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(_flatten(v) for v in value)
    return json.dumps(value, default=str)


_TASK = re.compile(r"^TASK \[(?P<name>.*)\] \**$")
_RESULT = re.compile(r"^(?P<status>ok|changed|skipping|fatal|failed|included|rescued|ignored): "
                     r"\[(?P<host>[^\]]+)\](?:: FAILED!)?(?: => (?P<json>\{.*))?$")
_RETRY = re.compile(r"^FAILED - RETRYING: \[[^\]]+\]: (?P<name>.*) \((?P<left>\d+) retries left\)")


class Running:
    """An ansible-playbook started in its own process group; its output is read line by line as it comes."""

    def __init__(self, cmd, env, log, on_line=None):
        self.cmd = cmd
        self.log = log
        self.on_line = on_line
        self.lines = []
        self.results = []
        self.retry_lines = []
        self.started = time.monotonic()
        self.finished = None
        self._task = None
        self._pending = None  # (status, text) of a result whose JSON spans several lines
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        with open(self.log, "w", encoding="utf-8") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                self._parse(line.rstrip("\n"))
                if self.on_line:
                    self.on_line(line, self)
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        self.proc.wait()
        with self._changed:
            self.finished = time.monotonic()
            self._changed.notify_all()

    def _parse(self, line):
        if self._pending is not None:
            # A result printed over several lines (debug output): gather until the JSON is whole.
            status, text = self._pending
            text += "\n" + line
            try:
                data = json.loads(text)
            except ValueError:
                self._pending = (status, text)
                if len(text) > 5_000_000:  # not JSON after all
                    self.results.append(TaskResult(self._task, status, {"unparsed": text[:2000]}))
                    self._pending = None
                return
            self._pending = None
            self.results.append(TaskResult(self._task, status, data))
            return
        match = _TASK.match(line)
        if match:
            self._task = match.group("name").replace(ROLE_PREFIX, "")
            return
        match = _RETRY.match(line)
        if match:
            self.retry_lines.append(line)
            return
        match = _RESULT.match(line)
        if match and self._task is not None:
            status = "fatal" if match.group("status") in ("fatal", "failed") else match.group("status")
            data = {}
            if match.group("json"):
                try:
                    data = json.loads(match.group("json"))
                except ValueError:
                    self._pending = (status, match.group("json"))
                    return
            self.results.append(TaskResult(self._task, status, data))

    def seen(self, pattern):
        with self._changed:
            return any(re.search(pattern, line) for line in self.lines)

    def wait_for_line(self, pattern, timeout):
        """Block until a line matching ``pattern`` was printed (True) or the run ended / timeout (False)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        checked = 0
        with self._changed:
            while True:
                for line in self.lines[checked:]:
                    if regex.search(line):
                        return True
                checked = len(self.lines)
                left = deadline - time.monotonic()
                if self.finished is not None or left <= 0:
                    return False
                self._changed.wait(min(left, 1))

    def alive(self):
        return self.finished is None

    def kill(self):
        """End this run: its process group (ansible-playbook and the module it runs), nothing else."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def wait(self, timeout):
        """The finished Run; after ``timeout`` seconds the run is killed and marked timed_out."""
        timed_out = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill()
            self.proc.wait()
        self._reader.join(timeout=30)
        end = self.finished or time.monotonic()
        return Run(cmd=self.cmd, rc=self.proc.returncode if not timed_out else -9, output="".join(self.lines),
                   seconds=end - self.started, log=self.log, results=list(self.results), timed_out=timed_out,
                   retry_lines=list(self.retry_lines))


class Ansible:
    """Runs ``ansible-playbook`` and ``ansible`` of the controller environment from the collection root."""

    def __init__(self, log_dir, outputs_dir):
        self.log_dir = Path(log_dir)
        self.outputs_dir = Path(outputs_dir)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        bindir = Path(sys.executable).parent
        self.playbook_bin = str(bindir / "ansible-playbook") if (bindir / "ansible-playbook").exists() \
            else "ansible-playbook"
        self.adhoc_bin = str(bindir / "ansible") if (bindir / "ansible").exists() else "ansible"

    def environment(self, endpoint=None, credentials=True, extra=None):
        """The environment of a run: no AWS settings of the caller's shell; LocalStack's dummy credentials."""
        env = {k: v for k, v in os.environ.items() if k not in AWS_ENV_TO_DROP and k != "LOCALSTACK_ENDPOINT"}
        if credentials:
            env.update(DUMMY_CREDENTIALS)
        env.update({
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PYTHONUNBUFFERED": "1",
            "AWS_DEFAULT_REGION": REGION,
            # Nothing may look for instance credentials (a network call that is not LocalStack).
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        })
        if endpoint:
            env["LOCALSTACK_ENDPOINT"] = endpoint
        env.update(extra or {})
        return env

    def _log(self, label):
        with self._lock:
            number = next(self._numbers)
        return self.log_dir / f"{number:03d}-{re.sub(r'[^A-Za-z0-9]+', '-', label).strip('-')}.log"

    def start(self, playbook, inventory, extra_vars=None, *, endpoint=None, credentials=True, env=None,
              on_line=None, label=None):
        extra = {"ebook_stack_outputs_dir": str(self.outputs_dir)}
        extra.update(extra_vars or {})
        cmd = [self.playbook_bin, "-v", str(playbook), "-i", str(inventory), "-e", json.dumps(extra)]
        log = self._log(label or f"{Path(str(playbook)).stem}-{Path(str(inventory)).name}")
        return Running(cmd, self.environment(endpoint, credentials, env), log, on_line)

    def playbook(self, playbook, inventory, extra_vars=None, *, timeout=600, **kwargs):
        return self.start(playbook, inventory, extra_vars, **kwargs).wait(timeout)

    def adhoc(self, module, args, *, endpoint=None, credentials=False, timeout=120):
        cmd = [self.adhoc_bin, "localhost", "-m", module, "-a", args]
        log = self._log(f"adhoc-{module.rsplit('.', 1)[-1]}")
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.environment(endpoint, credentials), capture_output=True,
                              text=True, timeout=timeout, check=False)
        output = proc.stdout + proc.stderr
        log.write_text(f"$ {' '.join(cmd)}\n{output}", encoding="utf-8")
        return Run(cmd=cmd, rc=proc.returncode, output=output, seconds=time.monotonic() - started, log=log)


# --------------------------------------------------------------------------- AWS clients, stacks, clean-up


def aws(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        config=Config(connect_timeout=5, read_timeout=60,
                                      retries={"max_attempts": 3, "mode": "standard"},
                                      s3={"addressing_style": "path"}))


def answers(endpoint, timeout=3):
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=timeout) as reply:  # noqa: S310
            reply.read()
        return True
    except (urllib.error.URLError, OSError):
        return False


def describe_stack(cfn, name):
    """The stack (not deleted), or None."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    stack = stacks[0] if stacks else None
    if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    return stack


def wait_stack(cfn, name, timeout=180):
    """Poll until the stack is not *_IN_PROGRESS; the stack, or None once it is gone."""
    deadline = time.monotonic() + timeout
    while True:
        stack = describe_stack(cfn, name)
        if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {stack['StackStatus']} after {timeout} s")
        time.sleep(0.5)


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


def outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def parameters(stack):
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
            "updated": str(stack.get("LastUpdatedTime")), "parameters": parameters(stack),
            "events": event_count(cfn, name), "resources": resources}


def bucket_exists(s3, bucket):
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def purge_bucket(s3, bucket):
    if not bucket_exists(s3, bucket):
        return
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def retire_keys(kms, key_ids):
    for key_id in key_ids:
        try:
            if kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] != "PendingDeletion":
                kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        except ClientError as exc:
            if error_code(exc) != "NotFoundException":
                raise


def force_cleanup(endpoint, env, key_ids=()):
    """Remove an environment's stack, buckets, alias and the given keys with boto3 (no playbook)."""
    cfn, s3, kms = aws(endpoint, "cloudformation"), aws(endpoint, "s3"), aws(endpoint, "kms")
    name = stack_name(env)
    stack = describe_stack(cfn, name)
    keys = set(key_ids)
    if stack:
        if outputs(stack).get("KmsKeyId"):
            keys.add(outputs(stack)["KmsKeyId"])
        cfn.delete_stack(StackName=name)
        wait_stack(cfn, name)
    for bucket in (f"ebooks-storage-{env}", f"ebooks-storage-logs-{env}"):
        purge_bucket(s3, bucket)
    try:
        kms.delete_alias(AliasName=f"alias/ebooks-storage-{env}")
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
    retire_keys(kms, keys)


def leftovers(endpoint, envs):
    """Stacks and buckets of the given environments that exist on the LocalStack."""
    cfn, s3 = aws(endpoint, "cloudformation"), aws(endpoint, "s3")
    found = [f"stack {stack_name(env)}" for env in envs if describe_stack(cfn, stack_name(env))]
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for env in envs:
        found += [f"bucket {b}" for b in (f"ebooks-storage-{env}", f"ebooks-storage-logs-{env}") if b in names]
    return found


# --------------------------------------------------------------------------- failed stacks on purpose

# A resource that LocalStack's S3 provider rejects: the stack fails on it (CREATE_FAILED / ROLLBACK_COMPLETE).
FAILING_TEMPLATE = json.dumps({
    "Description": "reliability test: a create that fails",
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "BrokenBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "Invalid_Bucket_Name!!"}},
    },
})
STUB_TEMPLATE = json.dumps({
    "Description": "reliability test: a small stack that works",
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
})
FAILURE_REASON = 'Invalid bucket name "invalid_bucket_name!!"'


def create_failed_stack(cfn, name, state):
    """Put the stack ``name`` (absent) into CREATE_FAILED (CreateStack) or ROLLBACK_COMPLETE (change set)."""
    if state == "CREATE_FAILED":
        cfn.create_stack(StackName=name, TemplateBody=FAILING_TEMPLATE)
    elif state == "ROLLBACK_COMPLETE":
        change_set = cfn.create_change_set(StackName=name, ChangeSetName="reliability-failing-create",
                                           ChangeSetType="CREATE", TemplateBody=FAILING_TEMPLATE)
        _wait_change_set(cfn, change_set["Id"])
        cfn.execute_change_set(ChangeSetName=change_set["Id"])
    else:
        raise ValueError(state)
    stack = wait_stack(cfn, name)
    assert stack and stack["StackStatus"] == state, (
        f"LocalStack did not leave {name} in {state}: {stack and stack['StackStatus']}")
    return stack


def _wait_change_set(cfn, change_set_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cfn.describe_change_set(ChangeSetName=change_set_id)["Status"]
        if status in ("CREATE_COMPLETE", "FAILED"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"change set {change_set_id} not ready after {timeout} s")


def make_update_rollback_failed(endpoint, name):
    """UPDATE_ROLLBACK_FAILED for real, on a LocalStack started with ENABLE_CONFIG_UPDATES=1.

    LocalStack 2026.3.0 sets UPDATE_ROLLBACK_FAILED when an update change set holds a resource type that it
    reports as unsupported while CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES is off (engine/v2 ChangeSet
    compute_update_model). Offline, its catalog reports every type as unsupported, so switching the setting off
    for one CreateChangeSet call puts the existing stack into UPDATE_ROLLBACK_FAILED without touching its
    resources. The setting is switched back on at once.
    """
    cfn = aws(endpoint, "cloudformation")
    stack = describe_stack(cfn, name)
    template = cfn.get_template(StackName=name)["TemplateBody"]
    if not isinstance(template, str):
        template = json.dumps(template)
    set_localstack_config(endpoint, "CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES", False)
    try:
        cfn.create_change_set(StackName=name, ChangeSetName="reliability-update-rollback-failed",
                              ChangeSetType="UPDATE", TemplateBody=template,
                              Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in parameters(stack)],
                              Capabilities=["CAPABILITY_NAMED_IAM"])
        deadline = time.monotonic() + 30
        while describe_stack(cfn, name)["StackStatus"] != "UPDATE_ROLLBACK_FAILED":
            assert time.monotonic() < deadline, f"{name} did not reach UPDATE_ROLLBACK_FAILED"
            time.sleep(0.3)
    finally:
        set_localstack_config(endpoint, "CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES", True)
    return describe_stack(cfn, name)


def set_localstack_config(endpoint, variable, value):
    request = urllib.request.Request(f"{endpoint}/_localstack/config", method="POST",
                                     data=json.dumps({"variable": variable, "value": value}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        answer = json.loads(reply.read() or b"{}")
    assert answer.get("value") == value, f"LocalStack did not set {variable}={value}: {answer}"


# --------------------------------------------------------------------------- a LocalStack of our own


class OwnLocalStack:
    """A host-mode LocalStack that the tests start, kill, pause and restart (the localstack role starts it)."""

    def __init__(self, ansible, port, state_dir):
        self.ansible = ansible
        self.port = port
        self.endpoint = f"http://localhost:{port}"
        self.state_dir = Path(state_dir)
        self.pid_file = self.state_dir / "localstack.pid"

    def _vars(self, state):
        return {"localstack_endpoint": self.endpoint, "localstack_endpoint_is_external": False,
                "localstack_state_dir": str(self.state_dir), "localstack_state": state,
                # /_localstack/config lets a test switch CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES off for one call
                # (the only way to reach UPDATE_ROLLBACK_FAILED on this LocalStack).
                "localstack_extra_env": {"ENABLE_CONFIG_UPDATES": "1"}}

    def start(self):
        run = self.ansible.playbook("playbooks/localstack.yml", "localhost,", self._vars("started"), timeout=240,
                                    label="localstack-start")
        assert run.rc == 0 and answers(self.endpoint), (
            f"could not start LocalStack on {self.endpoint}:\n{run.describe()}")
        return run

    def stop(self):
        return self.ansible.playbook("playbooks/localstack.yml", "localhost,", self._vars("stopped"), timeout=120,
                                     label="localstack-stop")

    def pid(self):
        pid = int(self.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline")
        command = cmdline.read_bytes() if cmdline.exists() else b""
        # The same test as roles/localstack/tasks/stop_host.yml: a reused pid is left alone.
        assert b"localstack.runtime.main" in command or b"tap_localstack_executor.launch" in command, (
            f"pid {pid} of {self.pid_file} is not the LocalStack these tests started")
        return pid

    def signal(self, sig):
        """Send ``sig`` to the process group of the LocalStack started by these tests (LocalStack + Lambda workers)."""
        os.killpg(self.pid(), sig)

    def kill(self, timeout=30):
        pid = self.pid()
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() or port_open(self.port):
            assert time.monotonic() < deadline, f"LocalStack pid {pid} still there {timeout} s after SIGKILL"
            time.sleep(0.2)

    def orphans(self):
        """LocalStacks started in this state folder that the pid file no longer names (an interrupted run)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                command = (proc / "cmdline").read_bytes()
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if cwd == str(self.state_dir) and (b"localstack.runtime.main" in command
                                               or b"tap_localstack_executor.launch" in command):
                found.append(int(proc.name))
        return found

    def reap_orphans(self):
        for pid in self.orphans():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def ensure_running(self):
        if not answers(self.endpoint):
            self.start()


def port_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


# --------------------------------------------------------------------------- a proxy that plays AWS's part

# What STS answers for an access key it does not know.
INVALID_TOKEN_ERROR = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                       b"<Code>InvalidClientTokenId</Code><Message>The security token included in the request is "
                       b"invalid.</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
                       b"</ErrorResponse>")


class FaultProxy:
    """An HTTP proxy in front of LocalStack that plays the part of AWS where LocalStack cannot.

    Every request goes to LocalStack unchanged, except:

    * while ``status`` is set, the answers to DescribeStacks for ``stack`` carry that StackStatus instead of the
      real one (LocalStack never leaves a stack in DELETE_FAILED, and holds *_IN_PROGRESS for a fraction of a
      second only);
    * requests signed with the access key ``reject_access_key`` get the answer AWS gives to an unknown key
      (403 InvalidClientTokenId): LocalStack accepts any credentials.
    """

    def __init__(self, upstream, stack=None, reject_access_key=None):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.stack = stack
        self.status = None
        self.reject_access_key = reject_access_key
        self.rewritten = 0
        self.rejected = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.reject_access_key and f"Credential={proxy.reject_access_key}/" in (
                        self.headers.get("Authorization") or ""):
                    proxy.rejected += 1
                    self._answer(403, [("Content-Type", "text/xml")], INVALID_TOKEN_ERROR)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    reply = upstream.getresponse()
                    payload = reply.read()
                    reply_headers = [(k, v) for k, v in reply.getheaders()
                                     if k.lower() not in ("transfer-encoding", "connection", "content-length")]
                    status = reply.status
                finally:
                    upstream.close()
                self._answer(status, reply_headers, proxy._rewrite(body, payload))

            def _answer(self, status, headers, payload):
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _rewrite(self, request, payload):
        status = self.status
        if not status or not self.stack or b"Action=DescribeStacks" not in request:
            return payload
        asked = urllib.parse.parse_qs(request.decode(errors="replace")).get("StackName", [""])[0]
        if asked != self.stack and f":stack/{self.stack}/" not in asked:
            return payload
        new, count = re.subn(rb"<StackStatus>[A-Z_]+</StackStatus>", f"<StackStatus>{status}</StackStatus>".encode(),
                             payload)
        self.rewritten += count
        return new

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- e-books and their digests


def sample_pdf(title):
    stream = f"BT /F1 12 Tf 10 40 Td ({title}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 80] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def sample_epub(title):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr("META-INF/container.xml",
                      '<?xml version="1.0"?><container version="1.0" '
                      'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                      '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                      "</rootfiles></container>", compress_type=zipfile.ZIP_DEFLATED)
        book.writestr("OEBPS/content.opf",
                      '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
                      'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                      f'<dc:identifier id="id">urn:uuid:reliability</dc:identifier><dc:title>{title}</dc:title>'
                      "<dc:language>en</dc:language></metadata><manifest>"
                      '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
                      '<spine><itemref idref="c1"/></spine></package>', compress_type=zipfile.ZIP_DEFLATED)
        book.writestr("OEBPS/c1.xhtml", f'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>{title}</p>'
                      f'<p>{"x" * 2048}</p></body></html>', compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def sample_mobi(title):
    text = title.encode()
    record0 = struct.pack(">HHIHHHH", 1, 0, len(text), 1, 4096, 0, 0)
    record0 += b"MOBI" + struct.pack(">IIII", 24, 2, 65001, 1) + b"\xff" * 4
    header = title.encode()[:31].ljust(32, b"\0")
    header += struct.pack(">HHIIIIII", 0, 0, 0, 0, 0, 0, 0, 0)
    header += b"BOOKMOBI" + struct.pack(">IIH", 0, 0, 2)
    first = 78 + 2 * 8 + 2
    header += struct.pack(">IB3s", first, 0, b"\0\0\0") + struct.pack(">IB3s", first + len(record0), 0, b"\0\0\1")
    return header + b"\0\0" + record0 + text


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@dataclass
class Version:
    key: str
    version_id: str
    sha256: str
    size: int


class Ledger:
    """The e-books uploaded before a fault: every version with its SHA-256, and the delete markers."""

    def __init__(self, endpoint, bucket, kms_key_arn):
        self.endpoint = endpoint
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.versions = []
        self.markers = []  # (key, version id)

    def s3(self):
        return aws(self.endpoint, "s3")

    def put(self, key, body):
        reply = self.s3().put_object(Bucket=self.bucket, Key=key, Body=body, ServerSideEncryption="aws:kms",
                                     SSEKMSKeyId=self.kms_key_arn)
        assert reply.get("VersionId"), f"{self.bucket} is not versioned: no VersionId for {key}"
        self.versions.append(Version(key, reply["VersionId"], sha256(body), len(body)))
        return reply["VersionId"]

    def delete(self, key):
        reply = self.s3().delete_object(Bucket=self.bucket, Key=key)
        self.markers.append((key, reply["VersionId"]))

    def fill(self, label):
        """A small library: one e-book per format, a second edition of the PDF, one e-book deleted."""
        self.put(f"{label}/novel.pdf", sample_pdf(f"{label} first edition"))
        self.put(f"{label}/novel.pdf", sample_pdf(f"{label} second edition"))
        self.put(f"{label}/poems.epub", sample_epub(f"{label} poems"))
        self.put(f"{label}/atlas.mobi", sample_mobi(f"{label} atlas"))
        self.put(f"{label}/withdrawn.epub", sample_epub(f"{label} withdrawn"))
        self.delete(f"{label}/withdrawn.epub")
        return self

    def problems(self):
        """What is wrong now: missing versions, changed bytes, lost delete markers. Empty when all is intact."""
        s3 = self.s3()
        found = []
        for version in self.versions:
            try:
                body = s3.get_object(Bucket=self.bucket, Key=version.key, VersionId=version.version_id)["Body"].read()
            except ClientError as exc:
                found.append(f"{version.key} version {version.version_id}: {error_code(exc)} {exc}")
                continue
            if sha256(body) != version.sha256 or len(body) != version.size:
                found.append(f"{version.key} version {version.version_id}: SHA-256 {sha256(body)} "
                             f"({len(body)} bytes), uploaded {version.sha256} ({version.size} bytes)")
        listed = self.listing()
        for key, marker in self.markers:
            if (key, marker, "marker") not in {(k, v, kind) for k, v, kind, _etag, _latest in listed}:
                found.append(f"delete marker {marker} of {key} is gone")
        deleted = {key for key, _ in self.markers}
        latest = {}
        for version in self.versions:
            latest[version.key] = version
        for key, version in latest.items():
            if key in deleted:
                continue
            body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            if sha256(body) != version.sha256:
                found.append(f"the current version of {key} is not the last one uploaded")
        return found

    def listing(self):
        """(key, version id, kind, etag, is latest) of every version and delete marker, sorted."""
        entries = []
        for page in self.s3().get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            entries += [(v["Key"], v["VersionId"], "version", v.get("ETag"), v.get("IsLatest"))
                        for v in page.get("Versions", [])]
            entries += [(m["Key"], m["VersionId"], "marker", None, m.get("IsLatest"))
                        for m in page.get("DeleteMarkers", [])]
        return sorted(entries)

    def summary(self):
        return f"{len(self.versions)} versions of {len({v.key for v in self.versions})} e-books, " \
               f"{len(self.markers)} delete marker(s) in {self.bucket}"


# --------------------------------------------------------------------------- prod data, prod runs, helpers


def prod_library(endpoint):
    """Data a prod deployment would have kept: a versioned ebooks-storage-prod bucket with e-books under a key.

    Created with boto3 (a prod stack cannot be deployed just for this), so that every prod refusal can show
    that the e-books it finds are still there, byte for byte.
    """
    s3, kms = aws(endpoint, "s3"), aws(endpoint, "kms")
    bucket = stack_name("prod")
    key = kms.create_key(Description="reliability tests: retained prod data key")["KeyMetadata"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return Ledger(endpoint, bucket, key["Arn"]).fill("prod-before-faults"), key["KeyId"]


def prod_deploy(ansible, endpoint, label="deploy-prod", **kwargs):
    """deploy.yml with the prod inventory, pointed at a LocalStack with dummy credentials: never AWS."""
    return ansible.playbook("deploy.yml", "inventories/prod",
                            {"ebook_stack_endpoint_url": endpoint, "ebook_stack_aws_env": DUMMY_CREDENTIALS},
                            endpoint=endpoint, label=label, **kwargs)


def run_all(calls, workers=3):
    """Run callables at once (threads); their results in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def outputs_file(ansible):
    return Path(ansible.outputs_dir) / "flat-outputs.json"
