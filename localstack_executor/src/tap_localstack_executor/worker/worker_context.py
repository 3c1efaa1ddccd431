"""The `context` object handed to the handler, shaped like AWS's LambdaContext."""

import os
import time


class LambdaContext:
    def __init__(self, request_id, invoked_function_arn, deadline_epoch_ms):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, as in AWS's own Python runtime (it reads the env var as is).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        # Only set for mobile-SDK callers on AWS; LocalStack does not pass them on.
        self.identity = None
        self.client_context = None
        # Wall-clock deadline set by the host, which enforces the same limit.
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_epoch_ms - time.time() * 1000))

    def __repr__(self):
        return f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r})"
