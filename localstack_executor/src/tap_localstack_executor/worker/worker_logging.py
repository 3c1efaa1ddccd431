"""Root logger set up the way AWS's Python runtime does it.

AWS installs one handler on the root logger that prefixes each record with
level, UTC timestamp and request id, and leaves the root level at WARNING.
Handlers therefore see the same behaviour here: `logging.basicConfig()` is a
no-op and `logger.setLevel(logging.INFO)` is needed for info records.
"""

import logging
import sys
import time


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the invocation in progress."""

    def __init__(self):
        super().__init__()
        self.request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime


def install_root_handler():
    """Install the handler and return the filter that carries the request id."""
    request_filter = RequestIdFilter()
    # stderr is the log file the host reads; both streams end up there.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _UtcFormatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter
