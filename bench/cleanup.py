"""Stop every LocalStack this benchmark started (run.tmp/started.json) and remove a clone left behind.

`python -m bench.cleanup`: bench/run calls it on exit, pass or fail; stopping twice is harmless.
"""

import json
import shutil
from pathlib import Path

from bench import config, localstack_ctl

CLONE_RECORD = config.SCRATCH / "clone-dir"


def stop_all(verbose=True):
    registry = localstack_ctl.REGISTRY
    entries = json.loads(registry.read_text()) if registry.exists() else []
    for entry in entries:
        pid_file = Path(entry["state_dir"]) / "localstack.pid"
        if pid_file.exists():
            if verbose:
                print(f"[bench cleanup] stopping the LocalStack on {entry['endpoint']}", flush=True)
            # The bare stop: the same process-group stop as the role's, without an Ansible run;
            # it works for the clone's LocalStack too, whose controller may be half-installed.
            localstack_ctl.raw_stop(entry["state_dir"])
        # Object bodies of the stopped LocalStack (its metadata lived in memory and is gone).
        storage = Path(entry["state_dir"]) / "s3"
        if not pid_file.exists() and storage.is_dir():
            shutil.rmtree(storage, ignore_errors=True)
    registry.unlink(missing_ok=True)
    if CLONE_RECORD.exists():
        clone = Path(CLONE_RECORD.read_text().strip())
        if clone.name.startswith("bench-clone-") and clone.exists():
            shutil.rmtree(clone, ignore_errors=True)
        CLONE_RECORD.unlink(missing_ok=True)


if __name__ == "__main__":
    stop_all()
