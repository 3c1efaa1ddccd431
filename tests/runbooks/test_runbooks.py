"""Every runbook of docs/runbooks, run as someone on call pastes it into a shell.

THE CONVENTION (also in tests/runbooks/README.md):

* Every fenced block whose info string is ``bash`` is a command block, and this test runs it. ```` ```console ````
  and ```` ```text ```` blocks are sample output: never run.
* A runbook's bash blocks run in order in ONE bash process (``set -euo pipefail``): a block may use the shell
  variables an earlier block set (``BUCKET=...``). Any failing command stops the runbook: its test fails.
* Nothing is skipped. No marker exempts a bash block. A command that only real AWS can run is not in a bash
  fence: the runbook says in its prose that it is AWS-only.
* The commands run from a project folder (deploy.yml, ansible.cfg, playbooks/, inventories/dev, test and a
  prod-like prod pointed at LocalStack); the shell has LOCALSTACK_ENDPOINT, AWS_ENDPOINT_URL, dummy credentials,
  AWS_DEFAULT_REGION and the controller environment's bin first on PATH (ansible-playbook, aws), nothing else.

One test per runbook, in file order, ``teardown`` last. Before it: what NEEDS says the runbook starts from
(deployed stacks, the sample library, a backlog folder), made with the real playbooks. After it: the exit code,
then the runbook's entry of CHECKS, which looks at what the commands did.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pytest
from runbook_support import bash_blocks, command_lines, fences, inventories_used, runbook_paths
from walk_support import BACKLOG_DIR, HISTORY_KEY, NOTES, UNENCRYPTED_KEY, USED, Needs, versions_of

from tests.support.aws import ENVIRONMENTS, leftovers, stack_fingerprint, stack_name
from tests.support.ebooks import sha256

TIMEOUT = int(os.environ.get("RUNBOOK_TIMEOUT") or 900)

# What each runbook starts from (by file name). USED: the environments its bash blocks name (inventories/<env>).
NEEDS = {
    # Deploys the stacks itself: on a fresh LocalStack (it runs first) its commands create them.
    "deploy-environment": Needs(),
    # prod's stack deleted outside the playbook, its buckets (with the library) and key retained.
    "reattach-retained-bucket": Needs(retained=USED),
    "respond-to-alert": Needs(deployed=USED, library=USED, unencrypted=USED, drifted=USED),
    "restore-ebook": Needs(deployed=USED, library=USED),
    "review-prod-change": Needs(deployed=USED),
    "rotate-kms-key": Needs(deployed=USED, library=USED),
    # The data bucket is empty: a teardown without the purge flag is allowed.
    "teardown": Needs(deployed=USED),
    "upload-backlog": Needs(deployed=USED, backlog=True),
}
DEFAULT_NEEDS = Needs(deployed=USED)


@dataclass
class Context:
    """What a check gets: the walk (clients, project, library), the runbook's blocks, the state before it ran."""

    walk: object
    name: str
    blocks: list
    before: dict

    @property
    def used(self):
        return [env for env in inventories_used(self.blocks) if env in ENVIRONMENTS]

    def commands(self):
        return command_lines(self.blocks)

    def envs_of(self, playbook, *, without=(), having=()):
        """Environments of the command lines that run ``playbook`` (with all of ``having``, none of ``without``)."""
        found = []
        for line in self.commands():
            if playbook not in line or any(w in line for w in without) or not all(h in line for h in having):
                continue
            found += [env for env in re.findall(r"-i\s+inventories/([\w-]+)", line) if env in ENVIRONMENTS]
        return list(dict.fromkeys(found))

    def current_objects(self, env):
        """{key: head_object reply} of every current object of the environment's data bucket."""
        s3 = self.walk.aws("s3")
        bucket = self.walk.outputs(env)["EbooksBucketName"]
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                found[item["Key"]] = s3.head_object(Bucket=bucket, Key=item["Key"])
        return found

    def body_sha256(self, env, key):
        s3 = self.walk.aws("s3")
        return sha256(s3.get_object(Bucket=self.walk.outputs(env)["EbooksBucketName"], Key=key)["Body"].read())


def _object_versions(entries):
    """The version ids of a key's object versions (not its delete markers: an undelete removes those)."""
    return {version_id for version_id, is_marker, _latest in entries or [] if not is_marker}


