"""Fixtures of the reliability (fault) tests.

Two LocalStacks:

* the shared one, ``LOCALSTACK_ENDPOINT`` (``tools/run-tests.sh`` starts it on :4567): failed states, concurrent
  deploys, teardown guards, credentials. These tests use the environments ``test`` and ``prod`` only and leave
  the LocalStack as they found it (teardown with ``ebook_stack_purge_data=true``, then a boto3 check), because
  Molecule runs on it next.
* one of their own, on ``RELIABILITY_LOCALSTACK_PORT`` (default 4571), for the tests that kill, pause and
  restart LocalStack or switch its settings. Started and stopped here with ``playbooks/localstack.yml``.

A test that cannot run (no LocalStack, a port in use) fails with a message saying why: it never skips.
Run them in parallel, one worker per LocalStack: ``python -m pytest -n 2 --dist loadgroup tests/reliability``.
"""

from __future__ import annotations

import os

import pytest
from reliability_support import (
    ROOT,
    Ansible,
    Ledger,
    OwnLocalStack,
    answers,
    aws,
    describe_stack,
    force_cleanup,
    leftovers,
    outputs,
    port_open,
    prod_library,
    retire_keys,
    stack_name,
    wait_settled,
)

# The environments the shared-LocalStack tests create and remove. dev is left to the other suites.
SHARED_ENVS = ("test", "prod")
OWN_GROUP = "own_localstack"
SHARED_GROUP = "shared_localstack"


# Which LocalStack each test file uses; the files of one LocalStack run on one xdist worker, in order.
GROUP_OF_FILE = {
    "test_localstack_faults.py": OWN_GROUP,
    "test_concurrent_deploys.py": SHARED_GROUP,
    "test_credentials.py": SHARED_GROUP,
    "test_failed_states.py": SHARED_GROUP,
    "test_teardown_guards.py": SHARED_GROUP,
    # No LocalStack; one worker, so that its module fixture runs the ad-hoc commands once.
    "test_module_arguments.py": "no_localstack",
}


def pytest_configure(config):
    # Registered by pytest-xdist when it is installed; declared here so that runs without it do not warn.
    config.addinivalue_line("markers", "xdist_group(name): tests that share a LocalStack run on one worker")


