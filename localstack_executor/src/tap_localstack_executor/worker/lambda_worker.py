"""Long-lived Lambda worker: imports the handler once, then serves invocations.

Started by the host executor as
    <runtime python> -B lambda_worker.py <request fd> <response fd>
with the function's code folder as working directory and the function's
environment. It speaks worker_protocol over the two inherited pipe fds, so the
handler keeps stdout/stderr for itself; the host points those at a log file.
Python 3.11 compatible, standard library only.
"""

import decimal
import json
import os
import sys

import worker_context
import worker_errors
import worker_logging
import worker_protocol
from worker_loader import InitError, load_handler


def _json_default(value):
    # boto3/DynamoDB hand out Decimal; AWS's runtime serialises them as numbers.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _max_rss_mb():
    # VmHWM, not ru_maxrss: ru_maxrss survives exec() and would report the
    # peak of the LocalStack process this worker was forked from.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _flush_output():
    # The host reads the log file right after our reply: everything the
    # handler printed must be on disk by then.
    sys.stdout.flush()
    sys.stderr.flush()


def _invoke(handler, message, request_filter):
    request_id = message["request_id"]
    context = worker_context.LambdaContext(request_id, message["invoked_function_arn"], message["deadline_epoch_ms"])
    request_filter.request_id = request_id
    # AWS's runtime exposes the trace header to the X-Ray SDK this way.
    os.environ["_X_AMZN_TRACE_ID"] = message.get("trace_id") or ""
    try:
        event = json.loads(message["payload"] or "{}")
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - any handler failure becomes Lambda's error reply
        error = worker_errors.error_payload(exc, request_id)
        worker_errors.log_error(error)
        return {"type": "result", "ok": False, "error": error}
    try:
        body = json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as exc:
        error = worker_errors.error_payload(
            exc,
            request_id,
            error_type="Runtime.MarshalError",
            message=f"Unable to marshal response: {exc}",
        )
        worker_errors.log_error(error)
        return {"type": "result", "ok": False, "error": error}
    return {"type": "result", "ok": True, "payload": body}


def main(argv):
    request_fd, response_fd = int(argv[1]), int(argv[2])
    # Handler subprocesses must not inherit the protocol pipes: a child holding
    # the response pipe open would hide our exit from the host.
    os.set_inheritable(request_fd, False)
    os.set_inheritable(response_fd, False)
    responses = os.fdopen(response_fd, "wb")
    requests = worker_protocol.LineReader(request_fd)

    # sys.path[0] is this script's folder; the handler must see the code
    # folder (LAMBDA_TASK_ROOT) first instead, as on AWS.
    sys.path[0] = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    # Line buffering so output printed before a timeout kill still reaches the log.
    sys.stdout.reconfigure(line_buffering=True)
    request_filter = worker_logging.install_root_handler()

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
        hello = {"type": "ready"}
    except InitError as exc:
        handler = None
        worker_errors.log_error(exc.error)
        hello = {"type": "init_error", "error": exc.error}
    _flush_output()
    worker_protocol.send(responses, hello)
    if handler is None:
        return 0  # the host reports the init error and starts a fresh worker next time

    while True:
        try:
            message = requests.read()
        except worker_protocol.ChannelClosed:
            return 0  # the host closed the pipe: LocalStack stopped this environment
        reply = _invoke(handler, message, request_filter)
        reply["max_rss_mb"] = _max_rss_mb()
        _flush_output()
        worker_protocol.send(responses, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