def _stable(fingerprint):
    """A stack fingerprint without the event count (LocalStack may log a reviewed change set)."""
    return {k: v for k, v in (fingerprint or {}).items() if k != "events"} if fingerprint else None


def _assert_complete(ctx, env):
    stack = ctx.walk.stack(env)
    assert stack and stack["StackStatus"].endswith("_COMPLETE") and "ROLLBACK" not in stack["StackStatus"], (
        f"{stack_name(env)} is {stack and stack['StackStatus']} after {ctx.name}")


def _assert_encrypted_with_stack_key(ctx, env, objects):
    key_arn = ctx.walk.key_arn(ctx.walk.outputs(env)["EncryptionKeyArn"])
    wrong = {k: (h.get("ServerSideEncryption"), h.get("SSEKMSKeyId")) for k, h in objects.items()
             if h.get("ServerSideEncryption") != "aws:kms" or ctx.walk.key_arn(h.get("SSEKMSKeyId")) != key_arn}
    assert not wrong, f"{env}: objects not encrypted with the stack's key {key_arn} after {ctx.name}: {wrong}"


# --------------------------------------------------------------------------- checks, by runbook name


def check_deploy_environment(ctx):
    deployed = ctx.envs_of("deploy.yml", without=("ebook_stack_review", "--check"))
    assert deployed, "the runbook deploys no environment"
    for env in deployed:
        _assert_complete(ctx, env)


def check_reattach_retained_bucket(ctx):
    # The stack is back, and every version of the library written before the delete is still there, intact.
    for env in ctx.used:
        _assert_complete(ctx, env)
        s3 = ctx.walk.aws("s3")
        bucket = ctx.walk.data_bucket(env)
        for (where, key), before in ctx.before["versions"].items():
            if where != env or not before:
                continue
            lost = _object_versions(before) - _object_versions(versions_of(s3, bucket, key))
            assert not lost, f"{env}: versions of {key} lost by the runbook: {sorted(lost)}"
        for key, head in ctx.current_objects(env).items():
            stored = head.get("Metadata", {}).get("sha256")
            if stored:
                assert ctx.body_sha256(env, key) == stored, f"{env}: {key} does not read back as written"


def check_respond_to_alert(ctx):
    # The fixture wrote UNENCRYPTED_KEY without the stack's key (OBJECT_NOT_KMS): the runbook re-encrypts it.
    for env in ctx.used:
        _assert_complete(ctx, env)
        objects = ctx.current_objects(env)
        assert UNENCRYPTED_KEY in objects, f"{env}: {UNENCRYPTED_KEY} is gone after {ctx.name}"
        _assert_encrypted_with_stack_key(ctx, env, {UNENCRYPTED_KEY: objects[UNENCRYPTED_KEY]})
        # The fixture suspended versioning by hand: the runbook's deploy with the repair flag put it back.
        bucket = ctx.walk.outputs(env)["EbooksBucketName"]
        status = ctx.walk.aws("s3").get_bucket_versioning(Bucket=bucket).get("Status")
        assert status == "Enabled", f"{env}: versioning of {bucket} is {status} after {ctx.name}"


def check_restore_ebook(ctx):
    # The library's history key starts deleted (edition 1, edition 2, delete marker): after the runbook it is
    # an earlier edition again, and every version that was there is still there (a restore never deletes one).
    for env in ctx.used:
        editions = ctx.walk.library[env][HISTORY_KEY]
        before = ctx.before["versions"][(env, HISTORY_KEY)]
        after = versions_of(ctx.walk.aws("s3"), ctx.walk.outputs(env)["EbooksBucketName"], HISTORY_KEY)
        lost = _object_versions(before) - _object_versions(after)
        assert not lost, f"{env}: versions of {HISTORY_KEY} deleted by the runbook: {sorted(lost)}"
        assert after and not after[0][1], f"{env}: {HISTORY_KEY} is still deleted after the runbook"
        current = ctx.body_sha256(env, HISTORY_KEY)
        assert current in editions, f"{env}: the current {HISTORY_KEY} is none of the editions written before"
        NOTES.append(f"restore-ebook: {env} {HISTORY_KEY} ends as edition {editions.index(current) + 1} "
                     f"({len(after)} versions and markers, {len(before)} before)")


