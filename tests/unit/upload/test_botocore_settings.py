"""The botocore settings of the collection's clients: defined once, overridden by a task's aws_config.

ebook_upload, ebook_restore and bucket_contents make their clients through AwsSession, as the other modules do.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.support import ebooks as samples
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import DEFAULT_AWS_CONFIG
from ansible_collections.tap.ebook_storage.plugins.modules import bucket_contents
from ansible_collections.tap.ebook_storage.plugins.modules import ebook_restore
from ansible_collections.tap.ebook_storage.plugins.modules import ebook_upload

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def clients(monkeypatch):
    """Every boto3 client the modules make, by service."""
    made = {}
    real_client = AnsibleAWSModule.client

    def spy(self, service, retry_decorator=None, **extra):
        client = real_client(self, service, retry_decorator=retry_decorator, **extra)
        made[service] = getattr(client, "client", client)
        return client

    monkeypatch.setattr(AnsibleAWSModule, "client", spy)
    return made


def _settings(client):
    config = client.meta.config
    return config.connect_timeout, config.read_timeout, config.retries


def test_the_role_defaults_are_the_modules_defaults():
    defaults = yaml.safe_load((ROOT / "roles/ebook_stack/defaults/main.yml").read_text())
    assert {
        "connect_timeout": defaults["ebook_stack_connect_timeout"],
        "read_timeout": defaults["ebook_stack_read_timeout"],
        "retries": {"max_attempts": defaults["ebook_stack_max_attempts"], "mode": "standard"},
    } == DEFAULT_AWS_CONFIG


@pytest.mark.parametrize("module", [bucket_contents, ebook_restore])
def test_a_task_without_aws_config_gets_the_defaults(run, clients, bucket, module):
    args = {"bucket": bucket}
    if module is ebook_restore:
        args["key"] = "dune.epub"
    assert run(module, args)["failed"] is False
    retries = DEFAULT_AWS_CONFIG["retries"]
    assert _settings(clients["s3"]) == (
        DEFAULT_AWS_CONFIG["connect_timeout"],
        DEFAULT_AWS_CONFIG["read_timeout"],
        {"total_max_attempts": retries["max_attempts"] + 1, "mode": retries["mode"]},
    )


def test_aws_config_wins_key_by_key(run, clients, bucket):
    config = {"read_timeout": 330, "retries": {"max_attempts": 7, "mode": "adaptive"}}
    assert run(bucket_contents, {"bucket": bucket, "aws_config": config})["failed"] is False
    assert _settings(clients["s3"]) == (
        DEFAULT_AWS_CONFIG["connect_timeout"], 330, {"total_max_attempts": 8, "mode": "adaptive"}
    )


def test_the_upload_client_adds_its_pool_and_path_addressing(run, clients, bucket, tmp_path):
    samples.write(tmp_path / "a.pdf", samples.pdf_bytes("a"))
    # Nothing listens on port 9: only the client's settings matter, the upload fails at once.
    args = {
        "bucket": bucket,
        "src": str(tmp_path),
        "concurrency": 20,
        "endpoint_url": "http://127.0.0.1:9",
        "aws_config": {"connect_timeout": 2, "retries": {"max_attempts": 0, "mode": "standard"}},
    }
    assert run(ebook_upload, args)["failed"] is True
    config = clients["s3"].meta.config
    assert config.max_pool_connections == 22
    assert config.s3 == {"addressing_style": "path"}
    assert config.connect_timeout == 2
    assert config.read_timeout == DEFAULT_AWS_CONFIG["read_timeout"]
