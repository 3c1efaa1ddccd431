"""Line-delimited JSON framing shared by the host executor and the worker.

One message is one JSON object on one line. json.dumps escapes newlines inside
strings, so a newline can only mean "end of message". The worker imports this
file as a top-level module (Python 3.11, standard library only); the host
imports it from the package.
"""

import json
import os
import select
import time


class ChannelClosed(Exception):
    """The other side closed its end of the pipe (usually: it exited)."""


class ChannelTimeout(Exception):
    """No complete message arrived before the deadline."""


def encode(message):
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def send(stream, message):
    stream.write(encode(message))
    stream.flush()


class LineReader:
    """Reads messages from a raw pipe fd, optionally with a deadline.

    A buffered file object cannot be combined with select(): select() would not
    see bytes already sitting in the file's buffer. So this keeps its own buffer
    and only calls select() when that buffer holds no complete line.
    """

    def __init__(self, fd):
        self._fd = fd
        self._buffer = b""

    def read(self, deadline=None):
        """Return the next message; deadline is a time.monotonic() value or None."""
        while b"\n" not in self._buffer:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout()
                readable, _, _ = select.select([self._fd], [], [], remaining)
                if not readable:
                    raise ChannelTimeout()
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                raise ChannelClosed()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)
