# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Module options of the wrong type, unknown or missing (issue "reliability", case 6).

Every collection module gets a bad option, written as a user would after ``ansible localhost -m
tap.ebook_storage.<module> -a '...'`` and split by the ``ansible`` command's own parser (parse_kv).
Each must fail before doing anything, with Ansible's argument-spec message that names the option and
without a Python traceback. The module runs in this process: the check is AnsibleModule's argument
validation, the same code as on a target; no AWS call may be attempted (moto is not even started).
"""

from __future__ import annotations

import importlib
import json
import os
from unittest import mock

import pytest
from ansible.parsing.splitter import parse_kv
from tap_moto_stack import COLLECTION_ROOT
from tap_moto_stack import TEMPLATE_PATH

NOWHERE = "endpoint_url=http://127.0.0.1:9"

# module -> list of (case id, arguments, text the message must contain)
CASES = {
    "storage_verify": [
        ("wrong-type", f"stack_name=x fail_on_failed=maybe {NOWHERE}",
         "argument 'fail_on_failed' is of type str and we were unable to convert to bool"),
        ("unknown", f"stack_name=x bogus=1 {NOWHERE}", "Unsupported parameters for (tap.ebook_storage.storage_verify) "
                                                       "module: bogus"),
        ("missing", f"fail_on_failed=true {NOWHERE}", "missing required arguments: stack_name"),
    ],
    "stack_outputs": [
        ("wrong-type", f"stack_name=x aws_config=notadict {NOWHERE}",
         "argument 'aws_config' is of type str and we were unable to convert to dict"),
        ("unknown", f"stack_name=x bogus=1 {NOWHERE}", "Unsupported parameters for (tap.ebook_storage.stack_outputs) "
                                                       "module: bogus"),
        ("missing", f"dest=/tmp {NOWHERE}", "missing required arguments: stack_name"),
    ],
    "localstack_parity": [
        ("wrong-type", f"stack_name=x validate_certs=maybe {NOWHERE}",
         "argument 'validate_certs' is of type str and we were unable to convert to bool"),
        ("unknown", f"stack_name=x bogus=1 {NOWHERE}",
         "Unsupported parameters for (tap.ebook_storage.localstack_parity) module: bogus"),
        ("missing", NOWHERE, "missing required arguments: stack_name"),
    ],
    "post_deploy": [
        ("wrong-type", f"stack_name=x localstack_parity=maybe {NOWHERE}",
         "argument 'localstack_parity' is of type str and we were unable to convert to bool"),
        ("unknown", f"stack_name=x bogus=1 {NOWHERE}", "Unsupported parameters for (tap.ebook_storage.post_deploy) "
                                                       "module: bogus"),
        ("missing", f"verify=false {NOWHERE}", "missing required arguments: stack_name"),
        ("wrong-type-repair", f"stack_name=x repair_drift=maybe {NOWHERE}",
         "argument 'repair_drift' is of type str and we were unable to convert to bool"),
    ],
    "preflight": [
        ("wrong-type", f"stack_name=x aws_config=notadict {NOWHERE}",
         "argument 'aws_config' is of type str and we were unable to convert to dict"),
        ("unknown", f"stack_name=x bogus=1 {NOWHERE}", "Unsupported parameters for (tap.ebook_storage.preflight) "
                                                       "module: bogus"),
    ],
    "bucket_contents": [
        ("wrong-type", f"bucket=x delete_bucket=maybe {NOWHERE}",
         "argument 'delete_bucket' is of type str and we were unable to convert to bool"),
        ("wrong-choice", f"bucket=x state=sideways {NOWHERE}", "value of state must be one of: present, absent"),
        ("unknown", f"bucket=x bogus=1 {NOWHERE}", "Unsupported parameters for (tap.ebook_storage.bucket_contents) "
                                                   "module: bogus"),
        ("missing", f"state=present {NOWHERE}", "missing required arguments: bucket"),
    ],
    "template_parameters": [
        ("wrong-type", f"template_path={TEMPLATE_PATH} parameters=notadict",
         "argument 'parameters' is of type str and we were unable to convert to dict"),
        ("unknown", f"template_path={TEMPLATE_PATH} bogus=1",
         "Unsupported parameters for (tap.ebook_storage.template_parameters) module: bogus"),
        ("missing", "input_prefix=x", "missing required arguments: template_path"),
    ],
    "change_review": [
        ("wrong-type", f"template_path={TEMPLATE_PATH} stack_parameters=notadict",
         "argument 'stack_parameters' is of type str and we were unable to convert to dict"),
        ("unknown", f"template_path={TEMPLATE_PATH} bogus=1",
         "Unsupported parameters for (tap.ebook_storage.change_review) module: bogus"),
        ("missing", "stack_exists=true", "missing required arguments: template_path"),
    ],
    "ebook_upload": [
        ("wrong-type", f"bucket=x src=/nonexistent max_size_mb=big {NOWHERE}",
         "argument 'max_size_mb' is of type str and we were unable to convert to int"),
        ("wrong-choice", f"bucket=x src=/nonexistent on_invalid=sometimes {NOWHERE}",
         "value of on_invalid must be one of: fail, skip"),
        ("unknown", f"bucket=x src=/nonexistent bogus=1 {NOWHERE}",
         "Unsupported parameters for (tap.ebook_storage.ebook_upload) module: bogus"),
        ("missing", f"bucket=x {NOWHERE}", "missing required arguments: src"),
    ],
    "ebook_restore": [
        ("wrong-type", f"bucket=x key=a.pdf undelete=maybe {NOWHERE}",
         "argument 'undelete' is of type str and we were unable to convert to bool"),
        ("unknown", f"bucket=x key=a.pdf bogus=1 {NOWHERE}",
         "Unsupported parameters for (tap.ebook_storage.ebook_restore) module: bogus"),
        ("missing", f"bucket=x {NOWHERE}", "missing required arguments: key"),
    ],
}
PARAMS = [pytest.param(module, args, expected, id=f"{module}-{case}")
          for module, cases in CASES.items() for case, args, expected in cases]


def test_every_module_has_bad_option_cases():
    modules = {name[:-3] for name in os.listdir(os.path.join(COLLECTION_ROOT, "plugins", "modules"))
               if name.endswith(".py") and name != "__init__.py"}
    assert modules == set(CASES), (
        f"modules without argument-spec cases here: {sorted(modules - set(CASES))}; "
        f"cases for modules that do not exist: {sorted(set(CASES) - modules)}")


@pytest.fixture
def aws_calls():
    """Every AWS API call attempted; each also fails, so a module that got past its arguments cannot go on."""
    calls = []

    def refuse(client, operation_name, params):
        calls.append(operation_name)
        raise RuntimeError(f"{operation_name} attempted: the arguments should have been refused first")

    with mock.patch("botocore.client.BaseClient._make_api_call", refuse):
        yield calls


@pytest.mark.parametrize(("module", "args", "expected"), PARAMS)
def test_bad_module_option_is_refused_with_a_message_naming_it(module, args, expected, run, aws_env, aws_calls):
    code = importlib.import_module(f"ansible_collections.tap.ebook_storage.plugins.modules.{module}")
    result = run(code, parse_kv(args))
    assert result["failed"] is True, f"{module} accepted '{args}': {result}"
    assert expected in result["msg"], f"the message does not say '{expected}': {result['msg']}"
    assert "exception" not in result and "Traceback" not in json.dumps(result), f"a traceback: {result}"
    # Refused by the argument spec, before any connection was attempted.
    assert aws_calls == []
    for sign in ("Could not connect", "Unable to locate credentials", "EndpointConnectionError"):
        assert sign not in result["msg"], f"the module went on to call AWS ({sign}): {result['msg']}"
