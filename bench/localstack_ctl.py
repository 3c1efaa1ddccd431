"""Start and stop our LocalStacks: through the project's role (playbooks/localstack.yml), or bare (the baseline).

Every LocalStack started here is recorded in run.tmp/started.json, so bench/cleanup.py can stop it
whatever happens (bench/run calls it on exit).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from bench import aws, config, procs
from tests.support.localstack import LAUNCHER, answers, host_mode_environment, is_zombie, port_open, runs_localstack

REGISTRY = config.SCRATCH / "started.json"


def healthy(port):
    return answers(aws.endpoint(port), timeout=1)  # always http://localhost:<port>


def port_in_use(port):
    return port_open(port, timeout=0.5)


def _register(port, state_dir, root=config.ROOT):
    entries = json.loads(REGISTRY.read_text()) if REGISTRY.exists() else []
    entry = {"endpoint": aws.endpoint(port), "state_dir": str(state_dir), "root": str(root)}
    if entry not in entries:
        entries.append(entry)
        REGISTRY.parent.mkdir(parents=True, exist_ok=True)
        REGISTRY.write_text(json.dumps(entries, indent=1))


def role_vars(port, state_dir):
    return ["-e", f"localstack_endpoint={aws.endpoint(port)}", "-e", "localstack_endpoint_is_external=false",
            "-e", f"localstack_state_dir={state_dir}"]


def role_start(port, state_dir, root=config.ROOT, name="localstack-start"):
    """`ansible-playbook playbooks/localstack.yml` (start to healthy); returns its seconds."""
    if port_in_use(port) and not healthy(port):
        raise RuntimeError(f"port {port} is taken by something that is not LocalStack")
    _register(port, state_dir, root)
    seconds, _ = procs.run(["ansible-playbook", "playbooks/localstack.yml", *role_vars(port, state_dir)],
                           name, env=procs.ansible_env(None, root, jsonl=False), cwd=root)
    return seconds


def role_stop(port, state_dir, root=config.ROOT, check=True):
    seconds, _ = procs.run(["ansible-playbook", "playbooks/localstack.yml", *role_vars(port, state_dir),
                            "-e", "localstack_state=stopped"], "localstack-stop",
                           env=procs.ansible_env(None, root, jsonl=False), cwd=root, check=check)
    return seconds


def raw_start(port, state_dir):
    """The baseline: the role's command and settings (start_host.yml, defaults/main.yml) without Ansible,
    health polled every 0.1 s; returns start-to-healthy seconds."""
    if port_in_use(port):
        raise RuntimeError(f"port {port} is in use; cannot time a start-up there")
    state_dir = Path(state_dir)
    (state_dir / "tmp").mkdir(parents=True, exist_ok=True)
    env = host_mode_environment(f"localhost:{port}", f"python3.11={config.LAMBDA_PYTHON}", state_dir / "tmp", extra={
        "S3_SKIP_KMS_KEY_VALIDATION": "0",
        "TAP_S3_STORAGE_DIR": str(state_dir / "s3"),  # never the machine-wide /tmp/localstack-s3-storage
    })
    _register(port, state_dir)
    started = time.perf_counter()
    with open(state_dir / "localstack.log", "wb") as log:
        proc = subprocess.Popen([str(config.LOCALSTACK_PYTHON), "-m", LAUNCHER], cwd=state_dir,
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    # The role's pid file format: its stop (and bench/cleanup.py) can end this one too.
    (state_dir / "localstack.pid").write_text(f"{proc.pid}\n")
    while not healthy(port):
        if proc.poll() is not None:
            raise RuntimeError(f"LocalStack exited with {proc.returncode}; see {state_dir / 'localstack.log'}")
        if time.perf_counter() - started > 120:
            raw_stop(state_dir)
            raise RuntimeError(f"LocalStack on {port} not healthy after 120 s")
        time.sleep(0.1)
    return time.perf_counter() - started


def raw_stop(state_dir):
    """SIGTERM to the process group of the pid file (SIGKILL after 20 s), only if it is still LocalStack.
    The pid file stays when its process is alive but not recognised, for the role's stop or a person."""
    pid_file = Path(state_dir) / "localstack.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    if _is_localstack(pid):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _is_localstack(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_localstack(pid):
            os.killpg(pid, signal.SIGKILL)
    elif Path(f"/proc/{pid}").exists() and not is_zombie(pid):
        print(f"[bench] pid {pid} of {pid_file} is not LocalStack: left alone", flush=True)
        return
    pid_file.unlink(missing_ok=True)


def _is_localstack(pid):
    """LocalStack (the role's stop recognises the same command lines), and not a zombie our Popen has not reaped."""
    return runs_localstack(pid) and not is_zombie(pid)
