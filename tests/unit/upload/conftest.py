"""Fixtures of the ebook_upload / ebook_restore unit tests (moto, no LocalStack).

The modules import ``ansible_collections.tap.ebook_storage...``: a temporary
directory holding ``ansible_collections/tap/ebook_storage`` -> this checkout
is put on ``sys.path`` (``amazon.aws`` comes from the ``ansible`` package).
"""

from __future__ import annotations

import atexit
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

COLLECTION_ROOT = Path(__file__).resolve().parents[3]
_COLLECTIONS_DIR = tempfile.mkdtemp(prefix="ebook-upload-collections-")
atexit.register(shutil.rmtree, _COLLECTIONS_DIR, True)
(Path(_COLLECTIONS_DIR) / "ansible_collections" / "tap").mkdir(parents=True)
(Path(_COLLECTIONS_DIR) / "ansible_collections" / "tap" / "ebook_storage").symlink_to(COLLECTION_ROOT)
sys.path.insert(0, _COLLECTIONS_DIR)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from unittest import mock  # noqa: E402

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.common import warnings as ansible_warnings  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

REGION = "us-east-1"


class AnsibleExitJson(Exception):
    """exit_json was called."""


class AnsibleFailJson(Exception):
    """fail_json was called."""


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, *args, **kwargs):
    if args:
        kwargs["msg"] = args[0]
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


class ModuleRunner:
    """Runs a module's main() with arguments; returns its result dict (``failed`` set on failure)."""

    def __init__(self):
        self.warnings = []

    def __call__(self, module, args, check_mode=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        self.warnings = []

        def _warn(*args, **kwargs):
            self.warnings.append(kwargs.get("warning", args[-1] if args else None))

        with (
            patch_module_args(args),
            mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json),
            mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json),
            mock.patch.object(basic.AnsibleModule, "warn", _warn),
            mock.patch.object(ansible_warnings, "warn", _warn),
        ):
            result = None
            try:
                module.main()
            except AnsibleExitJson as done:
                result = done.args[0]
            except AnsibleFailJson as failed:
                result = failed.args[0]
        if result is None:  # pragma: no cover - a module always exits
            raise AssertionError("the module returned without exit_json/fail_json")
        # What Ansible would send back must be JSON.
        json.dumps(result, default=str)
        return result


@pytest.fixture
def run_module():
    return ModuleRunner()


@pytest.fixture
def aws(monkeypatch):
    """moto's mock_aws with dummy credentials in the environment (never as module options)."""
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws):
    import boto3

    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def kms_key_arn(aws):
    import boto3

    kms = boto3.client("kms", region_name=REGION)
    return kms.create_key(Description="ebook test key")["KeyMetadata"]["Arn"]


@pytest.fixture
def bucket(s3):
    name = "ebooks-storage-unit"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
