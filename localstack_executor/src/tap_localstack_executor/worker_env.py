"""The environment a worker process gets.

Built from scratch rather than inherited: LocalStack's own environment (its
venv, GATEWAY_LISTEN, maybe the user's real AWS settings) must not leak into
handlers, which on AWS see only Lambda's variables and the function's own.
"""

import os
from pathlib import Path

from tap_localstack_executor.worker import WORKER_SCRIPT


def build_worker_env(env_vars: dict, *, code_dir: Path, runtime: str, interpreter: str) -> dict[str, str]:
    env = {
        "PATH": f"{Path(interpreter).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        # Keep boto3 away from the host's ~/.aws files; the variables below
        # (credentials, region, endpoint) are all it should use.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    # LocalStack hands over ints (memory size, timeout) next to strings, and
    # already lets the function's own variables win over its defaults.
    env.update({key: str(value) for key, value in env_vars.items() if value is not None})
    # LocalStack fills these with container paths; point them at the real ones.
    env["LAMBDA_TASK_ROOT"] = str(code_dir)
    env["LAMBDA_RUNTIME_DIR"] = str(WORKER_SCRIPT.parent)
    # AWS's runtime overwrites the generic value with the runtime's name.
    env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    return env
