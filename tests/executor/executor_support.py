"""Start and stop a private LocalStack (host mode) for the executor tests."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

# The environments that `make setup` builds in this checkout.
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = str(ROOT / ".venvs" / "localstack")
DEFAULT_PORT = 4610
DEFAULT_RUNTIMES = f"python3.11={ROOT / '.venvs' / 'lambda-python3.11' / 'bin' / 'python'}"


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_under(directory: Path) -> list[int]:
    """Pids whose working directory lies under `directory` (the workers run in the code folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(directory)):
            found.append(int(entry.name))
    return found


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
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(
            GATEWAY_LISTEN=f"127.0.0.1:{self.port}",
            LAMBDA_RUNTIME_EXECUTOR="local-python",
            LAMBDA_LOCAL_PYTHON_RUNTIMES=self.runtimes,
            # Unpacked code, executor logs and state stay in this run's folder.
            TMPDIR=str(self.data_dir),
            LOCALSTACK_VOLUME_DIR=str(self.data_dir / "volume"),
            # No port-53 DNS server (it would clash with other LocalStacks),
            # no analytics, no certificate download: nothing goes to the internet.
            DNS_ADDRESS="0",
            DISABLE_EVENTS="1",
            SKIP_SSL_CERT_DOWNLOAD="1",
        )
        return env

    def start(self, timeout: float = 120) -> None:
        if not self.python.exists():
            raise RuntimeError(
                f"No LocalStack interpreter at {self.python}; set EXECUTOR_TEST_LOCALSTACK_VENV "
                "to a venv with localstack-core and tap-localstack-executor installed"
            )
        if _port_in_use(self.port):
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
            if self._healthy():
                self.startup_seconds = time.monotonic() - started
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"LocalStack not healthy within {timeout} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as rsp:
                return rsp.status == 200
        except OSError:
            return False

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
            strays = _processes_under(self.data_dir)
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
