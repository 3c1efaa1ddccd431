"""Plumbing of the integration tests: ansible-playbook runs, LocalStack clients, clean-up, sample e-books.

Everything here talks to a real LocalStack (``LOCALSTACK_ENDPOINT``) and runs the real
``ansible-playbook`` of the controller environment; nothing is mocked.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# LocalStack accepts any credentials. Not "test": no_log would mask every "test" in the output.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localstack", "AWS_SECRET_ACCESS_KEY": "localstack-dummy-secret"}
ENVIRONMENTS = ("dev", "test", "prod")
# Variables of the caller's shell that could point a run at a real AWS account.
AWS_ENV_TO_DROP = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                   "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


def stack_name(env):
    return f"ebooks-storage-{env}"


def inventory(env):
    return f"inventories/{env}"


# --------------------------------------------------------------------------- ansible-playbook


@dataclass
class PlaybookResult:
    """One finished ansible-playbook run (stdout callback ansible.posix.json)."""

    cmd: list
    rc: int
    stdout: str
    stderr: str
    seconds: float
    log: Path
    data: dict | None
    recap: dict | None  # PLAY RECAP of localhost: ok, changed, unreachable, failed, skipped, rescued, ignored

    def host_results(self):
        """(task name, action, host result) of every task result, in order."""
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                for result in task.get("hosts", {}).values():
                    yield task["task"]["name"], result.get("action"), result

    def find(self, action=None, name=None):
        """Host results whose module is ``action`` (FQCN) and/or whose task name contains ``name``."""
        return [r for n, a, r in self.host_results()
                if (action is None or a == action) and (name is None or name in n)]

    def task_names(self):
        return [n for n, _a, _r in self.host_results()]

    def failures(self):
        """Messages of the failed task results (also the rescued ones), in order."""
        return [_flatten(r.get("msg")) for _n, _a, r in self.host_results() if r.get("failed")]

    def text(self):
        """Every message of the run (task msgs, assertion texts) plus stderr: what a user reads."""
        parts = []
        for _n, _a, r in self.host_results():
            for key in ("msg", "argument_errors", "assertion"):
                if r.get(key) is not None:
                    parts.append(_flatten(r[key]))
        parts.append(self.stderr)
        return "\n".join(parts)

    def verification(self):
        """Result of the last storage_verify task of the run, or None."""
        found = self.find(action="tap.ebook_storage.storage_verify")
        return found[-1] if found else None

    def failed_checks(self):
        verification = self.verification()
        return [c["id"] for c in (verification or {}).get("checks", []) if c["status"] == "failed"]

    def play_seconds(self):
        """Seconds from the start of the first play to the end of the last one (from the callback)."""
        plays = (self.data or {}).get("plays", [])
        if not plays:
            return None
        start = _iso(plays[0]["play"]["duration"]["start"])
        end = _iso(plays[-1]["play"]["duration"].get("end") or plays[-1]["play"]["duration"]["start"])
        return end - start

    def describe(self):
        """Summary for assertion messages: command, rc, recap, failures, log file."""
        failed = self.failures()
        checks = self.failed_checks()
        return "\n".join([
            f"$ {' '.join(self.cmd)}",
            f"rc={self.rc} in {self.seconds:.1f} s, recap={self.recap}",
            *(f"failed task: {m[:1500]}" for m in failed),
            *([f"failed verification checks: {checks}"] if checks else []),
            *([f"stderr: {self.stderr.strip()[-1500:]}"] if self.stderr.strip() and not failed else []),
            f"full output: {self.log}",
        ])


def _iso(stamp):
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _flatten(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(_flatten(v) for v in value)
    return json.dumps(value, default=str)


_RECAP_LINE = re.compile(r"^(\S+)\s*:\s*((?:\w+=\d+\s*)+)$", re.MULTILINE)


def parse_recap(stdout):
    """PLAY RECAP of localhost from the json callback's stats, or from a text recap."""
    try:
        data = json.loads(stdout)
    except ValueError:
        data = None
    if isinstance(data, dict) and "stats" in data:
        stats = data["stats"].get("localhost")
        if stats is None:
            return data, None
        recap = {key: int(stats.get("failures" if key == "failed" else key, 0)) for key in RECAP_KEYS}
        return data, recap
    for host, counts in _RECAP_LINE.findall(stdout):
        if host == "localhost":
            values = dict(item.split("=") for item in counts.split())
            return None, {key: int(values.get(key, 0)) for key in RECAP_KEYS}
    return None, None


