"""Issue "reliability", case 6: module options of the wrong type, unknown or missing (argument specs).

Every collection module is called the way a user would, ``ansible localhost -m tap.ebook_storage.<module> -a
'...'``, with a bad option. Each must fail before doing anything, with Ansible's argument-spec message that
names the option, and without a Python traceback. The AWS modules get ``endpoint_url=http://127.0.0.1:9``
(nothing listens there) and no credentials, so nothing could reach AWS even if a check were missing.
No LocalStack is needed.
"""

from __future__ import annotations

import pytest
from reliability_support import ROOT, run_all

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
    "bucket_contents": [
        ("wrong-type", f"bucket=x delete_bucket=maybe {NOWHERE}",
         "argument 'delete_bucket' is of type str and we were unable to convert to bool"),
        ("wrong-choice", f"bucket=x state=sideways {NOWHERE}", "value of state must be one of: present, absent"),
        ("unknown", f"bucket=x bogus=1 {NOWHERE}", "Unsupported parameters for (tap.ebook_storage.bucket_contents) "
                                                   "module: bogus"),
        ("missing", f"state=present {NOWHERE}", "missing required arguments: bucket"),
    ],
    "template_parameters": [
        ("wrong-type", "template_path=files/TapStack.yml parameters=notadict",
         "argument 'parameters' is of type str and we were unable to convert to dict"),
        ("unknown", "template_path=files/TapStack.yml bogus=1",
         "Unsupported parameters for (tap.ebook_storage.template_parameters) module: bogus"),
        ("missing", "input_prefix=x", "missing required arguments: template_path"),
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


@pytest.fixture(scope="module")
def adhoc_runs(ansible):
    """Every bad call, run at once (each is a separate `ansible` process)."""
    calls = [lambda m=module, a=args: ansible.adhoc(f"tap.ebook_storage.{m}", a) for module, args, _ in
             ((p.values[0], p.values[1], p.values[2]) for p in PARAMS)]
    results = run_all(calls, workers=3)
    return {(p.values[0], p.values[1]): run for p, run in zip(PARAMS, results, strict=True)}


def test_every_module_has_bad_option_cases():
    modules = {path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__"}
    assert modules == set(CASES), (
        f"modules without argument-spec cases here: {sorted(modules - set(CASES))}; "
        f"cases for modules that do not exist: {sorted(set(CASES) - modules)}")


@pytest.mark.parametrize(("module", "args", "expected"), PARAMS)
def test_bad_module_option_is_refused_with_a_message_naming_it(module, args, expected, adhoc_runs):
    run = adhoc_runs[(module, args)]
    assert run.rc != 0, f"`ansible -m tap.ebook_storage.{module} -a '{args}'` succeeded:\n{run.output}"
    assert "FAILED!" in run.output, run.output
    assert expected in run.output, f"the message does not say '{expected}':\n{run.output}"
    assert not run.has_traceback(), f"a Python traceback instead of a message:\n{run.output}"
    # Refused by the argument spec, before any connection was attempted.
    for sign in ("Could not connect", "Unable to locate credentials", "EndpointConnectionError"):
        assert sign not in run.output, f"the module went on to call AWS ({sign}):\n{run.output}"
