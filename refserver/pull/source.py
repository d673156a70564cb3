"""A pulled camera as a stream publisher: connect, play, and reconnect for as long as we run.

Each successful PLAY publishes the stream anew, exactly as an RTMP republish does: the registry
is claimed, the first frames configure the packager, and the HLS playlist continues after an
``EXT-X-DISCONTINUITY``. Between attempts the source waits a capped exponential backoff with
jitter, so a fleet of pulled cameras does not hammer a recovering network all at once.

An on-demand source (MediaMTX's ``sourceOnDemand``) is ``idle`` until a viewer asks for its
stream. That request starts it and waits until the start has written its first segment, for at
most ``start_timeout`` seconds; a start that misses the deadline is abandoned and the source is
idle again. Once the stream plays, every HTTP request for it counts as a viewer, and after
``close_after`` seconds without one the camera gets a TEARDOWN and the source goes back to idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum

from refserver.config import PullTransport, SourceConfig
from refserver.hls import Frame, FrameKind
from refserver.hls.media import CLOCK_RATE
from refserver.pull.plan import Endpoint, Passed, PullPlan
from refserver.pull.session import (
    CameraAddress,
    PullError,
    RtspPullSession,
    SessionTimeouts,
)
from refserver.pull.tracks import Presentation, Track
from refserver.streams import (
    LiveStream,
    PublisherInfo,
    SourceUnavailable,
    StreamBusy,
    StreamRegistry,
)
from wire.backoff import Backoff as Backoff  # the shared one, re-exported by refserver.pull
from wire.codec import CodecError
from wire.fmp4 import Fmp4Error

logger = logging.getLogger("refserver.pull")

PROTOCOL = "rtsp"
SESSION_GAP = CLOCK_RATE
"""Ticks left between the end of one session's media and the start of the next."""
TIMELINE_START = 10 * CLOCK_RATE
"""Where the first session's media starts: room for the decode times of reordered video, which
come before the presentation times (16 pictures deep at 1.6 fps and up)."""
SHUTTING_DOWN = "the server is shutting down"
MAX_WARNINGS = 20
"""Warnings kept for the API per session; a camera that sends more is not worth more."""
MAX_LOGGED = 200
"""Distinct warnings logged per source; each is logged once."""
_publisher_ids = itertools.count(1)


class SourceState(StrEnum):
    IDLE = "idle"
    """On demand, and no viewer has asked for the stream lately."""
    CONNECTING = "connecting"
    PLAYING = "playing"
    RETRYING = "retrying"
    STOPPED = "stopped"


