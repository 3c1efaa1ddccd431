"""Lambda's error shape for exceptions raised by user code."""

import os
import sys
import traceback

_WORKER_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frames(tb):
    # Drop the worker's and importlib's frames: AWS shows only user code.
    return [
        frame
        for frame in traceback.extract_tb(tb)
        if not frame.filename.startswith(_WORKER_DIR) and not frame.filename.startswith("<frozen ")
    ]


def error_payload(exc, request_id="", error_type=None, message=None):
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(_user_frames(exc.__traceback__)),
    }


def log_error(error):
    """Write the error to the function's log the way AWS's runtime does."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in error["stackTrace"])
    print("\n".join(lines), file=sys.stderr, flush=True)
