"""Plumbing of the reliability (fault) tests: the streamed ansible runner, a LocalStack of their own, a proxy
that plays AWS's part, stacks failed on purpose, and e-books with their digests (the ledger).

Nothing here is mocked. ``ansible-playbook`` runs with ``-v`` and one JSON line per task result
(``ANSIBLE_CALLBACK_RESULT_FORMAT=json``), streamed, so that a test can act at a precise point of a run
(kill LocalStack when the CloudFormation task starts) and still read every task result afterwards.
What other suites use too (clients, stacks, buckets, keys, clean-up, sample e-books, the run's environment)
lives in tests/support.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from tests.support.ansible_runs import LogFiles, failed_checks, flatten
from tests.support.aws import bucket_names, client, describe_stack, error_code, stack_parameters, wait_stack
from tests.support.ebooks import sample_epub, sample_mobi, sample_pdf, sha256
from tests.support.environment import DUMMY_CREDENTIALS, ROOT, ansible_environment, controller_command
from tests.support.localstack import answers, port_open, processes_in, runs_localstack

TRACEBACK = "Traceback (most recent call last)"
ROLE_PREFIX = "tap.ebook_storage.ebook_stack : "


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
        return "\n".join(flatten(r.data.get("msg")) for r in self.failures())

    def messages(self):
        """Every msg of the run (debug output included) plus the raw output."""
        return "\n".join([flatten(r.data.get("msg")) for r in self.results if r.data.get("msg")] + [self.output])

    def verification(self):
        found = [r for r in self.results if "verify the live state of" in r.task.lower() and "checks" in r.data]
        return found[-1].data if found else None

    def failed_checks(self):
        return failed_checks(self.verification())

    def has_traceback(self):
        return TRACEBACK in self.output

    def describe(self):
        timing = f"rc={self.rc} in {self.seconds:.1f} s" + (" (TIMED OUT)" if self.timed_out else "")
        lines = [f"$ {' '.join(self.cmd)}", timing]
        lines += [f"failed task [{r.task}]: {flatten(r.data.get('msg'))[:1500]}" for r in self.failures()]
        if self.failed_checks():
            lines.append(f"failed verification checks: {self.failed_checks()}")
        if not self.failures():
            lines.append("last output: " + self.output[-1500:])
        lines.append(f"full output: {self.log}")
        return "\n".join(lines)


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
    """Runs ``ansible-playbook`` of the controller environment from the collection root."""

    def __init__(self, log_dir, outputs_dir):
        self.log_dir = Path(log_dir)
        self.outputs_dir = Path(outputs_dir)
        self._logs = LogFiles(self.log_dir)
        self.playbook_bin = controller_command("ansible-playbook")

    def environment(self, endpoint=None, credentials=True, extra=None):
        """The environment of a run: no AWS settings of the caller's shell; LocalStack's dummy credentials;
        one JSON line per task result, unbuffered (read as it comes)."""
        return ansible_environment(endpoint, credentials=credentials,
                                   extra={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "PYTHONUNBUFFERED": "1",
                                          **(extra or {})})

    def _log(self, label):
        return self._logs.path(label)

    def start(self, playbook, inventory, extra_vars=None, *, endpoint=None, credentials=True, env=None,
              on_line=None, label=None):
        extra = {"ebook_stack_outputs_dir": str(self.outputs_dir)}
        extra.update(extra_vars or {})
        cmd = [self.playbook_bin, "-v", str(playbook), "-i", str(inventory), "-e", json.dumps(extra)]
        log = self._log(label or f"{Path(str(playbook)).stem}-{Path(str(inventory)).name}")
        return Running(cmd, self.environment(endpoint, credentials, env), log, on_line)

    def playbook(self, playbook, inventory, extra_vars=None, *, timeout=600, **kwargs):
        return self.start(playbook, inventory, extra_vars, **kwargs).wait(timeout)



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
    cfn = client(endpoint, "cloudformation")
    stack = describe_stack(cfn, name)
    template = cfn.get_template(StackName=name)["TemplateBody"]
    if not isinstance(template, str):
        template = json.dumps(template)
    set_localstack_config(endpoint, "CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES", False)
    try:
        cfn.create_change_set(StackName=name, ChangeSetName="reliability-update-rollback-failed",
                              ChangeSetType="UPDATE", TemplateBody=template,
                              Parameters=[{"ParameterKey": k, "UsePreviousValue": True}
                                          for k in stack_parameters(stack)],
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
        # The same test as roles/localstack/tasks/stop_host.yml: a reused pid is left alone.
        assert runs_localstack(pid), f"pid {pid} of {self.pid_file} is not the LocalStack these tests started"
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
        return [pid for pid in processes_in(self.state_dir) if runs_localstack(pid)]

    def reap_orphans(self):
        for pid in self.orphans():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def ensure_running(self):
        if not answers(self.endpoint):
            self.start()


# --------------------------------------------------------------------------- a proxy that plays AWS's part

# What STS answers for an access key it does not know.
INVALID_TOKEN_ERROR = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                       b"<Code>InvalidClientTokenId</Code><Message>The security token included in the request is "
                       b"invalid.</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
                       b"</ErrorResponse>")

# What STS answers a principal that the role's trust policy does not name.
ASSUME_ROLE_DENIED = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                      b"<Code>AccessDenied</Code><Message>User: arn:aws:sts::000000000000:assumed-role/"
                      b"AWSReservedSSO_Operator_0123456789abcdef/operator is not authorized to perform: "
                      b"sts:AssumeRole on resource: arn:aws:iam::000000000000:role/eBook-S3Access-test</Message>"
                      b"</Error><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ErrorResponse>")


class FaultProxy:
    """An HTTP proxy in front of LocalStack that plays the part of AWS where LocalStack cannot.

    Every request goes to LocalStack unchanged, except:

    * while ``status`` is set, the answers to DescribeStacks for ``stack`` carry that StackStatus instead of the
      real one (LocalStack never leaves a stack in DELETE_FAILED, and holds *_IN_PROGRESS for a fraction of a
      second only);
    * requests signed with the access key ``reject_access_key`` get the answer AWS gives to an unknown key
      (403 InvalidClientTokenId): LocalStack accepts any credentials;
    * with ``as_aws``, LocalStack's own paths (``/_localstack/...``) answer 404 as AWS would, so the role takes
      the target for AWS and follows its AWS path;
    * with ``deny_assume_role``, every sts:AssumeRole gets the AccessDenied of a principal that the role's trust
      policy does not name (LocalStack evaluates no trust policy).
    """

    def __init__(self, upstream, stack=None, reject_access_key=None, as_aws=False, deny_assume_role=False):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.stack = stack
        self.as_aws = as_aws
        self.deny_assume_role = deny_assume_role
        self.denied = 0
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
                if proxy.as_aws and self.path.startswith("/_localstack"):
                    self._answer(404, [("Content-Type", "text/plain")], b"Not Found")
                    return
                if proxy.reject_access_key and f"Credential={proxy.reject_access_key}/" in (
                        self.headers.get("Authorization") or ""):
                    proxy.rejected += 1
                    self._answer(403, [("Content-Type", "text/xml")], INVALID_TOKEN_ERROR)
                    return
                if proxy.deny_assume_role and b"Action=AssumeRole&" in body + b"&":
                    proxy.denied += 1
                    self._answer(403, [("Content-Type", "text/xml")], ASSUME_ROLE_DENIED)
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


@dataclass
class Version:
    key: str
    version_id: str
    sha256: str
    size: int


# The ledger's EPUBs: their own identifier and a chapter of 2 KB.
EPUB = {"identifier": "reliability", "filler": 2048}


class Ledger:
    """The e-books uploaded before a fault: every version with its SHA-256, and the delete markers."""

    def __init__(self, endpoint, bucket, kms_key_arn):
        self.endpoint = endpoint
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.versions = []
        self.markers = []  # (key, version id)

    def s3(self):
        return client(self.endpoint, "s3")

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
        self.put(f"{label}/poems.epub", sample_epub(f"{label} poems", **EPUB))
        self.put(f"{label}/atlas.mobi", sample_mobi(f"{label} atlas"))
        self.put(f"{label}/withdrawn.epub", sample_epub(f"{label} withdrawn", **EPUB))
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
    """Data a prod deployment would have kept: prod's versioned data bucket with e-books under a key.

    Created with boto3 (a prod stack cannot be deployed just for this), so that every prod refusal can show
    that the e-books it finds are still there, byte for byte.
    """
    s3, kms = client(endpoint, "s3"), client(endpoint, "kms")
    bucket = bucket_names("prod")[0]
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


def play_recap(run):
    """The PLAY RECAP counts of localhost (ok, changed, unreachable, failed, skipped, rescued, ignored) of a Run."""
    for line in reversed(run.output.splitlines()):
        match = re.match(r"^localhost\s*:\s*((?:\w+=\d+\s*)+)$", line)
        if match:
            return {key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())}
    raise AssertionError(f"no PLAY RECAP in the output of {' '.join(run.cmd)}: {run.log}")
