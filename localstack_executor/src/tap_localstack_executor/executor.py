"""LocalStack RuntimeExecutor that runs a python3.x function in a local worker process.

LocalStack creates one executor per execution environment and calls start()
once, invoke() once per invocation (never concurrently), stop() at the end.
Each executor keeps one warm worker; after a timeout or crash the next
invoke() starts a fresh one, which is what AWS does with a broken sandbox.
"""

import ipaddress
import json
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from tap_localstack_executor import log_lines, service_errors
from tap_localstack_executor.runtimes import (
    ENV_VAR,
    UnsupportedRuntimeError,
    configured_runtimes,
    interpreter_for,
)
from tap_localstack_executor.worker_env import build_worker_env
from tap_localstack_executor.worker_process import (
    WorkerExited,
    WorkerProcess,
    WorkerTimeout,
)

LOG = logging.getLogger(__name__)


@dataclass
class ColdStart:
    """What a fresh worker reported; it goes into the next invocation's result and log."""

    init_ms: float
    logs: str
    error: dict | None


def _checked_interpreter(runtime: str | None) -> str:
    try:
        return interpreter_for(runtime)
    except UnsupportedRuntimeError as exc:
        # LocalStack shows this message as the function's StateReason.
        raise LambdaRuntimeException(str(exc)) from exc


class LocalPythonRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._interpreter = ""
        self._env: dict[str, str] = {}
        self._state_dir: Path | None = None
        self._worker: WorkerProcess | None = None
        self._cold_start: ColdStart | None = None
        # stop() can come from LocalStack's timer threads while start() runs.
        self._lock = threading.Lock()
        self._stopped = False

    # -- lifecycle -------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        runtime = self.function_version.config.runtime
        self._interpreter = _checked_interpreter(runtime)
        self._state_dir = Path(tempfile.mkdtemp(prefix=f"lambda-local-python-{self.id[:8]}-"))
        self._env = build_worker_env(
            env_vars,
            code_dir=self._code_dir(),
            runtime=runtime,
            interpreter=self._interpreter,
        )
        self._spawn()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def _spawn(self) -> None:
        # Init Duration covers interpreter start-up plus the handler import.
        started = time.monotonic()
        worker = WorkerProcess(
            self._interpreter,
            self._code_dir(),
            self._env,
            self._state_dir / "worker.log",
        )
        with self._lock:
            stopped = self._stopped
            if not stopped:
                self._worker = worker
        name = self.function_version.id.function_name
        if stopped:
            # stop() won the race; it could not see this worker to kill it.
            worker.kill()
            raise LambdaRuntimeException(f"Execution environment for {name} was stopped")
        timeout = config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        try:
            hello = worker.receive(timeout=timeout)
        except WorkerTimeout:
            worker.kill()
            raise LambdaRuntimeException(
                f"Python worker for {name} did not start within {timeout} s "
                f"(LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT). Output:\n{worker.log_tail()}"
            ) from None
        except WorkerExited as exc:
            raise LambdaRuntimeException(
                f"Python worker for {name} exited during start-up with {exc.returncode} "
                f"({self._interpreter}). Output:\n{worker.log_tail()}"
            ) from None
        self._cold_start = ColdStart(
            (time.monotonic() - started) * 1000,
            worker.read_new_logs(),
            hello.get("error"),
        )

    def _code_dir(self) -> Path:
        return Path(self.function_version.config.code.get_unzipped_code_location())

    # -- invocation ------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        if self._cold_start is None and (self._worker is None or not self._worker.alive):
            self._spawn()  # the previous worker timed out or crashed
        worker = self._worker
        if worker is None:
            raise LambdaRuntimeException(f"Execution environment {self.id} was stopped")
        cold, self._cold_start = self._cold_start, None
        timeout = self.function_version.config.timeout
        started = time.monotonic()
        extra_log, max_rss_mb = "", None

        if cold is not None and cold.error is not None:
            # The worker exits after reporting an init error; the next
            # invocation tries the import again, as AWS does.
            body, is_error = cold.error, True
            worker.kill()
        else:
            try:
                reply = worker.request(
                    {
                        "type": "invoke",
                        "request_id": request_id,
                        "invoked_function_arn": payload["invoked-function-arn"],
                        "payload": payload["payload"],
                        "trace_id": payload.get("trace-id"),
                        "deadline_epoch_ms": (time.time() + timeout) * 1000,
                    },
                    timeout=timeout,
                )
                max_rss_mb = reply.get("max_rss_mb")
                is_error = not reply["ok"]
                body = reply["error"] if is_error else reply["payload"]
            except WorkerTimeout:
                worker.kill()
                body, is_error = service_errors.timeout_error(request_id, timeout), True
                extra_log = log_lines.timeout_line(request_id, timeout)
            except WorkerExited as exc:
                worker.kill()
                body, is_error = (
                    service_errors.exit_error(request_id, exc.returncode),
                    True,
                )
                extra_log = f"{body['errorMessage']}\n{body['errorType']}\n"

        duration_ms = (time.monotonic() - started) * 1000
        output = worker.read_new_logs()
        if output and not output.endswith("\n"):
            output += "\n"
        logs = "".join(
            [
                cold.logs if cold is not None else "",
                log_lines.start_line(request_id, self.function_version.id.qualifier),
                output,
                log_lines.end_line(request_id),
                extra_log,
                log_lines.report_line(
                    request_id,
                    duration_ms,
                    self.function_version.config.memory_size,
                    max_rss_mb,
                    cold.init_ms if cold is not None else None,
                ),
            ]
        )
        if not isinstance(body, str):
            body = json.dumps(body)
        return InvocationResult(request_id, body.encode("utf-8"), is_error, logs)

    def get_logs(self) -> str:
        worker = self._worker
        return worker.log_tail() if worker is not None else ""

    # -- addresses: everything runs on this host --------------------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        if config.HOSTNAME_FROM_LAMBDA:
            return config.HOSTNAME_FROM_LAMBDA
        host = config.GATEWAY_LISTEN[0].host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host or "127.0.0.1"  # a host name
        # A wildcard listen address (0.0.0.0, ::) is not something to connect to.
        if address.is_unspecified:
            return "127.0.0.1"
        return f"[{host}]" if address.version == 6 else host

    def get_runtime_endpoint(self) -> str:
        # Only used to fill LOCALSTACK_RUNTIME_ENDPOINT; the worker talks over pipes.
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{self.get_endpoint_from_executor()}:{port}/_localstack_lambda/{self.id}"

    # -- per-version preparation -----------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # Failing here marks the function Failed with this message as its
        # StateReason, at create time rather than at the first invoke.
        _checked_interpreter(function_version.config.runtime)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # LocalStack itself removes the unpacked code

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            runtimes = configured_runtimes()
        except UnsupportedRuntimeError as exc:
            LOG.warning("local-python Lambda executor: %s", exc)
            return False
        if not runtimes:
            LOG.warning(
                "local-python Lambda executor: %s is empty, so no function can run. "
                "Set it to e.g. python3.11=/path/to/venv/bin/python",
                ENV_VAR,
            )
            return False
        return True