class PlaybookRunner:
    """``runner(playbook, inventory, extra_vars=None, check=False)`` runs ansible-playbook from the repo root.

    Extra variables go in one ``-e '<json>'``; ``ebook_stack_outputs_dir`` defaults to a temporary folder so
    that no run writes the user's cfn-outputs/. Credentials are LocalStack's dummy ones, and the variables that
    could select a real AWS account are removed from the environment.
    """

    def __init__(self, endpoint, log_dir, outputs_dir):
        self.endpoint = endpoint
        self.log_dir = Path(log_dir)
        self.outputs_dir = Path(outputs_dir)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        beside = Path(sys.executable).parent / "ansible-playbook"
        self.executable = str(beside) if beside.exists() else "ansible-playbook"

    def environment(self):
        env = {k: v for k, v in os.environ.items() if k not in AWS_ENV_TO_DROP}
        env.update(DUMMY_CREDENTIALS)
        env.update({
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "LOCALSTACK_ENDPOINT": self.endpoint,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        })
        return env

    def __call__(self, playbook, inventory, extra_vars=None, check=False, *, args=(), timeout=900):
        extra = {"ebook_stack_outputs_dir": str(self.outputs_dir)}
        extra.update(extra_vars or {})
        cmd = [self.executable, str(playbook), "-i", str(inventory), "-e", json.dumps(extra)]
        if check:
            cmd.append("--check")
        cmd += list(args)
        with self._lock:
            number = next(self._numbers)
        label = re.sub(r"[^A-Za-z0-9]+", "-", f"{Path(str(playbook)).stem}-{Path(str(inventory)).name}").strip("-")
        log = self.log_dir / f"{number:03d}-{label}.log"
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=self.environment(), capture_output=True, text=True,
                                  timeout=timeout, check=False)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc = -9
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = f"ansible-playbook killed after {timeout} s\n" + (
                exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or ""))
        seconds = time.monotonic() - started
        log.write_text(f"$ {' '.join(cmd)}\nrc={rc} seconds={seconds:.1f}\n--- stderr\n{stderr}\n--- stdout\n{stdout}")
        data, recap = parse_recap(stdout)
        return PlaybookResult(cmd, rc, stdout, stderr, seconds, log, data, recap)

    def parallel(self, *calls):
        """Run several playbooks at once; each call is (args tuple, kwargs dict). Results in order."""
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(self, *args, **kwargs) for args, kwargs in calls]
            return [f.result() for f in futures]


# --------------------------------------------------------------------------- AWS (LocalStack)


class Aws:
    """``aws("s3")``: a boto3 client for LocalStack (dummy credentials, us-east-1)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        self._clients = {}
        self._lock = threading.Lock()
        self._config = Config(connect_timeout=5, read_timeout=120, retries={"max_attempts": 3, "mode": "standard"})

    def __call__(self, service):
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service, endpoint_url=self.endpoint,
                                                              config=self._config)
            return self._clients[service]


def error_code(exc):
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


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


def stack_outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stack_parameters(stack):
    return {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}


def wait_stack(cfn, name, timeout=300):
    """Poll every second until the stack is not *_IN_PROGRESS; return it (None once deleted)."""
    deadline = time.monotonic() + timeout
    while True:
        stack = describe_stack(cfn, name)
        if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {stack['StackStatus']} after {timeout} s")
        time.sleep(1)


def stack_snapshot(cfn):
    """What a bad run must not change: every ebooks-storage-* stack with its status, update time and parameters."""
    snapshot = {}
    for env in ENVIRONMENTS:
        stack = describe_stack(cfn, stack_name(env))
        if stack:
            snapshot[stack["StackName"]] = (stack["StackStatus"], str(stack.get("LastUpdatedTime")),
                                            stack_parameters(stack))
    return snapshot


def bucket_exists(s3, bucket):
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def bucket_versions(s3, bucket):
    """(versions, delete markers) of a bucket."""
    versions, markers = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    return versions, markers


def purge_bucket(s3, bucket):
    """Delete every version and delete marker, then the bucket (no error when it is gone)."""
    if not bucket_exists(s3, bucket):
        return
    versions, markers = bucket_versions(s3, bucket)
    for item in versions + markers:
        s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def key_state(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def retire_key(kms, key_id):
    """Schedule the deletion of a key (the end state of every key the tests create)."""
    try:
        if key_state(kms, key_id) != "PendingDeletion":
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise


def delete_alias(kms, alias):
    try:
        kms.delete_alias(AliasName=alias)
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise


def force_cleanup(aws, env):
    """Remove an environment's stack, buckets and created key with boto3: the fallback when teardown.yml failed."""
    cfn, s3, kms = aws("cloudformation"), aws("s3"), aws("kms")
    name = stack_name(env)
    stack = describe_stack(cfn, name)
    key_id = stack_outputs(stack).get("KmsKeyId") if stack else None
    if stack:
        cfn.delete_stack(StackName=name)
        wait_stack(cfn, name)
    for bucket in (f"ebooks-storage-{env}", f"ebooks-storage-logs-{env}"):
        purge_bucket(s3, bucket)
    if key_id:
        retire_key(kms, key_id)


