"""Which interpreter runs which Lambda runtime, from LAMBDA_LOCAL_PYTHON_RUNTIMES.

Format: comma-separated `runtime=interpreter` pairs, e.g.
    python3.11=/path/to/lambda-python3.11/bin/python
The interpreter's environment must hold whatever the handlers import (boto3).
"""

import os

ENV_VAR = "LAMBDA_LOCAL_PYTHON_RUNTIMES"


class UnsupportedRuntimeError(Exception):
    """A function's runtime cannot be served by this executor."""


def configured_runtimes(raw: str | None = None) -> dict[str, str]:
    if raw is None:
        raw = os.environ.get(ENV_VAR, "")
    runtimes = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        runtime, sep, interpreter = item.partition("=")
        if not sep or not runtime.strip() or not interpreter.strip():
            raise UnsupportedRuntimeError(f"{ENV_VAR} entry {item!r} is not of the form runtime=/path/to/python")
        runtimes[runtime.strip()] = interpreter.strip()
    return runtimes


def interpreter_for(runtime: str | None, raw: str | None = None) -> str:
    """Return the interpreter path for `runtime`, or explain what to configure."""
    runtimes = configured_runtimes(raw)
    served = ", ".join(sorted(runtimes)) or "none"
    if not runtime or not runtime.startswith("python3"):
        raise UnsupportedRuntimeError(
            f"Runtime {runtime or '(container image)'} is not supported by the "
            f"local-python Lambda executor: it runs only python3.x runtimes mapped in "
            f"{ENV_VAR} (configured: {served}). Use a python3.x runtime, or run "
            f"LocalStack with Docker and LAMBDA_RUNTIME_EXECUTOR=docker for this function."
        )
    interpreter = runtimes.get(runtime)
    if interpreter is None:
        raise UnsupportedRuntimeError(
            f"Runtime {runtime} has no interpreter configured for the local-python Lambda "
            f"executor: add {runtime}=/path/to/{runtime}/bin/python to {ENV_VAR} "
            f"(configured: {served})."
        )
    if not (os.path.isfile(interpreter) and os.access(interpreter, os.X_OK)):
        raise UnsupportedRuntimeError(
            f"{ENV_VAR} maps runtime {runtime} to {interpreter}, which is not an executable file."
        )
    return interpreter