@dataclass(slots=True)
class DemandedStart:
    """One start of an on-demand source: viewers wait for ``settled``; then ``refusal`` is
    ``None`` when the stream has its first segment, or says why it has none."""

    segments_before: int
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    refusal: str | None = None

    def settle(self, refusal: str | None = None) -> None:
        if not self.settled.is_set():
            self.refusal = refusal
            self.settled.set()


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
        self.timeouts = timeouts or SessionTimeouts(media=config.media_timeout)
        self.address = _address(config)
        self.plan = PullPlan(
            config.transport,
            secure=self.address.secure,
            probe=self.timeouts.udp_switch,
            backoff=self.backoff,
            alternative_ports=config.alternative_ports,
            tunnel_port=config.tunnel_port,
        )
        """The endpoints and transports each session tries, and the backoff between sessions."""
        self.state = SourceState.IDLE if config.on_demand else SourceState.CONNECTING
        self.last_error: str | None = None
        self.since = time.time()
        self.attempts = 0
        self.retry_at: float | None = None
        self._session: RtspPullSession | None = None
        self.transport_in_use: PullTransport | None = None
        """What the last session that played settled on: ``tcp``, ``udp`` or ``http``."""
        self.endpoint_in_use: Endpoint | None = None
        """Where the last session that played connected: the URL's port, an alternative port
        or the HTTP tunnel's."""
        self.unreached: tuple[Passed, ...] = ()
        """The endpoints that session passed over before it played, each with why."""
        self._task: asyncio.Task[None] | None = None
        self._stream: LiveStream | None = None
        self._publisher: PublisherInfo | None = None
        self._timeline = TIMELINE_START  # where the next session's frames start (90 kHz ticks)
        self._configured = False
        self._start: DemandedStart | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._last_demand = 0.0  # loop time of the latest request for the stream
        self._switching = asyncio.Lock()  # a new start waits for the last one's TEARDOWN
        self._closing = False
        self.warnings: list[str] = []
        """What the camera's latest session sent that was read by bending a rule."""
        self.tracks_left_out: tuple[str, ...] = ()
        """The media of the latest session that is not packaged, each with the reason."""
        self._logged: set[str] = set()

    @property
    def name(self) -> str:
        return self.config.name

    def start(self) -> None:
        """Register the stream; an always-on source connects now, an on-demand one waits."""
        stream = self.registry.prepare(self.name)
        stream.source = self
        if not self.config.on_demand:
            self._launch()

    async def stop(self) -> None:
        """TEARDOWN and stop reconnecting; the stream's open segment is closed."""
        self._closing = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if self._start is not None:
            self._start.settle(SHUTTING_DOWN)
        await self._halt(SourceState.STOPPED)

    async def demand(self) -> None:
        """A viewer asked for the stream (see :class:`~refserver.streams.StreamSource`)."""
        if not self.config.on_demand:
            return
        self._last_demand = asyncio.get_running_loop().time()
        async with self._switching:
            if self._closing:
                raise SourceUnavailable(SHUTTING_DOWN)
            start = self._start or self._begin()
        await start.settled.wait()
        if start.refusal is not None:
            raise SourceUnavailable(start.refusal)

    def describe(self) -> dict[str, object]:
        """What ``/api/streams`` shows of this source, under ``"source"``."""
        return {
            "url": self.address.url,
            "transport": self.config.transport,
            "transport_in_use": self.transport_in_use,
            "alternative_ports": list(self.config.alternative_ports),
            "tunnel_port": self.config.tunnel_port,
            "endpoint_in_use": (
                self._endpoint(self.endpoint_in_use) if self.endpoint_in_use is not None else None
            ),
            "unreached": [
                {**self._endpoint(p.endpoint), "reason": p.reason} for p in self.unreached
            ],
            "on_demand": self.config.on_demand,
            "state": self.state.value,
            "since": self.since,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "retry_at": self.retry_at,
            "warnings": list(self.warnings),
            "tracks_left_out": list(self.tracks_left_out),
        }

    # -- starting and stopping --------------------------------------------------------------------

    def _launch(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"pull {self.name}")

    def _begin(self) -> DemandedStart:
        """Start an idle on-demand source and watch it until it is closed again."""
        start = DemandedStart(_segments_written(self.registry.get(self.name)))
        self._start = start
        self.last_error = None
        logger.info("pull demanded", extra={"stream": self.name})
        self._launch()
        self._watcher = asyncio.create_task(self._watch(start), name=f"watch {self.name}")
        return start

    async def _watch(self, start: DemandedStart) -> None:
        """Abandon a start that misses its deadline; close the source once nobody asks."""
        config = self.config
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(start.settled.wait(), config.start_timeout)
        if not start.settled.is_set():
            reason = f"stream {self.name!r} did not start within {config.start_timeout:g} s"
            if self.last_error is not None:
                reason += f": {self.last_error}"
            start.settle(reason)
            logger.warning("pull start timed out", extra={"stream": self.name, "reason": reason})
        if start.refusal is None:
            loop = asyncio.get_running_loop()
            self._last_demand = loop.time()  # the viewers held until now were just served
            while (unwatched := loop.time() - self._last_demand) < config.close_after:
                await asyncio.sleep(config.close_after - unwatched)
            logger.info("pull closed", extra={"stream": self.name, "reason": "no viewer"})
        self._watcher = None
        await self._halt(SourceState.IDLE)

    async def _halt(self, state: SourceState) -> None:
        """End the session with a TEARDOWN (waiting a little for its answer); ``state`` next."""
        async with self._switching:
            task, self._task = self._task, None
            self._start = None
            if task is not None:
                if self._session is not None:
                    self._session.stop()
                    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(asyncio.shield(task), self.timeouts.request + 1)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._unpublish()
            self.retry_at = None
            self._set_state(state)

    # -- the reconnect loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.attempts += 1
            self.retry_at = None
            self.warnings = []
            self._set_state(SourceState.CONNECTING)
            self._session = RtspPullSession(
                self.address,
                self,
                timeouts=self.timeouts,
                base=lambda: self._timeline,
                transport=self.config.transport,
                tls_verify=self.config.tls_verify,
                transcode_audio=self.config.transcode_audio,
                plan=self.plan,
            )
            try:
                await self._session.run()
                return
            except PullError as exc:
                self._failed(str(exc))
            finally:
                self._session = None
                self._unpublish()
            loop = asyncio.get_running_loop()
            delay = self.plan.failed(loop.time())
            self.retry_at = time.time() + delay
            self._set_state(SourceState.RETRYING)
            await _until(loop, self.plan)

    def _failed(self, reason: str) -> None:
        self.last_error = reason
        logger.warning("pull failed", extra={"stream": self.name, "reason": reason})

    def _set_state(self, state: SourceState) -> None:
        if state is not self.state:
            self.state = state
            self.since = time.time()

    # -- PullSink ----------------------------------------------------------------------------------

    def started(self, presentation: Presentation, peer: str) -> None:
        publisher = PublisherInfo(peer, PROTOCOL, time.time(), next(_publisher_ids))
        try:
            stream = self.registry.claim(self.name, publisher)
        except StreamBusy:
            raise PullError("the stream name is being published by someone else") from None
        stream.source = self
        self._stream, self._publisher = stream, publisher
        self._configured = False
        self.plan.played()
        if self._session is not None:
            self.transport_in_use = self._session.transport_in_use
            self._endpoint_played(self._session.endpoint_in_use)
        self._set_state(SourceState.PLAYING)
        self.tracks_left_out = presentation.left_out
        logger.info(
            "pull started",
            extra={
                "stream": self.name,
                "peer": peer,
                "transport": self.transport_in_use,
                "left_out": list(presentation.left_out),
            },
        )
        for reason in presentation.left_out:
            self._log_once("track left out", reason)

    def _endpoint_played(self, endpoint: Endpoint | None) -> None:
        """A session plays on ``endpoint``: noted for the API, and logged when it is not the
        one the last session played on (once per change, not per reconnect)."""
        before, self.endpoint_in_use = self.endpoint_in_use, endpoint
        self.unreached = tuple(self.plan.passed)
        if endpoint is None or endpoint == before or (before is None and not self.unreached):
            return
        port = self.address.port
        logger.warning(
            "pull endpoint changed",
            extra={
                "stream": self.name,
                "endpoint": endpoint.describe(port),
                "was": before.describe(port) if before is not None else None,
                "reason": "; ".join(
                    f"{p.endpoint.describe(port)}: {p.reason}" for p in self.unreached
                ),
            },
        )

    def _endpoint(self, endpoint: Endpoint) -> dict[str, object]:
        """An endpoint as the API shows it: its port and whether it is the HTTP tunnel's."""
        port = endpoint.port if endpoint.port is not None else self.address.port
        return {"port": port, "tunnel": endpoint.tunnel}

    def warning(self, message: str) -> None:
        """The camera sent something read only by bending a rule: shown by the API for the
        current session, logged once."""
        if message not in self.warnings and len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        self._log_once("camera quirk", message)

    def _log_once(self, event: str, message: str) -> None:
        if message in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(message)
        logger.warning(event, extra={"stream": self.name, "reason": message})

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
            try:
                stream.configure(video, audio)
            except (CodecError, Fmp4Error) as exc:
                # Parameter sets that parse but that the segment format cannot describe: no
                # HLS from them, said in the API; new parameter sets are tried again.
                self.warning(f"the camera's parameter sets cannot be packaged: {exc}")
                return
            self._configured = True
        self._timeline = max(self._timeline, frame.pts + SESSION_GAP)
        stream.push(frame, size)
        start = self._start
        if start is not None and _segments_written(stream) > start.segments_before:
            start.settle()

    def _unpublish(self) -> None:
        stream, publisher = self._stream, self._publisher
        self._stream = self._publisher = None
        if stream is not None and publisher is not None:
            self.registry.release(stream, publisher)


async def _until(loop: asyncio.AbstractEventLoop, plan: PullPlan) -> None:
    """Wait for the plan's timer (the backoff before the next session) to come due."""
    while (due := plan.get_timer()) is not None:
        woken: asyncio.Future[None] = loop.create_future()
        handle = loop.call_at(due, functools.partial(_wake, woken))
        try:
            await woken
        finally:
            handle.cancel()
        if plan.handle_timer(loop.time()):
            return


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _address(config: SourceConfig) -> CameraAddress:
    """Where to connect, with the credentials of the URL or of the settings."""
    address = CameraAddress.parse(config.url)
    if config.username is None:
        return address
    return replace(address, username=config.username, password=config.password or "")


def _segments_written(stream: LiveStream | None) -> int:
    segmenter = stream.segmenter if stream is not None else None
    return segmenter.stats.segments_written if segmenter is not None else 0
