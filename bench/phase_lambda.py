"""Lambda with the local executor: cold and warm invocation of a small python3.11 function.

Baselines: cold against starting python3.11 and importing boto3 (what any cold start must do here);
warm against one bare LocalStack API round trip (GetFunction).
"""

import subprocess
import time

from bench import aws, config, measure
from tests.support.aws import invoke, wait_for_function, zip_source

SECTION = "Lambda"
HANDLER = b"import boto3\n\n\ndef handler(event, context):\n    return {'ok': True, 'boto3': boto3.__version__}\n"
WARM_CALLS = 5


def _invoke(lam, name):
    started = time.perf_counter()
    answer, payload = invoke(lam, name)
    seconds = time.perf_counter() - started
    if answer.get("FunctionError"):
        raise RuntimeError(f"{name} failed: {payload}")
    return seconds


def _wait_active(lam, name):
    state = wait_for_function(lam, name, timeout=60, interval=0.1).get("State")
    if state != "Active":
        raise RuntimeError(f"function {name} is {state}, not Active")


def _python_import_boto3():
    started = time.perf_counter()
    subprocess.run([str(config.LAMBDA_PYTHON), "-c", "import boto3"], check=True)
    return time.perf_counter() - started


def invocations(mode, port):
    lam = aws.client("lambda", port, read_timeout=120, attempts=1)
    cold, warm, floor_cold, floor_warm = [], [], [], []
    for i in range(mode.runs):
        name = f"bench-lambda-{int(time.time())}-{i}"
        lam.create_function(FunctionName=name, Runtime="python3.11", Handler="index.handler",
                            Role="arn:aws:iam::000000000000:role/bench-lambda", Code={"ZipFile": zip_source(HANDLER)},
                            Timeout=30, MemorySize=128)
        _wait_active(lam, name)
        cold.append(_invoke(lam, name))
        runs = [_invoke(lam, name) for _ in range(WARM_CALLS)]
        warm.append(measure.median(runs))
        for _ in range(WARM_CALLS):
            started = time.perf_counter()
            lam.get_function(FunctionName=name)
            floor_warm.append(time.perf_counter() - started)
        floor_cold.append(_python_import_boto3())
        lam.delete_function(FunctionName=name)
        measure.say(SECTION, f"{i + 1}/{mode.runs}: cold {cold[-1] * 1000:.0f} ms, warm {warm[-1] * 1000:.0f} ms; "
                    f"python3.11 + import boto3 {floor_cold[-1] * 1000:.0f} ms")
    return (
        measure.figure("lambda.cold", SECTION, "cold invoke (new function, handler imports boto3)", cold,
                       "python3.11 -c 'import boto3' (process start + import)", floor_cold),
        measure.figure("lambda.warm", SECTION, f"warm invoke (median of {WARM_CALLS} per function)", warm,
                       "bare LocalStack round trip (GetFunction)", floor_warm),
    )
