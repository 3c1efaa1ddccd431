"""Scripts run inside the worker process (by path, with the function's interpreter)."""

from pathlib import Path

# The host starts this file by path; it is not imported into LocalStack.
WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
