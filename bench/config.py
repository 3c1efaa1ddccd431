"""Paths, ports, names and the run counts of each mode."""

from dataclasses import dataclass

from tests.support import environment
from tests.support.aws import bucket_names, stack_name, template_outputs

ROOT = environment.ROOT
RESULTS = ROOT / "bench" / "results"
# Scratch space (logs, outputs, synthetic e-books); git ignores /bench/results/*.tmp.
SCRATCH = RESULTS / "run.tmp"
VENV_BIN = ROOT / ".venv" / "bin"
LAMBDA_PYTHON = ROOT / ".venvs" / "lambda-python3.11" / "bin" / "python"
LOCALSTACK_PYTHON = ROOT / ".venvs" / "localstack" / "bin" / "python"

# Our own LocalStacks, away from 4566 (make deploy) and 4567 (make test).
MAIN_PORT, STARTUP_PORT, CLONE_PORT = 4680, 4681, 4682
MAIN_STATE = ROOT / ".localstack" / "bench"
STARTUP_STATE = ROOT / ".localstack" / "bench-startup"

REGION = environment.REGION
ENV = "dev"
STACK = stack_name(ENV)
BUCKET = bucket_names(ENV)[0]
MONITOR_FUNCTION = template_outputs(ENV)["StorageMonitoringFunctionName"]
# The bare boto3 baselines that need a stack of their own (update, no-op) use this environment.
BARE_ENV = "test"

# The monitor extrapolation: three years of a normal day's uploads.
DAILY_UPLOADS = 3000
YEARS = 3
LAMBDA_TIMEOUT_S = 300
MONITOR_LIST_RESERVE_S = 60  # storage_monitor.LIST_RESERVE_S: listing stops when less is left
MONITOR_HEAD_WORKERS = 16  # storage_monitor.WORKERS
UPLOAD_CONCURRENCY = 8  # ebook_upload's default `concurrency`


@dataclass(frozen=True)
class Mode:
    name: str
    runs: int  # figures that take seconds (bare calls, verify, Lambda, monitor at 1k)
    heavy_runs: int  # figures that run a whole ansible-playbook (deploy, update) or a large load
    startup_runs: int  # LocalStack start-ups through the role besides the bench's own; bare ones: one more
    monitor_sizes: tuple
    upload_files: int
    upload_runs: int
    cold: bool  # also time a cold `make deploy` on a fresh clone


QUICK = Mode("quick", runs=3, heavy_runs=2, startup_runs=1, monitor_sizes=(1_000, 10_000),
             upload_files=DAILY_UPLOADS, upload_runs=1, cold=False)
FULL = Mode("full", runs=5, heavy_runs=3, startup_runs=3, monitor_sizes=(1_000, 10_000, 100_000),
            upload_files=DAILY_UPLOADS, upload_runs=3, cold=True)
