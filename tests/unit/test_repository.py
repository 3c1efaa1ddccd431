"""Checks on the collection's own metadata: what Galaxy, ansible-builder, the
setup script and the inventories rely on."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(relative):
    return yaml.safe_load((ROOT / relative).read_text())


def test_galaxy_names_the_collection():
    galaxy = load("galaxy.yml")
    assert (galaxy["namespace"], galaxy["name"]) == ("tap", "ebook_storage")
    assert re.fullmatch(r"\d+\.\d+\.\d+", galaxy["version"])
    assert "amazon.aws" in galaxy["dependencies"]


def test_runtime_requires_a_full_ansible_version_and_groups_every_aws_module():
    runtime = load("meta/runtime.yml")
    assert re.fullmatch(r">=\d+\.\d+\.\d+", runtime["requires_ansible"])
    group = runtime["action_groups"]["ebook_storage"]
    aws_modules = {
        path.stem
        for path in (ROOT / "plugins/modules").glob("*.py")
        if "AnsibleAWSModule" in path.read_text()
    }
    assert aws_modules == set(group)


def test_requirements_yml_lists_amazon_aws_for_galaxy_users():
    names = [c["name"] for c in load("requirements.yml")["collections"]]
    assert names == ["amazon.aws"]


@pytest.mark.parametrize("lock", sorted((ROOT / "requirements").glob("*.lock")), ids=lambda p: p.name)
def test_lock_files_pin_every_package_exactly(lock):
    lines = [line for line in lock.read_text().splitlines() if line and not line.startswith("#")]
    assert lines, f"{lock.name} is empty"
    loose = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+!\-]+", line)]
    assert loose == []


def test_execution_environment_definition_is_format_3_with_runtime_requirements():
    definition = load("execution-environment.yml")
    assert definition["version"] == 3
    assert definition["dependencies"]["python"] == "meta/ee-requirements.txt"
    collections = [c["name"] for c in definition["dependencies"]["galaxy"]["collections"]]
    assert "amazon.aws" in collections
    meta = load("meta/execution-environment.yml")
    requirements = (ROOT / meta["dependencies"]["python"]).read_text()
    for package in ("boto3", "botocore"):
        assert re.search(rf"^{package}>=", requirements, re.M), package
    # Runtime requirements of a collection must not pin ansible itself.
    assert not re.search(r"^ansible", requirements, re.M)


@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_each_inventory_is_for_its_own_environment(env):
    hosts = load(f"inventories/{env}/hosts.yml")
    assert list(hosts["all"]["children"]) == [env]
    group_vars = load(f"inventories/{env}/group_vars/all/main.yml")
    assert group_vars["ebook_stack_environment"] == env
    assert group_vars["ebook_stack_region"]
    if env == "prod":
        assert group_vars["ebook_stack_endpoint_url"] == ""
        assert group_vars["ebook_stack_termination_protection"] is True
        assert group_vars["ebook_stack_aws_env"] == {}
    else:
        assert "LOCALSTACK_ENDPOINT" in group_vars["ebook_stack_endpoint_url"]
        # Dummy credentials go through the environment, never as module options.
        assert set(group_vars["ebook_stack_aws_env"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert "test" not in group_vars["ebook_stack_aws_env"].values()


def test_role_defaults_are_all_declared_in_the_argument_specs():
    for role in ("ebook_stack", "localstack"):
        defaults = load(f"roles/{role}/defaults/main.yml")
        options = load(f"roles/{role}/meta/argument_specs.yml")["argument_specs"]["main"]["options"]
        assert set(defaults) <= set(options), set(defaults) - set(options)
        assert all(name.startswith(role + "_") for name in options)


def test_ci_runs_make_test_and_nothing_else():
    commands = [
        line for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["make test"]
