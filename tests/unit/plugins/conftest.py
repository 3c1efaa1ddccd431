# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Stacks of files/TapStack.yml in moto for the plugin tests; ``run``, ``moto`` come from tests/unit/conftest.py."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest

# The tests import tap_moto_stack from here, whatever pytest's import mode.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tap_moto_stack import create_complete_stack  # noqa: E402
from tap_moto_stack import moto_s3_fixes  # noqa: E402
from tap_moto_stack import template_text as read_template  # noqa: E402


@pytest.fixture(autouse=True)
def _moto_s3_fixes():
    with contextlib.ExitStack() as stack:
        for patch in moto_s3_fixes():
            stack.enter_context(patch)
        yield


@pytest.fixture(scope="session")
def template_text():
    return read_template()


@pytest.fixture
def stack(moto, template_text):
    """A stack of the real template in moto, completed to what AWS would have deployed; its outputs."""
    return create_complete_stack(template_text)
