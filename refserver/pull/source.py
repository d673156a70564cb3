"""A pulled camera as a stream publisher: connect, play, and reconnect for as long as we run.

Each successful PLAY publishes the stream anew, exactly as an RTMP republish does: the registry
is claimed, the first frames configure the packager, and the HLS playlist continues after an
``EXT-X-DISCONTINUITY``. Between attempts the source waits a capped exponential backoff with
jitter, so a fleet of pulled cameras does not hammer a recovering network all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from refserver.config import SourceConfig
from refserver.hls import Frame, FrameKind
from refserver.hls.media import CLOCK_RATE
from refserver.pull.session import (
    CameraAddress,
    PullError,
    RtspPullSession,
    SessionTimeouts,
)
from refserver.pull.tracks import Presentation, Track
from refserver.streams import LiveStream, Publisher, StreamBusy, StreamRegistry

logger = logging.getLogger("refserver.pull")

PROTOCOL = "rtsp"
SESSION_GAP = CLOCK_RATE
"""Ticks left between the end of one session's media and the start of the next."""
_publisher_ids = itertools.count(1)


class SourceState(StrEnum):
    CONNECTING = "connecting"
    PLAYING = "playing"
    RETRYING = "retrying"
    STOPPED = "stopped"


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with full jitter in its upper half."""

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    random: Callable[[], float] = random.random
    attempt: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one failure."""
        ceiling = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return ceiling / 2 + self.random() * ceiling / 2

    def reset(self) -> None:
        """An attempt succeeded: the next failure waits ``initial`` again."""
        self.attempt = 0


class PullSource:
    """One ``[[source]]``: keeps its camera's stream live in ``registry``."""

    def __init__(
        self,
        config: SourceConfig,
        registry: StreamRegistry,
        *,
        backoff: Backoff | None = None,
        timeouts: SessionTimeouts | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.backoff = backoff or Backoff()
        self.timeouts = timeouts or SessionTimeouts()
        self.address = CameraAddress.parse(config.url)
        self.state = SourceState.CONNECTING
        self.last_error: str | None = None
        self.since = time.time()
        self.attempts = 0
        self.retry_at: float | None = None
        self._session: RtspPullSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._stream: LiveStream | None = None
        self._publisher: Publisher | None = None
        self._timeline = 0  # where the next session's frames start (90 kHz ticks)
        self._configured = False

    @property
    def name(self) -> str:
        return self.config.name

    def start(self) -> None:
        stream = self.registry.prepare(self.name)
        stream.source = self
        self._task = asyncio.create_task(self._run(), name=f"pull {self.name}")

    async def stop(self) -> None:
        """TEARDOWN and stop reconnecting; the stream's open segment is closed."""
        task, self._task = self._task, None
        if task is None:
            return
        if self._session is not None:
            self._session.stop()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), self.timeouts.request + 1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._unpublish()
        self._set_state(SourceState.STOPPED)

    def describe(self) -> dict[str, object]:
        """What ``/api/streams`` shows of this source, under ``"source"``."""
        return {
            "url": self.address.url,
            "transport": self.config.transport,
            "state": self.state.value,
            "since": self.since,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "retry_at": self.retry_at,
        }

    # -- the reconnect loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.attempts += 1
            self.retry_at = None
            self._set_state(SourceState.CONNECTING)
            self._session = RtspPullSession(
                self.address,
                self,
                timeouts=self.timeouts,
                base=lambda: self._timeline,
                transport=self.config.transport,
            )
            try:
                await self._session.run()
                return
            except PullError as exc:
                self._failed(str(exc))
            finally:
                self._session = None
                self._unpublish()
            delay = self.backoff.next_delay()
            self.retry_at = time.time() + delay
            self._set_state(SourceState.RETRYING)
            await asyncio.sleep(delay)

    def _failed(self, reason: str) -> None:
        self.last_error = reason
        logger.warning("pull failed", extra={"stream": self.name, "reason": reason})

    def _set_state(self, state: SourceState) -> None:
        if state is not self.state:
            self.state = state
            self.since = time.time()

    # -- MediaSink --------------------------------------------------------------------------------

    def started(self, presentation: Presentation, peer: str) -> None:
        publisher = Publisher(peer, PROTOCOL, time.time(), next(_publisher_ids))
        try:
            stream = self.registry.claim(self.name, publisher)
        except StreamBusy:
            raise PullError("the stream name is being published by someone else") from None
        stream.source = self
        self._stream, self._publisher = stream, publisher
        self._configured = False
        self.backoff.reset()
        self._set_state(SourceState.PLAYING)
        logger.info(
            "pull started",
            extra={"stream": self.name, "peer": peer, "skipped": list(presentation.skipped)},
        )

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        stream = self._stream
        presentation = self._session.presentation if self._session is not None else None
        if stream is None or presentation is None:
            return
        changed = frame.kind is FrameKind.VIDEO and any(t.changed for t in presentation.tracks)
        if changed or not self._configured:
            video = next((t.video for t in presentation.tracks if t.codec), None)
            audio = next((t.audio for t in presentation.tracks if t.audio), None)
            if video is None and any(t.codec for t in presentation.tracks):
                return  # audio waits for the video's parameter sets
            for t in presentation.tracks:
                t.changed = False
            stream.configure(video, audio)
            self._configured = True
        self._timeline = max(self._timeline, frame.pts + SESSION_GAP)
        stream.push(frame, size)

    def _unpublish(self) -> None:
        stream, publisher = self._stream, self._publisher
        self._stream = self._publisher = None
        if stream is not None and publisher is not None:
            self.registry.release(stream, publisher)
