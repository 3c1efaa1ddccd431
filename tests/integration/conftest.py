"""Fixtures of the integration tests: a real LocalStack, real ansible-playbook runs, real Lambda invocations.

``LOCALSTACK_ENDPOINT`` names the LocalStack (``tools/run-tests.sh`` starts one on :4567 and exports it).
Without it, or when it does not answer, every test fails with a message that says so: a test that cannot
run is a failure, not a skip.

The stacks are shared: ``deployments`` deploys an environment once per session (dev and test side by side,
at the same time) and tears down with ``ebook_stack_purge_data=true`` whatever is left at the end, so that
the LocalStack is left as it was found (it may be the caller's, ``make test`` with LOCALSTACK_ENDPOINT set).
"""

from __future__ import annotations

import pytest
from itest_support import PlaybookRunner, inventory

from tests.support.aws import ENVIRONMENTS, Clients, describe_stack, force_cleanup, leftovers, stack_name, stack_outputs
from tests.support.localstack import endpoint_from_environment, health_error


@pytest.fixture(scope="session")
def localstack_endpoint():
    endpoint = endpoint_from_environment()
    if not endpoint:
        pytest.fail(
            "LOCALSTACK_ENDPOINT is not set. The integration tests need a running LocalStack: run "
            "`make integration` (it starts one on http://localhost:4567), or start one with "
            "`ansible-playbook playbooks/localstack.yml -e localstack_endpoint=http://localhost:4660 "
            "-e localstack_endpoint_is_external=false -e localstack_state_dir=$PWD/.localstack/itest` and run "
            "`LOCALSTACK_ENDPOINT=http://localhost:4660 python -m pytest tests/integration`.",
            pytrace=False,
        )
    problem = health_error(endpoint, timeout=10)
    if problem:
        pytest.fail(f"LOCALSTACK_ENDPOINT={endpoint} does not answer ({problem}): start LocalStack first.",
                    pytrace=False)
    return endpoint


@pytest.fixture(scope="session")
def clean_localstack(localstack_endpoint):
    """Refuse a LocalStack that already holds the collection's stacks or buckets; check it is clean at the end.

    The tests tear down dev and test with purge: on a LocalStack with someone's dev stack they would delete it.
    """
    aws = Clients(localstack_endpoint, read_timeout=120)
    found = leftovers(aws)
    if found:
        pytest.fail(f"LocalStack {localstack_endpoint} already holds {', '.join(found)}. The integration tests "
                    "create and purge these names: run them on a LocalStack of their own.", pytrace=False)
    yield aws
    found = leftovers(aws)
    for env in ENVIRONMENTS:
        if any(env in item for item in found):
            force_cleanup(aws, env)
    assert not found, f"the integration tests left {', '.join(found)} on LocalStack (removed with boto3 now)"


@pytest.fixture(scope="session")
def aws(clean_localstack):
    """aws("s3") -> boto3 client for LocalStack (dummy credentials, us-east-1)."""
    return clean_localstack


@pytest.fixture(scope="session")
def playbook_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("playbook-logs")


@pytest.fixture(scope="session")
def run_playbook(localstack_endpoint, aws, playbook_logs, tmp_path_factory):
    """run_playbook(playbook, inventory, extra_vars=None, check=False) -> PlaybookResult (rc, stdout, recap...)."""
    return PlaybookRunner(localstack_endpoint, playbook_logs, tmp_path_factory.mktemp("cfn-outputs"))


class Deployments:
    """Deploys each environment at most once per session (several at once) and tears them down at the end."""

    def __init__(self, run_playbook, aws, outputs_root):
        self.run = run_playbook
        self.aws = aws
        self.outputs_root = outputs_root
        self.first = {}  # env -> PlaybookResult of the deploy that created it
        self.touched = set()

    def outputs_dir(self, env):
        return self.outputs_root / env

    def deploy_call(self, env, extra_vars=None, check=False):
        extra = {"ebook_stack_outputs_dir": str(self.outputs_dir(env))}
        extra.update(extra_vars or {})
        return ("deploy.yml", inventory(env)), {"extra_vars": extra, "check": check}

    def deploy(self, *envs, extra_vars=None, check=False):
        """Run deploy.yml for the environments at the same time; results in order."""
        self.touched.update(envs)
        return self.run.parallel(*(self.deploy_call(env, extra_vars, check) for env in envs))

    def ensure(self, *envs):
        """The first deploy of each environment (run now, all at once, for those not deployed yet).

        Fails unless the stack exists afterwards; whether the deploy passed its verification is for the tests.
        """
        missing = [env for env in envs if env not in self.first]
        for env, result in zip(missing, self.deploy(*missing) if missing else [], strict=True):
            self.first[env] = result
        for env in envs:
            stack = describe_stack(self.aws("cloudformation"), stack_name(env))
            if stack is None or not stack["StackStatus"].endswith("_COMPLETE"):
                pytest.fail(f"{stack_name(env)} was not deployed ({stack and stack['StackStatus']}):\n"
                            f"{self.first[env].describe()}", pytrace=False)
        return {env: self.first[env] for env in envs}

    def teardown(self, env, purge=True, extra_vars=None):
        extra = {"ebook_stack_purge_data": purge}
        extra.update(extra_vars or {})
        result = self.run("playbooks/teardown.yml", inventory(env), extra_vars=extra)
        if result.rc == 0 and purge:
            self.first.pop(env, None)
        return result

    def remove(self, env):
        """Make sure the environment is gone (teardown with purge when something is left)."""
        if leftovers(self.aws, [env]):
            result = self.teardown(env)
            if result.rc != 0:
                force_cleanup(self.aws, env)
        self.first.pop(env, None)

    def finish(self):
        problems = []
        for env in sorted(self.touched):
            if not leftovers(self.aws, [env]):
                continue
            result = self.teardown(env)
            if result.rc != 0 or leftovers(self.aws, [env]):
                force_cleanup(self.aws, env)
                problems.append(f"teardown of {env} failed or left things behind:\n{result.describe()}")
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def deployments(run_playbook, aws, tmp_path_factory):
    manager = Deployments(run_playbook, aws, tmp_path_factory.mktemp("outputs"))
    yield manager
    manager.finish()


@pytest.fixture(scope="module")
def dev(deployments, aws):
    """The outputs of the dev stack, deployed first when it is not (once per test module: a module may
    redeploy it)."""
    deployments.ensure("dev")
    return stack_outputs(describe_stack(aws("cloudformation"), stack_name("dev")))