@pytest.hookimpl(optionalhook=True)  # the hook exists only when pytest-xdist is installed
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: the files of each group above run on one worker, in order.

    The files also carry ``xdist_group`` marks, but pytest-xdist 3.8 cannot apply them under pytest 9 (it sets
    ``item._nodeid``, which pytest 9 no longer reads), so the grouping is done here from the file names.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByLocalStack(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            filename = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
            return GROUP_OF_FILE.get(filename, nodeid)

    return ByLocalStack(config, log)


@pytest.fixture(scope="session")
def ansible(tmp_path_factory):
    return Ansible(tmp_path_factory.mktemp("ansible-logs"), tmp_path_factory.mktemp("cfn-outputs"))


# --------------------------------------------------------------------------- the shared LocalStack


@pytest.fixture(scope="session")
def shared_endpoint():
    endpoint = (os.environ.get("LOCALSTACK_ENDPOINT") or "").rstrip("/")
    if not endpoint:
        pytest.fail(
            "LOCALSTACK_ENDPOINT is not set. These tests need a running LocalStack: `make test` starts one on "
            "http://localhost:4567; or start one with `ansible-playbook playbooks/localstack.yml "
            "-e localstack_endpoint=http://localhost:4680 -e localstack_endpoint_is_external=false "
            "-e localstack_state_dir=$PWD/.localstack/reltest` and run "
            "`LOCALSTACK_ENDPOINT=http://localhost:4680 python -m pytest -n 2 --dist loadgroup tests/reliability`.",
            pytrace=False)
    if not answers(endpoint, timeout=10):
        pytest.fail(f"LOCALSTACK_ENDPOINT={endpoint} does not answer: start LocalStack first.", pytrace=False)
    found = leftovers(endpoint, SHARED_ENVS)
    if found:
        pytest.fail(f"LocalStack {endpoint} already holds {', '.join(found)}. The reliability tests create and "
                    "purge these names: run them on a LocalStack of their own.", pytrace=False)
    yield endpoint
    found = leftovers(endpoint, SHARED_ENVS)
    for env in SHARED_ENVS:
        force_cleanup(endpoint, env)
    assert not found, f"the reliability tests left {', '.join(found)} on {endpoint} (removed with boto3 now)"


class SharedTestStack:
    """ebooks-storage-test deployed by deploy.yml on the shared LocalStack, holding a small library."""

    def __init__(self, ansible, endpoint):
        self.ansible = ansible
        self.endpoint = endpoint
        self.name = stack_name("test")
        self.ledger = None
        self.old_keys = set()  # keys retained by stacks that a test deleted: scheduled for deletion at the end

    def deploy(self, extra_vars=None, **kwargs):
        return self.ansible.playbook("deploy.yml", "inventories/test", extra_vars, endpoint=self.endpoint,
                                     **kwargs)

    def stack(self):
        return describe_stack(aws(self.endpoint, "cloudformation"), self.name)


@pytest.fixture(scope="session")
def shared_test_stack(ansible, shared_endpoint):
    manager = SharedTestStack(ansible, shared_endpoint)
    run = manager.deploy(label="deploy-test-baseline")
    if run.rc != 0:
        force_cleanup(shared_endpoint, "test")
        pytest.fail(f"the baseline deploy of ebooks-storage-test failed, so no fault can be tested on it:\n"
                    f"{run.describe()}", pytrace=False)
    stack_outputs = outputs(manager.stack())
    manager.ledger = Ledger(shared_endpoint, stack_outputs["EbooksBucketName"],
                            stack_outputs["EncryptionKeyArn"]).fill("before-faults")
    yield manager
    teardown = ansible.playbook("playbooks/teardown.yml", "inventories/test", {"ebook_stack_purge_data": True},
                                endpoint=shared_endpoint, label="teardown-test-purge")
    retire_keys(aws(shared_endpoint, "kms"), manager.old_keys)
    if teardown.rc != 0:
        force_cleanup(shared_endpoint, "test")
        pytest.fail(f"teardown.yml with purge failed at the end of the tests:\n{teardown.describe()}", pytrace=False)


@pytest.fixture(scope="session")
def shared_prod_library(shared_endpoint):
    ledger, key_id = prod_library(shared_endpoint)
    yield ledger
    force_cleanup(shared_endpoint, "prod", [key_id])


# --------------------------------------------------------------------------- a LocalStack of our own


@pytest.fixture(scope="session")
def own_localstack(ansible):
    port = int(os.environ.get("RELIABILITY_LOCALSTACK_PORT") or 4571)
    own = OwnLocalStack(ansible, port, ROOT / ".localstack" / "reliability")
    if port_open(port) or own.orphans():
        # Ours from an earlier run that was interrupted: stop it (only LocalStacks of our state folder).
        own.stop()
        own.reap_orphans()
        if port_open(port):
            pytest.fail(f"port {port} is in use by something these tests did not start. Set "
                        "RELIABILITY_LOCALSTACK_PORT to a free port: these tests kill their LocalStack.",
                        pytrace=False)
    own.start()
    yield own
    stopped = own.stop()
    left = own.orphans()
    own.reap_orphans()
    assert stopped.rc == 0, f"could not stop the tests' LocalStack:\n{stopped.describe()}"
    assert not left, f"LocalStack processes of {own.state_dir} outlived the stop: {left} (killed now)"


class OwnDev:
    """ebooks-storage-dev on the tests' own LocalStack, with a library uploaded before the faults."""

    def __init__(self, ansible, own):
        self.ansible = ansible
        self.own = own
        self.name = stack_name("dev")
        self.ledger = None

    def cfn(self):
        return aws(self.own.endpoint, "cloudformation")

    def deploy(self, extra_vars=None, **kwargs):
        return self.ansible.playbook("deploy.yml", "inventories/dev", extra_vars, endpoint=self.own.endpoint,
                                     **kwargs)

    def ensure_stack(self):
        """A deployed, verified dev stack holding the library (deployed now unless an earlier test left one)."""
        self.own.ensure_running()
        stack = describe_stack(self.cfn(), self.name) and wait_settled(self.cfn(), self.name)
        if stack is None or not stack["StackStatus"].endswith("_COMPLETE") or self.ledger is None:
            if stack is not None:
                force_cleanup(self.own.endpoint, "dev")
            run = self.deploy(label="deploy-dev-setup")
            assert run.rc == 0, f"could not deploy dev on {self.own.endpoint}:\n{run.describe()}"
            self.fill()
        return describe_stack(self.cfn(), self.name)

    def fill(self):
        stack_outputs = outputs(describe_stack(self.cfn(), self.name))
        self.ledger = Ledger(self.own.endpoint, stack_outputs["EbooksBucketName"],
                             stack_outputs["EncryptionKeyArn"]).fill("before-faults")


@pytest.fixture(scope="session")
def own_dev(ansible, own_localstack):
    return OwnDev(ansible, own_localstack)
