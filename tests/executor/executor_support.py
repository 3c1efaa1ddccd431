"""Start and stop a private LocalStack (host mode) for the executor tests."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.environment import ROOT, without_aws_settings
from tests.support.localstack import answers, host_mode_environment, port_open, processes_in

# The environments that `make setup` builds in this checkout.
DEFAULT_VENV = str(ROOT / ".venvs" / "localstack")
DEFAULT_PORT = 4610
DEFAULT_RUNTIMES = f"python3.11={ROOT / '.venvs' / 'lambda-python3.11' / 'bin' / 'python'}"


class LocalStackServer:
    def __init__(self, venv: str, port: int, runtimes: str, data_dir: Path):
        self.python = Path(venv) / "bin" / "python"
        self.port = port
        self.runtimes = runtimes
        self.data_dir = data_dir
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / "localstack.log"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    def environment(self) -> dict[str, str]:
        # Unpacked code, executor logs and state stay in this run's folder; no AWS_* setting of the caller.
        return host_mode_environment(f"127.0.0.1:{self.port}", self.runtimes, self.data_dir,
                                     base=without_aws_settings(every_aws_variable=True),
                                     extra={"LOCALSTACK_VOLUME_DIR": str(self.data_dir / "volume")})

    def start(self, timeout: float = 120) -> None:
        if not self.python.exists():
            raise RuntimeError(
                f"No LocalStack interpreter at {self.python}; set EXECUTOR_TEST_LOCALSTACK_VENV "
                "to a venv with localstack-core and tap-localstack-executor installed"
            )
        if port_open(self.port):
            raise RuntimeError(f"Port {self.port} is already in use; set EXECUTOR_TEST_PORT to a free port")
        started = time.monotonic()
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [str(self.python), "-m", "localstack.runtime.main"],
                env=self.environment(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"LocalStack exited early:\n{self.log_tail()}")
            if answers(self.endpoint, timeout=2):
                self.startup_seconds = time.monotonic() - started
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"LocalStack not healthy within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM first: LocalStack then stops its Lambda environments itself,
        # which is the executor's cleanup path we want to exercise.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stray_processes(self, wait: float = 10) -> list[int]:
        """Processes this run left behind, after waiting up to `wait` seconds for them to go."""
        deadline = time.monotonic() + wait
        while True:
            strays = processes_in(self.data_dir, below=True)  # the workers run in the code folder
            if not strays or time.monotonic() > deadline:
                return strays
            time.sleep(0.5)

    def kill_strays(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return ""
