"""What the numbers were measured on: machine, load, versions, commit (read-only git)."""

import importlib.metadata
import os
import platform
import subprocess

from bench import config, measure


def _git(*args):
    proc = subprocess.run(["git", "--no-optional-locks", *args], cwd=config.ROOT, capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip()


def _dist_version(venv, name):
    found = sorted((config.ROOT / venv).glob(f"lib/python3*/site-packages/{name}-*.dist-info"))
    return found[-1].name[len(name) + 1:-len(".dist-info")] if found else None


def describe():
    return {
        "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_uncommitted_files": len(_git("status", "--porcelain", "--untracked-files=no").splitlines()),
        "versions": {
            "ansible-core": importlib.metadata.version("ansible-core"),
            "boto3": importlib.metadata.version("boto3"),
            "localstack-core": _dist_version(".venvs/localstack", "localstack_core"),
            "lambda boto3": _dist_version(".venvs/lambda-python3.11", "boto3"),
        },
    }


def load_summary(load_start):
    samples = measure.LOAD_SAMPLES or [load_start]
    return {"load_start": load_start, "load_end": measure.load1(), "load_min": min(samples),
            "load_max": max(samples), "load_median": measure.median(samples), "load_samples": len(samples)}