def check_review_prod_change(ctx):
    # Only reviewed, never deployed: the stack is as it was.
    reviewed = ctx.envs_of("deploy.yml", having=("ebook_stack_review",))
    reviewed += ctx.envs_of("deploy.yml", having=("--check",))
    deployed = ctx.envs_of("deploy.yml", without=("ebook_stack_review", "--check"))
    assert reviewed, "the runbook reviews no environment"
    cfn = ctx.walk.aws("cloudformation")
    for env in set(reviewed) - set(deployed):
        after = stack_fingerprint(cfn, stack_name(env))
        assert _stable(after) == _stable(ctx.before["stacks"][env]), f"the review changed {stack_name(env)}"


def check_rotate_kms_key(ctx):
    # Whatever key the stack now uses, every current e-book is encrypted with it and still reads back intact.
    for env in ctx.used:
        _assert_complete(ctx, env)
        objects = ctx.current_objects(env)
        _assert_encrypted_with_stack_key(ctx, env, objects)
        for key, head in objects.items():
            stored = head.get("Metadata", {}).get("sha256")
            if stored:
                assert ctx.body_sha256(env, key) == stored, f"{env}: {key} does not read back as written"


def check_teardown(ctx):
    removed = ctx.envs_of("teardown.yml")
    assert removed, "the runbook tears down no environment"
    for env in removed:
        if env == "prod":
            continue
        left = leftovers(ctx.walk.aws, [env])
        assert not left, f"{', '.join(left)} still there after {ctx.name}"
    if ctx.before["stacks"]["prod"]:
        after = stack_fingerprint(ctx.walk.aws("cloudformation"), stack_name("prod"))
        assert _stable(after) == _stable(ctx.before["stacks"]["prod"]), "the teardown runbook changed prod"


def check_upload_backlog(ctx):
    # Every e-book of the project's backlog folder is a current object, encrypted with the stack's key, with
    # its sha256 in the metadata (whatever prefix the runbook chose).
    uploaded = ctx.envs_of("upload.yml", without=("--check",))
    assert uploaded, "the runbook uploads nothing (every upload.yml line has --check)"
    for env in uploaded:
        objects = ctx.current_objects(env)
        by_sha = {h.get("Metadata", {}).get("sha256"): k for k, h in objects.items()}
        missing = [path for path, digest in ctx.walk.backlog.items() if digest not in by_sha]
        assert not missing, f"{env}: not uploaded from {BACKLOG_DIR}/: {missing}"
        _assert_encrypted_with_stack_key(ctx, env, {by_sha[d]: objects[by_sha[d]] for d in ctx.walk.backlog.values()})


CHECKS = {
    "deploy-environment": check_deploy_environment,
    "reattach-retained-bucket": check_reattach_retained_bucket,
    "respond-to-alert": check_respond_to_alert,
    "restore-ebook": check_restore_ebook,
    "review-prod-change": check_review_prod_change,
    "rotate-kms-key": check_rotate_kms_key,
    "teardown": check_teardown,
    "upload-backlog": check_upload_backlog,
}


# --------------------------------------------------------------------------- the walk


@pytest.mark.parametrize("path", runbook_paths(), ids=lambda p: p.stem)
def test_runbook(path, walk):
    blocks = bash_blocks(path)
    others = sorted({f.language or "(none)" for f in fences(path) if f.language != "bash"})
    assert blocks, (f"{path.name} has no ```bash block, so none of its commands is run (its other fences: "
                    f"{', '.join(others) or 'none'}). Put the commands in ```bash fences.")
    walk.prepare(NEEDS.get(path.stem, DEFAULT_NEEDS), inventories_used(blocks))
    before = walk.snapshot()
    run = walk.run(path.stem, blocks, TIMEOUT)
    failed = run.failed
    NOTES.append(f"{path.stem}: {len(blocks)} bash blocks, "
                 + (f"block {failed.block.number} failed (line {run.failed_line or failed.block.line}, exit "
                    f"{run.rc})" if failed else "all passed") + f", {run.seconds:.0f} s")
    assert run.rc == 0 and not run.timed_out and not failed, run.describe()
    check = CHECKS.get(path.stem)
    if check:
        check(Context(walk, path.stem, blocks, before))
