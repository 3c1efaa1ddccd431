"""The walk's state: what a runbook starts from (``Needs``), made with the real playbooks, and what it left.

``Walk`` runs the fixtures' commands (deploy.yml, playbooks/upload.yml) from the project folder with the same
environment as the runbooks, reads LocalStack with boto3 for the checks, and removes everything at the end.
Plain Python: the fixtures live in conftest.py, the checks in test_runbooks.py.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError
from runbook_support import ROOT, bash_environment, run_blocks

from tests.support.aws import (
    ENVIRONMENTS,
    bucket_versions,
    describe_stack,
    error_code,
    force_cleanup,
    leftovers,
    resources_left,
    retire_keys,
    stack_fingerprint,
    stack_name,
    stack_outputs,
)
from tests.support.ebooks import sample_epub, sample_mobi, sample_pdf, sha256
from tests.support.environment import controller_bin

# The sample library (``Needs.library``): keys under this prefix. dune.epub has a history: a first edition, a
# second edition, then a delete (a delete marker on top), the story of docs/runbooks/restore-ebook.md.
LIBRARY_PREFIX = "backlog/2026-11"
HISTORY_KEY = f"{LIBRARY_PREFIX}/fiction/dune.epub"
# ``Needs.unencrypted``: an object written without the stack's key (SSE-S3), what OBJECT_NOT_KMS reports.
UNENCRYPTED_KEY = "incoming/unencrypted-sample.pdf"
# ``Needs.backlog``: a folder of e-books in the project, for playbooks/upload.yml.
BACKLOG_DIR = "backlog"

# Notes for the end of the session (conftest's pytest_terminal_summary): one line per runbook, observations.
NOTES = []


class PreconditionFailed(AssertionError):
    """A fixture's command failed: the runbook did not even start."""


@dataclass(frozen=True)
class Needs:
    """What a runbook starts from. Each field is a tuple of environments, or USED: the environments its bash
    blocks name with ``inventories/<env>``."""

    deployed: tuple | str = ()  # a stack deployed by deploy.yml, *_COMPLETE
    library: tuple | str = ()  # the sample library in the data bucket (LIBRARY_PREFIX, HISTORY_KEY)
    unencrypted: tuple | str = ()  # UNENCRYPTED_KEY, written with SSE-S3 instead of the stack's key
    drifted: tuple | str = ()  # the data bucket's versioning suspended by hand (VERSIONING_NOT_ENABLED)
    backlog: bool = False  # BACKLOG_DIR in the project: three valid e-books
    # The stack deployed, the library written, then the stack deleted as `aws cloudformation delete-stack`
    # does: the buckets, their policies and the key are left (DeletionPolicy Retain).
    retained: tuple | str = ()


USED = "used"


