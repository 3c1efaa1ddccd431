"""Fixtures of the runbook walk: a LocalStack, a project folder, the stacks and e-books a runbook starts from.

* LocalStack: ``LOCALSTACK_ENDPOINT`` when set (someone else's: nothing is started, and it must not hold the
  collection's stacks yet); otherwise one of the walk's own, started here with ``playbooks/localstack.yml`` on
  ``RUNBOOK_LOCALSTACK_PORT`` (default 4581, state folder ``.localstack/runbooks``) and stopped at the end.
* The project folder (``runbook_support.build_project``) and the bash environment of the walk.
* ``walk.prepare(needs, blocks)``: what a runbook needs before its first block, made with the real playbooks
  (``deploy.yml``, ``playbooks/upload.yml``) run from the project folder, exactly as a user runs them.

At the end everything the walk made on the LocalStack is removed (its own LocalStack is simply stopped).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from runbook_support import ROOT, build_project
from walk_support import NOTES, Walk, checkout_outputs

from tests.support.aws import Clients, leftovers
from tests.support.environment import ansible_environment, controller_command
from tests.support.localstack import answers, health_error, port_open

DEFAULT_PORT = 4581
STATE_DIR = ROOT / ".localstack" / "runbooks"


# --------------------------------------------------------------------------- LocalStack


@contextlib.contextmanager
def own_localstack(log_dir):
    """A LocalStack of the walk on RUNBOOK_LOCALSTACK_PORT; stopped, and its state folder removed, at the end."""
    port = int(os.environ.get("RUNBOOK_LOCALSTACK_PORT") or DEFAULT_PORT)
    endpoint = f"http://localhost:{port}"
    variables = ["-e", f"localstack_endpoint={endpoint}", "-e", "localstack_endpoint_is_external=false",
                 "-e", f"localstack_state_dir={STATE_DIR}"]
    env = ansible_environment()

    def playbook(*extra):
        return subprocess.run([controller_command("ansible-playbook"), "playbooks/localstack.yml", *variables,
                               *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)

    if port_open(port):
        playbook("-e", "localstack_state=stopped")  # ours, from an interrupted run: stops only what it started
        if port_open(port):
            pytest.fail(f"port {port} is in use by something the walk did not start: set RUNBOOK_LOCALSTACK_PORT "
                        "to a free port, or LOCALSTACK_ENDPOINT to a LocalStack to use.", pytrace=False)
    started = playbook()
    (Path(log_dir) / "localstack-start.log").write_text(started.stdout + started.stderr)
    if started.returncode != 0 or not answers(endpoint):
        pytest.fail(f"could not start LocalStack on {endpoint}:\n{started.stdout[-3000:]}{started.stderr[-2000:]}",
                    pytrace=False)
    try:
        yield endpoint
    finally:
        stopped = playbook("-e", "localstack_state=stopped")
        if stopped.returncode == 0:
            shutil.rmtree(STATE_DIR, ignore_errors=True)
        else:
            print(f"could not stop the walk's LocalStack on {endpoint}:\n{stopped.stdout[-2000:]}")


@pytest.fixture(scope="session")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("runbook-logs")


@pytest.fixture(scope="session")
def endpoint(logs):
    given = (os.environ.get("LOCALSTACK_ENDPOINT") or "").rstrip("/")
    if given:
        problem = health_error(given, timeout=10)
        if problem:
            pytest.fail(f"LOCALSTACK_ENDPOINT={given} does not answer ({problem}).", pytrace=False)
        yield given
        return
    with own_localstack(logs) as started:
        yield started


@pytest.fixture(scope="session")
def aws(endpoint):
    """boto3 clients for the LocalStack; it must not hold the collection's stacks or buckets yet."""
    clients = Clients(endpoint, read_timeout=120)
    found = leftovers(clients)
    if found:
        pytest.fail(f"LocalStack {endpoint} already holds {', '.join(found)}. The walk deploys, changes and tears "
                    "down these names: run it on a LocalStack of its own (unset LOCALSTACK_ENDPOINT).", pytrace=False)
    return clients


@pytest.fixture(scope="session")
def walk(endpoint, aws, tmp_path_factory, logs):
    project = build_project(tmp_path_factory.mktemp("project") / "ebooks-ops")
    checkout_before = checkout_outputs()
    manager = Walk(endpoint, aws, project, logs)
    yield manager
    NOTES.append(f"project folder: {project}; logs: {logs}")
    observed = manager.observe_outputs()
    NOTES.append("output files in the project: " + (", ".join(observed) if observed else "none"))
    written = sorted(k for k, v in checkout_outputs().items() if checkout_before.get(k) != v)
    if written:
        NOTES.append("WARNING: written in the checkout during the walk (a deploy's outputs that did not stay in "
                     f"the project?): {', '.join(written)}")
    left = manager.clean_up()
    assert not left, f"the walk left {', '.join(left)} on {endpoint} (removed with boto3 now)"


def pytest_terminal_summary(terminalreporter):
    if NOTES:
        terminalreporter.section("runbook walk")
        for line in NOTES:
            terminalreporter.write_line(line)
