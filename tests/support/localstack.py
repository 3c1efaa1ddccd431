"""The LocalStack process: does it answer, is its port taken, is a pid LocalStack, its host-mode settings."""

from __future__ import annotations

import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

HEALTH_PATH = "/_localstack/health"
# What roles/localstack starts (host mode), and what its stop recognises in /proc/<pid>/cmdline.
LAUNCHER = "tap_localstack_executor.launch"
MARKERS = (b"localstack.runtime.main", LAUNCHER.encode())
# The settings every host-mode LocalStack of this project gets (roles/localstack/defaults/main.yml): the local
# Lambda executor; no port-53 DNS server (it would clash with other LocalStacks), no analytics, no certificate
# download: nothing goes to the internet.
HOST_MODE_SETTINGS = {"LAMBDA_RUNTIME_EXECUTOR": "local-python", "DNS_ADDRESS": "0", "DISABLE_EVENTS": "1",
                      "SKIP_SSL_CERT_DOWNLOAD": "1"}


def endpoint_from_environment():
    """LOCALSTACK_ENDPOINT without a trailing slash; "" when it is not set."""
    return (os.environ.get("LOCALSTACK_ENDPOINT") or "").rstrip("/")


def health_error(endpoint, timeout=3):
    """None when ``endpoint`` answers GET /_localstack/health with 200; otherwise why not, as text."""
    try:
        with urllib.request.urlopen(f"{endpoint}{HEALTH_PATH}", timeout=timeout) as reply:  # noqa: S310
            reply.read()
            return None if reply.status == 200 else f"HTTP {reply.status}"
    except (OSError, http.client.HTTPException) as exc:  # URLError and HTTPError are OSErrors
        return str(exc) or type(exc).__name__


def answers(endpoint, timeout=3):
    """Whether the LocalStack at ``endpoint`` answers its health check."""
    return health_error(endpoint, timeout) is None


def port_open(port, host="127.0.0.1", timeout=1.0):
    """Whether something accepts connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def runs_localstack(pid):
    """Whether process ``pid`` runs LocalStack (its command line names one of MARKERS)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(marker in command for marker in MARKERS)


def is_zombie(pid):
    """A zombie (state Z) has exited and waits for its parent; a pid that is gone counts as one."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def processes_in(directory, *, below=False):
    """Pids whose working directory is ``directory`` (or, with ``below``, lies under it)."""
    directory = str(directory)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == directory or (below and cwd.startswith(directory)):
            found.append(int(entry.name))
    return found


def host_mode_environment(listen, runtimes, tmpdir, *, base=None, extra=None):
    """The environment of a host-mode LocalStack process: ``base`` (default os.environ) with HOST_MODE_SETTINGS,
    GATEWAY_LISTEN=``listen`` (host:port), LAMBDA_LOCAL_PYTHON_RUNTIMES=``runtimes``, TMPDIR=``tmpdir`` (the
    instance's unpacked Lambda code and worker logs), then ``extra``."""
    env = dict(os.environ if base is None else base)
    env.update(HOST_MODE_SETTINGS)
    env.update({"GATEWAY_LISTEN": listen, "LAMBDA_LOCAL_PYTHON_RUNTIMES": runtimes, "TMPDIR": str(tmpdir)})
    env.update(extra or {})
    return env
