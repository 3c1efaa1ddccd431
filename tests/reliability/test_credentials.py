"""Issue "reliability", case 5: missing or wrong credentials against prod-style settings.

``deploy.yml -i inventories/prod`` (prod's settings: no dummy credentials, termination protection, its
parameters) pointed at the deploy tests' LocalStack with ``-e ebook_stack_endpoint_url=...``, so that nothing can
reach AWS. The shell's AWS settings are removed, ``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE`` are
``/dev/null`` and instance metadata is off, so botocore finds exactly the credentials each case gives.

LocalStack accepts any credentials, so "wrong" credentials are shown with a proxy that answers, for one access
key, what STS answers for a key it does not know (403 InvalidClientTokenId); every other call goes on to
LocalStack. The play must stop at the credential check with the role's message, before any change.
"""

from __future__ import annotations

import pytest
from reliability_support import FaultProxy, run_all

from tests.support.aws import client, describe_stack, stack_name


NO_FILES = {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
REJECTED_KEY = "AKIARELIABILITYREJECT"
CASES = {
    "no-credentials": ({}, "Unable to locate credentials"),
    "unknown-profile": ({"AWS_PROFILE": "tap-reliability-missing"},
                        "The config profile (tap-reliability-missing) could not be found"),
    "key-without-secret": ({"AWS_ACCESS_KEY_ID": "AKIARELIABILITYPARTIAL"}, "Partial credentials found"),
    "rejected-key": ({"AWS_ACCESS_KEY_ID": REJECTED_KEY, "AWS_SECRET_ACCESS_KEY": "reliability-wrong-secret"},
                     "InvalidClientTokenId"),
}


@pytest.fixture(scope="module")
def credential_runs(ansible, shared_endpoint, shared_prod_library):
    """The four prod deploys, at once; (run, endpoint it was pointed at) by case."""
    with FaultProxy(shared_endpoint, reject_access_key=REJECTED_KEY) as proxy:
        endpoints = {case: proxy.url if case == "rejected-key" else shared_endpoint for case in CASES}

        def deploy(case):
            env = dict(NO_FILES, **CASES[case][0])
            return ansible.playbook("deploy.yml", "inventories/prod",
                                    {"ebook_stack_endpoint_url": endpoints[case]}, endpoint=endpoints[case],
                                    credentials=False, env=env, label=f"deploy-prod-{case}", timeout=300)

        runs = run_all([lambda c=case: deploy(c) for case in CASES], workers=4)
        assert proxy.rejected >= 1, "the proxy never saw the rejected access key"
    return {case: (run, endpoints[case]) for case, run in zip(CASES, runs, strict=True)}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_credentials_stop_prod_deploy_with_the_role_message(case, credential_runs, shared_endpoint,
                                                                shared_prod_library):
    run, endpoint = credential_runs[case]
    cause = CASES[case][1]
    assert run.rc != 0, f"prod deploy succeeded with {case}:\n{run.describe()}"
    assert not run.has_traceback(), f"a Python traceback instead of a message:\n{run.describe()}"
    final = run.failures()[-1]
    assert final.task == "Stop because the credentials do not work", run.describe()
    message = final.data["msg"]
    assert f"The AWS credentials do not work against {endpoint} in us-east-1" in message, message
    assert cause in message, f"the message does not give the cause '{cause}': {message}"
    assert "Nothing was changed" in message and "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in message
    # Stopped before the first change: no stack task ran, no stack exists.
    assert not run.ran("verify the live state of"), f"the play went past the credential check:\n{run.describe()}"
    assert not run.ran("Create or update"), run.describe()
    assert describe_stack(client(shared_endpoint, "cloudformation"), stack_name("prod")) is None
    problems = shared_prod_library.problems()
    assert not problems, f"e-books changed ({shared_prod_library.summary()}): {problems}"
