"""Incremental reader of one RTSP byte stream: messages and ``$`` frames mixed (RFC 2326 §10.12).

Feed it bytes with :meth:`RtspReader.receive_data` and pull with :meth:`RtspReader.next_message`
until it returns None. A malformed message raises a :class:`RemoteProtocolError`; when the error is
not ``fatal`` the reader has already skipped the message (body included) and can go on.
"""

from __future__ import annotations

import re
import string
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from wire import speedups
from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.message import (
    HEAD_END_RE,
    INTERLEAVED_HEADER_SIZE,
    INTERLEAVED_MAGIC,
    InterleavedFrame,
    Message,
    MessageHead,
)
from wire.rtsp.status import StatusCode

# A start line is printable text: control bytes there mean the peer is not speaking RTSP.
_CONTROL_BYTE_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN_BYTES = frozenset((string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~").encode())


@dataclass(frozen=True)
class ReaderLimits:
    """How much a peer may make us buffer."""

    max_head_bytes: int = 16 * 1024
    max_headers: int = 100
    max_body_bytes: int = 256 * 1024


_LINE_ENDS = (ord("\r"), ord("\n"))
_F = TypeVar("_F")


class RtspReader:
    """Frames RTSP messages and interleaved frames out of a byte stream."""

    def __init__(self, limits: ReaderLimits | None = None) -> None:
        self.limits = limits or ReaderLimits()
        self._buffer = bytearray()
        self._scan_from = 0  # where the search for the end of the header block resumes
        self._head: MessageHead | None = None  # a head whose body has not fully arrived
        self._body_length = 0
        self._discard = 0  # body bytes of a rejected message still to drop
        self._failure: RemoteProtocolError | None = None
        self._frames: deque[InterleavedFrame] = deque()  # framed, not yet returned

    def receive_data(self, data: bytes) -> None:
        """Append bytes from the peer."""
        self._buffer += data

    @property
    def has_partial(self) -> bool:
        """True while part of a message or frame is buffered."""
        return (
            bool(self._buffer) or bool(self._frames) or self._head is not None or self._discard > 0
        )

    def next_frames(self, kind: Callable[[int, bytes], _F]) -> list[_F]:
        """Every complete interleaved frame at the front of the stream, each as ``kind(channel,
        payload)``, when nothing else comes first; else ``[]``, and :meth:`next_message` reads
        on. The same frames :meth:`next_message` would give one by one, for a caller that turns
        each into something else at once (a connection's events): one call per read of a
        camera's burst, not one per packet."""
        buffer = self._buffer
        if (
            buffer
            and buffer[0] == INTERLEAVED_MAGIC
            and not self._frames
            and self._head is None
            and not self._discard
            and self._failure is None
        ):
            return split_frames(buffer, kind)
        return []

    def next_message(self) -> Message | InterleavedFrame | None:
        """The next complete message or frame, or None until more bytes arrive.

        Raises :class:`RemoteProtocolError`; after a fatal one every later call raises it again.
        """
        if self._failure is not None:
            raise self._failure
        try:
            return self._next()
        except RemoteProtocolError as error:
            if error.fatal:
                self._failure = error
                self._buffer.clear()
            raise

    def _next(self) -> Message | InterleavedFrame | None:
        if self._frames:
            return self._frames.popleft()
        if self._discard:
            dropped = min(self._discard, len(self._buffer))
            del self._buffer[:dropped]
            self._discard -= dropped
            if self._discard:
                return None
        if self._head is not None:
            return self._read_body(self._head)
        buffer = self._buffer
        if not buffer:
            return None
        if buffer[0] == INTERLEAVED_MAGIC:
            return self._read_frame()
        if buffer[0] in _LINE_ENDS:
            # Empty lines between messages are tolerated, as HTTP/1.1 servers do (RFC 7230
            # §3.5). Checked first: stripping copies the buffer, once per message otherwise.
            self._buffer = buffer.lstrip(b"\r\n")
            self._scan_from = 0
            return self._next()
        return self._read_head()

    def _read_frame(self) -> InterleavedFrame | None:
        # Every complete frame at the front at once: the buffer is cut once per read, not once
        # per frame (a keyframe's burst is a hundred frames in one read).
        self._frames.extend(split_frames(self._buffer, InterleavedFrame))
        return self._frames.popleft() if self._frames else None

    def _read_head(self) -> Message | None:
        self._check_start_line()
        match = HEAD_END_RE.search(self._buffer, max(self._scan_from - 2, 0))
        limit = self.limits.max_head_bytes
        if match is None:
            self._scan_from = len(self._buffer)
            if len(self._buffer) > limit:
                self._raise_head_too_large()
            return None
        if match.end() > limit:
            self._raise_head_too_large()
        head = MessageHead.parse(bytes(self._buffer[: match.end()]))
        del self._buffer[: match.end()]
        self._scan_from = 0
        self._body_length = head.content_length(self.limits.max_body_bytes)
        if head.problem is not None or len(head.fields) > self.limits.max_headers:
            self._discard = self._body_length
            head.build(b"", max_headers=self.limits.max_headers)  # raises the precise error
        self._head = head
        return self._read_body(head)

    def _read_body(self, head: MessageHead) -> Message | None:
        if len(self._buffer) < self._body_length:
            return None
        body = bytes(self._buffer[: self._body_length])
        del self._buffer[: self._body_length]
        self._head = None
        return head.build(body, max_headers=self.limits.max_headers)

    def _check_start_line(self) -> None:
        first = self._buffer[0]
        if first not in _TOKEN_BYTES:
            raise RemoteProtocolError(
                f"expected '$' or a start line, got byte 0x{first:02x}", fatal=True
            )
        # Bytes before _scan_from were checked by an earlier call.
        if self._buffer.find(b"\n", 0, self._scan_from) >= 0:
            return
        line_end = self._buffer.find(b"\n", self._scan_from)
        end = len(self._buffer) if line_end < 0 else line_end
        bad = _CONTROL_BYTE_RE.search(self._buffer, self._scan_from, end)
        if bad is not None:
            raise RemoteProtocolError(
                f"expected a start line, got control byte 0x{bad.group()[0]:02x}", fatal=True
            )

    def _raise_head_too_large(self) -> None:
        limit = self.limits.max_head_bytes
        if self._buffer.find(b"\n", 0, limit) < 0:
            raise RemoteProtocolError(
                f"start line exceeds {limit} bytes",
                status_code=StatusCode.REQUEST_URI_TOO_LARGE,
                fatal=True,
            )
        raise RemoteProtocolError(f"header block exceeds {limit} bytes", fatal=True)


def _split_frames_py(buffer: bytearray, kind: Callable[[int, bytes], _F]) -> list[_F]:
    """The complete ``$`` frames at the front of ``buffer`` (§10.12), each as ``kind(channel,
    payload)``, removed from it; stops at the first incomplete frame or the first byte that is
    not ``$``."""
    frames = []
    pos = 0
    size = len(buffer)
    while pos + INTERLEAVED_HEADER_SIZE <= size and buffer[pos] == INTERLEAVED_MAGIC:
        _, channel, length = _FRAME_HEADER.unpack_from(buffer, pos)
        end = pos + INTERLEAVED_HEADER_SIZE + length
        if end > size:
            break
        frames.append(kind(channel, bytes(buffer[pos + INTERLEAVED_HEADER_SIZE : end])))
        pos = end
    del buffer[:pos]
    return frames


_FRAME_HEADER = struct.Struct("!BBH")
_ext = speedups.extension("wire.rtsp._reader")
split_frames: Callable[[bytearray, Callable[[int, bytes], _F]], list[_F]] = (
    _ext.split_frames if _ext is not None else _split_frames_py
)
