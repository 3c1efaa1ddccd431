"""The one test-support layer of the unit tests (plugins, upload, monitor).

- The collection is made importable as ``ansible_collections.tap.ebook_storage`` (a symlink to this checkout
  in a temporary directory; ``amazon.aws`` comes from the virtual environment's ``ansible_collections``,
  a namespace package, so both halves merge).
- ``run``: runs a module's ``main()`` in this process with the arguments Ansible would hand it; the
  argument spec is validated by AnsibleModule itself, as on a target.
- ``aws_env`` / ``moto``: dummy credentials and region, nothing of the machine's AWS set-up; moto for
  every AWS call.

Sub-directories keep only their own data fixtures (a stack, a bucket, the monitor's deployment).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import sys
import tempfile
import traceback
from unittest import mock

import pytest

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"


def _make_collection_importable():
    here = os.path.realpath(COLLECTION_ROOT)
    for entry in sys.path:
        if os.path.realpath(os.path.join(entry, "ansible_collections", "tap", "ebook_storage")) == here:
            return
    base = tempfile.mkdtemp(prefix="tap-collections-")
    atexit.register(shutil.rmtree, base, True)
    os.makedirs(os.path.join(base, "ansible_collections", "tap"))
    os.symlink(here, os.path.join(base, "ansible_collections", "tap", "ebook_storage"))
    sys.path.insert(0, base)


_make_collection_importable()


def pytest_configure(config):
    # moto's CloudFormation warns about every resource type it cannot create; tap_moto_stack completes them.
    config.addinivalue_line("filterwarnings", "ignore:Tried to parse:UserWarning")


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader():
    """Every botocore session shares one data loader.

    Each module run makes new boto3 sessions, and each would parse the service models and endpoint
    data again (about 1 s of JSON per storage_verify run); the data is read-only, so sharing changes
    nothing but the time.
    """
    import botocore.loaders
    import botocore.session

    with mock.patch.object(botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader)):
        yield


@pytest.fixture
def aws_env(monkeypatch):
    """Dummy credentials and the test region; no profile, endpoint or key of the machine leaks in."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def moto(aws_env):
    from moto import mock_aws

    # Lambda invocations answer from moto's queue (tap_moto_stack.queue_monitor_report), no Docker.
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


# -- running a module ----------------------------------------------------------------------------


class _Exit(Exception):
    pass


class ModuleRunner:
    """``run(module, args, check_mode=False)`` -> the module's result, as the controller would receive it.

    The result went through Ansible's module JSON encoder (what cannot travel as JSON fails here too);
    ``failed`` and ``changed`` are always set. Warnings of the last run are in ``run.warnings``.
    """

    def __init__(self):
        self.warnings = []

    def __call__(self, module, args, check_mode=False):
        from ansible.module_utils import basic
        from ansible.module_utils.common import json as ansible_json
        from ansible.module_utils.common import warnings as ansible_warnings
        from ansible.module_utils.testing import patch_module_args

        args = dict(args)
        # What the controller adds: the name appears in "Unsupported parameters for (<name>) module".
        args.setdefault("_ansible_module_name", _fqcn(module))
        if check_mode:
            args["_ansible_check_mode"] = True
        self.warnings = []

        def warn(*positional, **named):
            self.warnings.append(named.get("warning", positional[-1] if positional else None))

        def exit_json(_module, **result):
            result.setdefault("changed", False)
            result["failed"] = False
            raise _Exit(result)

        def fail_json(_module, *positional, **result):
            if positional:
                result["msg"] = positional[0]
            if isinstance(result.get("exception"), BaseException):
                result["exception"] = "".join(traceback.format_exception(result["exception"]))
            result.setdefault("changed", False)
            result["failed"] = True
            raise _Exit(result)

        with (
            patch_module_args(args),
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json),
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json),
            mock.patch.object(basic.AnsibleModule, "warn", warn),
            mock.patch.object(ansible_warnings, "warn", warn),
        ):
            try:
                module.main()
            except _Exit as done:
                encoder = ansible_json.get_module_encoder("legacy", ansible_json.Direction.MODULE_TO_CONTROLLER)
                return json.loads(json.dumps(done.args[0], cls=encoder))
        raise AssertionError(f"{module.__name__}.main() returned without exit_json or fail_json")


def _fqcn(module):
    # ansible_collections.tap.ebook_storage.plugins.modules.x -> tap.ebook_storage.x
    parts = module.__name__.split(".")
    return ".".join(parts[1:3] + parts[-1:])


@pytest.fixture
def run():
    return ModuleRunner()
