"""The repository root, LocalStack's dummy credentials and the environment of an ``ansible-playbook`` run.

Every run against LocalStack gets the dummy credentials and loses the caller's AWS settings, so that nothing
a test, a benchmark or a Molecule helper starts can reach a real AWS account.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# LocalStack accepts any credentials. Not "test": no_log would mask every "test" in the output.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localstack", "AWS_SECRET_ACCESS_KEY": "localstack-dummy-secret"}
# Everything in the caller's shell that could select credentials, an endpoint or a real AWS account.
AWS_ENV_TO_DROP = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                   "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def without_aws_settings(environ=None, *, every_aws_variable=False):
    """A copy of ``environ`` (default ``os.environ``) without AWS_ENV_TO_DROP, or without every ``AWS_*``."""
    source = os.environ if environ is None else environ
    if every_aws_variable:
        return {k: v for k, v in source.items() if not k.startswith("AWS_")}
    return {k: v for k, v in source.items() if k not in AWS_ENV_TO_DROP}


def controller_bin():
    """The ``bin`` folder of the Python that runs this (the controller environment, ``.venv``)."""
    return Path(sys.executable).parent


def controller_command(name):
    """``ansible-playbook``, ``ansible``...: the one beside the running Python, else the name (found on PATH)."""
    beside = controller_bin() / name
    return str(beside) if beside.exists() else name


def ansible_environment(endpoint=None, *, credentials=True, root=ROOT, bindir=None, extra=None):
    """The environment of an ``ansible-playbook`` / ``ansible`` run of the checkout at ``root``.

    The caller's AWS settings and LOCALSTACK_ENDPOINT are removed; LocalStack's dummy credentials (unless
    ``credentials`` is false), the region, no instance metadata, the checkout's ansible.cfg, no colours, no
    retry files; ``bindir`` (default: the running Python's) first on PATH; LOCALSTACK_ENDPOINT=``endpoint``
    when given. ``extra`` comes last: the output callback and whatever else one runner needs.
    """
    env = without_aws_settings()
    env.pop("LOCALSTACK_ENDPOINT", None)
    if credentials:
        env.update(DUMMY_CREDENTIALS)
    env.update({
        "ANSIBLE_CONFIG": str(Path(root) / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "AWS_DEFAULT_REGION": REGION,
        # Nothing may look for instance credentials (a network call that is not LocalStack).
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{bindir or controller_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    if endpoint:
        env["LOCALSTACK_ENDPOINT"] = endpoint
    env.update(extra or {})
    return env
