"""The transcoding of pulled audio, on a worker thread: FFmpeg's work off the event loop.

One G.711 stream costs about 6 ms of CPU per second of audio, an Opus one about 18 ms (see the
README); fifty cameras of that on the loop would delay every other stream's reads. FFmpeg
releases the GIL while it decodes and encodes, so a thread takes the work off the loop's core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from refserver.hls import Frame

logger = logging.getLogger(__name__)

MAX_PENDING_UNITS = 500
"""Units waiting for the worker thread (10 s of 20 ms packets); past that they are dropped."""

Deliver = Callable[[list[Frame], int], None]


class Transcoder(Protocol):
    """What the worker runs (:class:`~refserver.pull.transcode.AudioTranscoder`)."""

    def transcode(self, frame: Frame) -> list[Frame]: ...


class TranscodeQueue:
    """Runs transcoders on one worker thread, in the order units were submitted, and hands
    their frames back on the event loop. Units beyond :data:`MAX_PENDING_UNITS` waiting are
    dropped and counted: a worker that cannot keep up must not grow memory without end."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcode")
        self._pending = 0
        self._closed = False
        self.dropped = 0

    def submit(self, transcoder: Transcoder, frame: Frame, size: int, deliver: Deliver) -> None:
        """Transcode ``frame`` (``size`` bytes received) and call ``deliver(frames, size)`` on
        the loop with the result."""
        if self._closed:
            return
        if self._pending >= MAX_PENDING_UNITS:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th... time
                logger.warning(
                    "transcoding falls behind, audio dropped", extra={"units": self.dropped}
                )
            return
        self._pending += 1
        future = self._executor.submit(transcoder.transcode, frame)
        future.add_done_callback(lambda done: self._done(done, size, deliver))

    def _done(self, future: Future[list[Frame]], size: int, deliver: Deliver) -> None:
        # On the worker thread: only hand over to the loop from here.
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.error("transcoding failed", exc_info=error)
            frames: list[Frame] = []
        else:
            frames = future.result()
        with contextlib.suppress(RuntimeError):  # the loop is closed: the session is over
            self._loop.call_soon_threadsafe(self._deliver, frames, size, deliver)

    def _deliver(self, frames: list[Frame], size: int, deliver: Deliver) -> None:
        self._pending -= 1
        if not self._closed:
            deliver(frames, size)

    def close(self) -> None:
        """Forget what is still queued; the worker thread ends once idle."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
