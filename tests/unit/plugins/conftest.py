# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit-test plumbing: make the collection importable; fixtures for moto and for running modules."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _make_collection_importable():
    """Put a directory holding ansible_collections/tap/ebook_storage -> this checkout on sys.path.

    amazon.aws comes from the virtual environment's site-packages ansible_collections
    (a namespace package, so both halves merge).
    """
    here = os.path.realpath(COLLECTION_ROOT)
    for entry in sys.path:
        candidate = os.path.join(entry, "ansible_collections", "tap", "ebook_storage")
        if os.path.realpath(candidate) == here:
            return
    base = tempfile.mkdtemp(prefix="tap-collections-")
    os.makedirs(os.path.join(base, "ansible_collections", "tap"))
    os.symlink(here, os.path.join(base, "ansible_collections", "tap", "ebook_storage"))
    sys.path.insert(0, base)


_make_collection_importable()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tap_moto_stack import complete_fixture_stack  # noqa: E402
from tap_moto_stack import create_stack  # noqa: E402
from tap_moto_stack import REGION  # noqa: E402
from tap_moto_stack import fixture_text  # noqa: E402
from tap_moto_stack import run_module  # noqa: E402


def pytest_configure(config):
    # moto's CloudFormation warns about every resource type it cannot create
    config.addinivalue_line("filterwarnings", "ignore:Tried to parse:UserWarning")


@pytest.fixture
def aws_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def moto(aws_env):
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


@pytest.fixture
def run():
    return run_module


@pytest.fixture
def stack(moto):
    """A fixture-template stack in moto, completed to what AWS would have deployed."""
    outputs = create_stack()
    complete_fixture_stack(outputs)
    return outputs


@pytest.fixture
def template_text():
    return fixture_text("tap_stack_small.yml")