def leftovers(aws, envs=ENVIRONMENTS):
    """Stacks and buckets of the collection's environments that exist on LocalStack."""
    cfn, s3 = aws("cloudformation"), aws("s3")
    found = [f"stack {stack_name(env)}" for env in envs if describe_stack(cfn, stack_name(env))]
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for env in envs:
        found += [f"bucket {b}" for b in (f"ebooks-storage-{env}", f"ebooks-storage-logs-{env}") if b in names]
    return found


# --------------------------------------------------------------------------- SNS -> SQS


class Mailbox:
    """An SQS queue subscribed to a topic; ``wait_for(predicate)`` polls until a matching message arrives."""

    def __init__(self, aws, topic_arn, name):
        self.sqs, self.sns = aws("sqs"), aws("sns")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "AllowTheAlertTopic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": self.arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": json.dumps(policy)})
        self.subscription = self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=self.arn,
                                               ReturnSubscriptionArn=True)["SubscriptionArn"]
        self.received = []  # SNS envelopes (dicts), in arrival order

    def drain(self, wait_seconds=1):
        reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        for message in reply.get("Messages", []):
            self.received.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, predicate, timeout=60):
        """The first envelope for which predicate(envelope) is true; None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for envelope in self.received:
                if predicate(envelope):
                    return envelope
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.drain(wait_seconds=max(1, min(5, int(left))))

    def close(self):
        try:
            self.sns.unsubscribe(SubscriptionArn=self.subscription)
        finally:
            self.sqs.delete_queue(QueueUrl=self.url)


def sns_message_json(envelope):
    try:
        return json.loads(envelope.get("Message", ""))
    except ValueError:
        return None


# --------------------------------------------------------------------------- sample e-books


def sample_pdf(title="Integration test"):
    """A small, well-formed one-page PDF (header, objects, xref table, trailer, %%EOF)."""
    stream = f"BT /F1 12 Tf 10 40 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 80] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
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


def sample_epub(title="Integration test"):
    """An EPUB: a ZIP whose first entry is the uncompressed ``mimetype``, then container and package.

    Entries carry a fixed date, so the same title always gives the same bytes.
    """
    entries = [
        ("mimetype", "application/epub+zip", zipfile.ZIP_STORED),
        ("META-INF/container.xml",
         '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
         '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
         "</rootfiles></container>", zipfile.ZIP_DEFLATED),
        ("OEBPS/content.opf",
         '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
         '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
         f'<dc:identifier id="id">urn:uuid:itest</dc:identifier><dc:title>{title}</dc:title>'
         "<dc:language>en</dc:language></metadata><manifest>"
         '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
         '<spine><itemref idref="c1"/></spine></package>', zipfile.ZIP_DEFLATED),
        ("OEBPS/c1.xhtml", f'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>{title}</p></body></html>',
         zipfile.ZIP_DEFLATED),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        for name, text, compression in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            book.writestr(info, text)
    return buffer.getvalue()


def sample_mobi(title="Integration test"):
    """A MOBI: PalmDB header with type/creator ``BOOKMOBI`` at offset 60, one record (PalmDOC + MOBI header)."""
    text = title.encode()
    record0 = struct.pack(">HHIHHHH", 1, 0, len(text), 1, 4096, 0, 0)  # PalmDOC header, no compression
    record0 += b"MOBI" + struct.pack(">IIII", 24, 2, 65001, 1) + b"\xff" * 4  # tiny MOBI header, UTF-8
    record1 = text
    header = title.encode()[:31].ljust(32, b"\0")
    header += struct.pack(">HHIIIIII", 0, 0, 0, 0, 0, 0, 0, 0)
    header += b"BOOKMOBI" + struct.pack(">IIH", 0, 0, 2)
    assert header[60:68] == b"BOOKMOBI" and len(header) == 78
    first = 78 + 2 * 8 + 2
    header += struct.pack(">IB3s", first, 0, b"\0\0\0") + struct.pack(">IB3s", first + len(record0), 0, b"\0\0\1")
    return header + b"\0\0" + record0 + record1
