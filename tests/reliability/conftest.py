"""Fixtures of the reliability (fault) tests.

Two LocalStacks, each started here with ``playbooks/localstack.yml`` and stopped at the end, so that the two
groups of files run at the same time as the other suites (``tests/conftest.py`` puts each group on its own
xdist worker):

* ``RELIABILITY_DEPLOY_PORT`` (default 4572): failed states, concurrent deploys, teardown guards, credentials.
  These tests use the environments ``test`` and ``prod`` and leave the LocalStack as they found it (teardown
  with ``ebook_stack_purge_data=true``, then a boto3 check).
* ``RELIABILITY_LOCALSTACK_PORT`` (default 4571): the tests that kill, pause and restart LocalStack or switch
  its settings.

A test that cannot run (a port in use by something else) fails with a message saying why: it never skips.
Run them with the other LocalStack suites: ``python -m pytest -n 5 --dist loadgroup tests/executor
tests/integration tests/reliability`` (what ``make test`` does).
"""

from __future__ import annotations

import contextlib
import os

import pytest
from reliability_support import Ansible, Ledger, OwnLocalStack, prod_library

from tests.support.aws import (
    Clients,
    client,
    describe_stack,
    force_cleanup,
    leftovers,
    retire_keys,
    stack_name,
    stack_outputs,
    wait_settled,
)
from tests.support.environment import ROOT
from tests.support.localstack import port_open

# The environments the deploy tests create and remove.
SHARED_ENVS = ("test", "prod")


@pytest.fixture(scope="session")
def ansible(tmp_path_factory):
    return Ansible(tmp_path_factory.mktemp("ansible-logs"), tmp_path_factory.mktemp("cfn-outputs"))


# --------------------------------------------------------------------------- the deploy tests' LocalStack


@contextlib.contextmanager
def started_localstack(ansible, port_variable, default_port, state_name):
    """A LocalStack of these tests on its own port and state folder; stopped (and checked gone) afterwards."""
    port = int(os.environ.get(port_variable) or default_port)
    own = OwnLocalStack(ansible, port, ROOT / ".localstack" / state_name)
    if port_open(port) or own.orphans():
        # Ours from an earlier run that was interrupted: stop it (only LocalStacks of our state folder).
        own.stop()
        own.reap_orphans()
        if port_open(port):
            pytest.fail(f"port {port} is in use by something these tests did not start. Set {port_variable} to a "
                        "free port: these tests start, kill and stop their own LocalStack.", pytrace=False)
    own.start()
    try:
        yield own
    finally:
        stopped = own.stop()
        left = own.orphans()
        own.reap_orphans()
    assert stopped.rc == 0, f"could not stop the tests' LocalStack:\n{stopped.describe()}"
    assert not left, f"LocalStack processes of {own.state_dir} outlived the stop: {left} (killed now)"


@pytest.fixture(scope="module")
def drift_localstack(ansible):
    """The drift tests' own LocalStack: they need a prod stack, which the shared one keeps for retained data."""
    default = int(os.environ.get("RELIABILITY_DEPLOY_PORT") or 4572) + 10
    with started_localstack(ansible, "RELIABILITY_DRIFT_PORT", default, "reliability-drift") as own:
        yield own


@pytest.fixture(scope="session")
def shared_endpoint(ansible):
    """The endpoint of the deploy tests' LocalStack; nothing of theirs may be left on it at the end."""
    with started_localstack(ansible, "RELIABILITY_DEPLOY_PORT", 4572, "reliability-deploys") as own:
        yield own.endpoint
        found = leftovers(Clients(own.endpoint), SHARED_ENVS)
        for env in SHARED_ENVS:
            force_cleanup(Clients(own.endpoint), env)
    assert not found, f"the reliability tests left {', '.join(found)} on {own.endpoint} (removed with boto3 now)"


class SharedTestStack:
    """ebooks-storage-test deployed by deploy.yml on the deploy tests' LocalStack, holding a small library."""

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
        return describe_stack(client(self.endpoint, "cloudformation"), self.name)


@pytest.fixture(scope="session")
def shared_test_stack(ansible, shared_endpoint):
    manager = SharedTestStack(ansible, shared_endpoint)
    run = manager.deploy(label="deploy-test-baseline")
    if run.rc != 0:
        force_cleanup(Clients(shared_endpoint), "test")
        pytest.fail(f"the baseline deploy of ebooks-storage-test failed, so no fault can be tested on it:\n"
                    f"{run.describe()}", pytrace=False)
    found = stack_outputs(manager.stack())
    manager.ledger = Ledger(shared_endpoint, found["EbooksBucketName"], found["EncryptionKeyArn"]).fill("before-faults")
    yield manager
    teardown = ansible.playbook("playbooks/teardown.yml", "inventories/test", {"ebook_stack_purge_data": True},
                                endpoint=shared_endpoint, label="teardown-test-purge")
    retire_keys(client(shared_endpoint, "kms"), manager.old_keys)
    if teardown.rc != 0:
        force_cleanup(Clients(shared_endpoint), "test")
        pytest.fail(f"teardown.yml with purge failed at the end of the tests:\n{teardown.describe()}", pytrace=False)


@pytest.fixture(scope="session")
def shared_prod_library(shared_endpoint):
    ledger, key_id = prod_library(shared_endpoint)
    yield ledger
    force_cleanup(Clients(shared_endpoint), "prod", [key_id])


# --------------------------------------------------------------------------- the fault tests' LocalStack


@pytest.fixture(scope="session")
def own_localstack(ansible):
    with started_localstack(ansible, "RELIABILITY_LOCALSTACK_PORT", 4571, "reliability") as own:
        yield own


class OwnDev:
    """ebooks-storage-dev on the tests' own LocalStack, with a library uploaded before the faults."""

    def __init__(self, ansible, own):
        self.ansible = ansible
        self.own = own
        self.name = stack_name("dev")
        self.ledger = None

    def cfn(self):
        return client(self.own.endpoint, "cloudformation")

    def deploy(self, extra_vars=None, **kwargs):
        return self.ansible.playbook("deploy.yml", "inventories/dev", extra_vars, endpoint=self.own.endpoint,
                                     **kwargs)

    def ensure_stack(self):
        """A deployed, verified dev stack holding the library (deployed now unless an earlier test left one)."""
        self.own.ensure_running()
        stack = describe_stack(self.cfn(), self.name) and wait_settled(self.cfn(), self.name)
        if stack is None or not stack["StackStatus"].endswith("_COMPLETE") or self.ledger is None:
            if stack is not None:
                force_cleanup(Clients(self.own.endpoint), "dev")
            run = self.deploy(label="deploy-dev-setup")
            assert run.rc == 0, f"could not deploy dev on {self.own.endpoint}:\n{run.describe()}"
            self.fill()
        return describe_stack(self.cfn(), self.name)

    def fill(self):
        found = stack_outputs(describe_stack(self.cfn(), self.name))
        self.ledger = Ledger(self.own.endpoint, found["EbooksBucketName"], found["EncryptionKeyArn"]).fill(
            "before-faults")


@pytest.fixture(scope="session")
def own_dev(ansible, own_localstack):
    return OwnDev(ansible, own_localstack)