class Walk:
    """The project folder, the bash environment, and what the runbooks start from."""

    def __init__(self, endpoint, aws, project, logs):
        self.endpoint = endpoint
        self.aws = aws
        self.project = Path(project)
        self.logs = Path(logs)
        self.env = bash_environment(endpoint, self.project, controller_bin())
        self.library = {}  # env -> {key: [sha256 of each version written, oldest first]}
        self.backlog = {}  # relative path -> sha256
        self.counter = 0
        self.extra_keys = set()

    # ----------------------------------------------------------------- running things in the project

    def log_path(self, label):
        self.counter += 1
        return self.logs / f"{self.counter:03d}-{label}.log"

    def shell(self, command, label, timeout=600):
        """One command line in the project folder with the walk's environment (fixtures, not runbooks)."""
        log = self.log_path(label)
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", command], cwd=self.project, env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)
        output = proc.stdout + proc.stderr
        log.write_text(f"$ {command}\nrc={proc.returncode} seconds={time.monotonic() - started:.1f}\n{output}")
        if proc.returncode != 0:
            tail = "\n".join(output.strip().split("\n")[-40:])
            raise PreconditionFailed(f"`{command}` exited {proc.returncode}:\n{tail}\nwhole output: {log}")
        return output

    def run(self, name, blocks, timeout):
        return run_blocks(blocks, self.project, self.env, timeout=timeout, log=self.log_path(f"runbook-{name}"))

    # ----------------------------------------------------------------- state on LocalStack

    def stack(self, env):
        return describe_stack(self.aws("cloudformation"), stack_name(env))

    def outputs(self, env):
        return stack_outputs(self.stack(env))

    def key_arn(self, key):
        """The ARN of the key that a key id, key ARN, alias or alias ARN names."""
        return self.aws("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"] if key else None

    def data_bucket(self, env):
        """The data bucket of an environment (also when its stack was deleted: the name is fixed)."""
        return self.outputs(env).get("EbooksBucketName") if self.stack(env) else stack_name(env)

    def snapshot(self):
        """What a check compares with: every stack's fingerprint, every version of the library's keys."""
        cfn, s3 = self.aws("cloudformation"), self.aws("s3")
        stacks = {env: stack_fingerprint(cfn, stack_name(env)) for env in ENVIRONMENTS}
        versions = {}
        for env, keys in self.library.items():
            bucket = self.data_bucket(env)
            for key in keys:
                versions[(env, key)] = versions_of(s3, bucket, key)
        return {"stacks": stacks, "versions": versions}

    # ----------------------------------------------------------------- preconditions

    def prepare(self, needs, used):
        def envs(value):
            return tuple(e for e in (used if value == USED else value) if e in ENVIRONMENTS)

        deployed = envs(needs.deployed)
        retained = envs(needs.retained)
        needing_stack = set(envs(needs.library)) | set(envs(needs.unencrypted)) | set(envs(needs.drifted))
        for env in sorted(set(deployed) | needing_stack | set(retained)):
            self.ensure_deployed(env)
        for env in sorted(set(envs(needs.library)) | set(retained)):
            self.ensure_library(env)
        for env in envs(needs.unencrypted):
            self.ensure_unencrypted(env)
        for env in envs(needs.drifted):
            self.aws("s3").put_bucket_versioning(Bucket=self.outputs(env)["EbooksBucketName"],
                                                 VersioningConfiguration={"Status": "Suspended"})
        for env in retained:
            self.delete_stack(env)
        if needs.backlog:
            self.ensure_backlog()

    def delete_stack(self, env):
        """What `aws cloudformation delete-stack` does: the stack goes, what it retains stays."""
        cfn = self.aws("cloudformation")
        cfn.delete_stack(StackName=stack_name(env))
        waiter = cfn.get_waiter("stack_delete_complete")
        waiter.wait(StackName=stack_name(env), WaiterConfig={"Delay": 1, "MaxAttempts": 300})

    def ensure_deployed(self, env):
        stack = self.stack(env)
        if stack and stack["StackStatus"].endswith("_COMPLETE") and "ROLLBACK" not in stack["StackStatus"]:
            return
        if stack:  # a runbook left it failed: start again
            force_cleanup(self.aws, env)
            self.library.pop(env, None)
        self.shell(f"ansible-playbook deploy.yml -i inventories/{env}", f"deploy-{env}")
        stack = self.stack(env)
        assert stack and stack["StackStatus"].endswith("_COMPLETE"), f"{stack_name(env)} was not deployed: {stack}"

    def ensure_library(self, env):
        bucket = self.outputs(env)["EbooksBucketName"]
        if env in self.library and all(versions_of(self.aws("s3"), bucket, key) for key in self.library[env]):
            return
        source = self.logs / f"library-{env}"
        books = {"fiction/dune.epub": sample_epub("Dune, first edition", identifier="dune-1"),
                 "fiction/foundation.mobi": sample_mobi("Foundation"),
                 "science/cosmos.pdf": sample_pdf("Cosmos")}
        record = {}
        for relative, data in books.items():
            _write(source / relative, data)
            record[f"{LIBRARY_PREFIX}/{relative}"] = [sha256(data)]
        upload = (f"ansible-playbook playbooks/upload.yml -i inventories/{env} -e ebook_upload_src={source} "
                  f"-e ebook_upload_prefix={LIBRARY_PREFIX}")
        self.shell(upload, f"library-{env}-first")
        time.sleep(1.1)  # LastModified has whole seconds: the editions must be told apart by time
        second = sample_epub("Dune, second edition", identifier="dune-2", filler=40)
        _write(source / "fiction/dune.epub", second)
        record[HISTORY_KEY].append(sha256(second))
        self.shell(upload, f"library-{env}-second")
        time.sleep(1.1)
        self.aws("s3").delete_object(Bucket=bucket, Key=HISTORY_KEY)  # somebody deleted it
        self.library[env] = record

    def ensure_unencrypted(self, env):
        bucket = self.outputs(env)["EbooksBucketName"]
        self.aws("s3").put_object(Bucket=bucket, Key=UNENCRYPTED_KEY, Body=sample_pdf("Not encrypted"),
                                  ContentType="application/pdf", ServerSideEncryption="AES256")

    def ensure_backlog(self):
        books = {"fiction/brave-new-world.pdf": sample_pdf("Brave New World"),
                 "fiction/solaris.epub": sample_epub("Solaris", identifier="solaris"),
                 "science/origin-of-species.mobi": sample_mobi("On the Origin of Species")}
        for relative, data in books.items():
            _write(self.project / BACKLOG_DIR / relative, data)
            self.backlog[relative] = sha256(data)

    # ----------------------------------------------------------------- the end

    def clean_up(self):
        """Remove every stack, bucket and key of the walk (boto3): the LocalStack is left as it was found."""
        kms = self.aws("kms")
        for alias in kms.list_aliases().get("Aliases", []):
            if alias["AliasName"].startswith("alias/ebooks-") and alias.get("TargetKeyId"):
                self.extra_keys.add(alias["TargetKeyId"])
                with contextlib.suppress(Exception):
                    kms.delete_alias(AliasName=alias["AliasName"])
        for env in ENVIRONMENTS:
            force_cleanup(self.aws, env)
            # Keys the stacks retained (a deleted stack, a key change): tagged with the environment.
            self.extra_keys.update(k.split()[0] for k in resources_left(self.aws, env, kinds=("kms_keys",))["kms_keys"])
        retire_keys(kms, sorted(self.extra_keys))
        return leftovers(self.aws)

    def observe_outputs(self):
        """Where the deploys of the walk wrote their output files (relative to the project)."""
        return sorted(str(p.relative_to(self.project)) for p in self.project.rglob("*")
                      if p.is_file() and "cfn-outputs" in p.relative_to(self.project).parts)


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def versions_of(s3, bucket, key):
    """[(version id, is delete marker, is latest)] of one key, newest first."""
    try:
        versions, markers = bucket_versions(s3, bucket, key)
    except ClientError as exc:  # a bucket that is gone has no versions
        if error_code(exc) in ("NoSuchBucket", "404"):
            return []
        raise
    entries = [(v["VersionId"], False, v["IsLatest"], v["LastModified"]) for v in versions if v["Key"] == key]
    entries += [(m["VersionId"], True, m["IsLatest"], m["LastModified"]) for m in markers if m["Key"] == key]
    return [e[:3] for e in sorted(entries, key=lambda e: e[3], reverse=True)]


def checkout_outputs():
    """Files under the checkout's cfn-outputs folders with their modification times."""
    found = {}
    for folder in (ROOT / "cfn-outputs", ROOT / "playbooks" / "cfn-outputs"):
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    found[str(path.relative_to(ROOT))] = path.stat().st_mtime
    return found
