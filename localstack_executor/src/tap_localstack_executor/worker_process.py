"""One worker process on the host side: spawn, talk to it, kill it, read its log.

The worker's stdout and stderr go to a log file opened in append mode rather
than to a pipe: after a reply arrives (the worker flushed before replying)
everything the handler printed is already in the file, so the logs of an
invocation are simply "the file from the last offset on", without a reader
thread and without races. After a kill the same read collects the rest.
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from tap_localstack_executor.worker import WORKER_SCRIPT
from tap_localstack_executor.worker.worker_protocol import (
    ChannelClosed,
    ChannelTimeout,
    LineReader,
    send,
)

LOG_TAIL_BYTES = 64 * 1024


class WorkerTimeout(Exception):
    """No reply before the deadline."""


class WorkerExited(Exception):
    """The worker ended without replying; `returncode` says how."""

    def __init__(self, returncode: int | None):
        super().__init__(f"worker exited with {returncode}")
        self.returncode = returncode


class WorkerProcess:
    def __init__(self, interpreter: str, code_dir: Path, env: dict[str, str], log_path: Path):
        self._log_path = log_path
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        self._kill_lock = threading.Lock()
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        with open(log_path, "ab") as log_file:
            # The interpreter path comes from the operator's LAMBDA_LOCAL_PYTHON_RUNTIMES.
            self._process = subprocess.Popen(  # noqa: S603
                [
                    interpreter,
                    "-B",
                    str(WORKER_SCRIPT),
                    str(request_read),
                    str(response_write),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=code_dir,
                env=env,
                pass_fds=(request_read, response_write),
                # Own process group, so a kill also reaches what the handler spawned.
                start_new_session=True,
            )
        # Keep only our ends; the worker then sees EOF when we go away, even
        # if LocalStack dies without calling stop().
        os.close(request_read)
        os.close(response_write)
        self._requests = os.fdopen(request_write, "wb")
        # A file object only to own the fd (closed with this object); reads go
        # through LineReader on the raw fd. Not closed in kill(): another thread
        # may still be reading it, and a reused fd number would be worse.
        self._response_file = os.fdopen(response_read, "rb", buffering=0)
        self._responses = LineReader(response_read)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def receive(self, timeout: float) -> dict:
        """Wait for the next message from the worker."""
        try:
            return self._responses.read(deadline=time.monotonic() + timeout)
        except ChannelTimeout:
            raise WorkerTimeout() from None
        except (ChannelClosed, OSError):
            raise WorkerExited(self._wait_exit()) from None

    def request(self, message: dict, timeout: float) -> dict:
        try:
            send(self._requests, message)
        except (BrokenPipeError, ValueError, OSError):
            raise WorkerExited(self._wait_exit()) from None
        return self.receive(timeout)

    def _wait_exit(self) -> int | None:
        try:
            return self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill the worker and its children; safe to call more than once, from any thread."""
        with self._kill_lock:
            if self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            with contextlib.suppress(OSError):
                self._requests.close()

    def read_new_logs(self) -> str:
        """Everything written to the log since the previous call."""
        try:
            with open(self._log_path, "rb") as log_file:
                log_file.seek(self._log_offset)
                data = log_file.read()
        except FileNotFoundError:
            return ""
        self._log_offset += len(data)
        return data.decode("utf-8", errors="replace")

    def log_tail(self) -> str:
        try:
            with open(self._log_path, "rb") as log_file:
                log_file.seek(max(0, log_file.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
                return log_file.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
