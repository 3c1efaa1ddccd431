"""Errors the Lambda service itself reports (not raised by user code), in AWS's wording."""


def timeout_error(request_id: str, timeout_seconds: float) -> dict:
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": (f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds"),
    }


def exit_error(request_id: str, returncode: int | None) -> dict:
    if returncode is None:
        how = "unknown status"
    elif returncode < 0:
        how = f"signal: {-returncode}"
    else:
        how = f"exit status {returncode}"
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
    }
