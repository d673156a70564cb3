"""Follow the HLS an ingest makes of one stream: every reload, every segment's frames.

:class:`HlsFollower` reloads a media playlist (a multivariant one is followed to its first
variant) a few times per target duration, fetches each new segment once and reads its frames
(:mod:`conformance.rtmp.frames`) in a worker thread. It records when each segment was first
listed, by the wall clock, so that a frame's latency is that time less its stamp's. It stops
when told, or once a frame index it waits for has appeared, and every request and the whole
follow are bounded in time and count.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp

from conformance.hls.media import InitInfo
from conformance.hls.multivariant import is_multivariant, parse_multivariant
from conformance.rtmp.frames import SegmentFrames, init_info, segment_frames
from wire.hls import PlaylistError, parse

REQUEST_TIMEOUT = 10.0
MAX_BODY = 64 * 1024 * 1024
MAX_SEGMENTS = 2000
MIN_INTERVAL = 0.1
MAX_INTERVAL = 0.5


@dataclass
class PlaylistState:
    """One reload: what the playlist said, or how the request failed."""

    at: float
    status: int | None
    error: str = ""
    media_sequence: int | None = None
    discontinuity_sequence: int | None = None
    endlist: bool = False
    segments: int = 0
    target_duration: int | None = None


@dataclass
class FollowedSegment:
    uri: str
    sequence: int
    discontinuity: bool
    discontinuity_number: int
    extinf: float
    listed_at: float
    listed_wall: float
    reload: int
    content: SegmentFrames | None = None
    error: str = ""


@dataclass
class FollowedStream:
    """Everything seen of one stream's HLS."""

    url: str
    reloads: list[PlaylistState] = field(default_factory=list)
    segments: list[FollowedSegment] = field(default_factory=list)
    started_at: float = 0.0
    first_listed_at: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def target_duration(self) -> int | None:
        return next((r.target_duration for r in self.reloads if r.target_duration), None)

    def served(self) -> bool:
        return any(r.status == 200 and r.segments for r in self.reloads)

    def last_outcome(self) -> str:
        if not self.reloads:
            return "never requested"
        last = self.reloads[-1]
        return f"HTTP {last.status}" if last.status is not None else last.error


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int | None, bytes, str, str]:
    """``(status, body, final url, error)``; never raises."""
    try:
        async with session.get(url) as response:
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > MAX_BODY:
                    return response.status, b"", str(response.url), "body too large"
            return response.status, bytes(body), str(response.url), ""
    except TimeoutError:
        return None, b"", url, f"no answer within {REQUEST_TIMEOUT:g} s"
    except aiohttp.ClientError as exc:
        return None, b"", url, str(exc) or type(exc).__name__


class HlsFollower:
    """``await follower.run(stop)`` follows ``url`` until ``stop`` is set (then a last reload)."""

    def __init__(self, url: str, executor: Executor, *, max_duration: float = 300.0) -> None:
        self.url = url
        self.executor = executor
        self.max_duration = max_duration
        self.stream = FollowedStream(url)
        self.wanted_index: int | None = None
        """Stop early once a frame with this index (or a later one) has been read."""
        self.tail = 10.0
        self.min_tail = 0.0
        self._media_url = url
        self._known: dict[str, FollowedSegment] = {}
        self._inits: dict[str, InitInfo] = {}
        self._fetches: list[asyncio.Task[None]] = []
        self._highest_index = -1
        self.unreachable = ""
        """Set when the HTTP server refused every connection (nothing listens there)."""

    @property
    def highest_index(self) -> int:
        return self._highest_index

    async def run(self, stop: asyncio.Event) -> FollowedStream:
        """Follow until ``stop`` is set; then on for at most :attr:`tail` seconds while the
        frame :attr:`wanted_index` has not been read (the last frames pushed before an
        unpublish), and for at least :attr:`min_tail` seconds (to see what the playlist does
        once its stream has ended)."""
        stream = self.stream
        stream.started_at = time.monotonic()
        deadline = stream.started_at + self.max_duration
        stopped_at: float | None = None
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                while time.monotonic() < deadline:
                    await self._reload(session)
                    if stop.is_set():
                        stopped_at = stopped_at or time.monotonic()
                        await asyncio.gather(*self._fetches, return_exceptions=True)
                        waited = time.monotonic() - stopped_at
                        if (self._satisfied() and waited >= self.min_tail) or waited >= self.tail:
                            break
                        await asyncio.sleep(self._interval())
                        continue
                    try:
                        async with asyncio.timeout(self._interval()):
                            await stop.wait()
                    except TimeoutError:
                        pass
                await asyncio.gather(*self._fetches, return_exceptions=True)
            finally:
                for task in self._fetches:
                    task.cancel()
                await asyncio.gather(*self._fetches, return_exceptions=True)
        return stream

    def _satisfied(self) -> bool:
        return self.wanted_index is None or self._highest_index >= self.wanted_index

    def _interval(self) -> float:
        target = self.stream.target_duration or 2
        return min(MAX_INTERVAL, max(MIN_INTERVAL, target / 4))

    async def _reload(self, session: aiohttp.ClientSession) -> None:
        stream = self.stream
        status, body, final_url, error = await _get(session, self._media_url)
        state = PlaylistState(time.monotonic(), status, error)
        stream.reloads.append(state)
        if status is None and "Cannot connect" in error and not stream.served():
            self.unreachable = error
        if status != 200:
            return
        if is_multivariant(body):
            try:
                variants = parse_multivariant(body, final_url or self._media_url).variants
            except PlaylistError as exc:
                state.error = f"multivariant playlist: {exc}"
                return
            if variants:
                stream.notes.append(f"followed the first variant of {self.url}")
                self._media_url = variants[0].uri
            return
        try:
            playlist = parse(body)
        except PlaylistError as exc:
            state.error = f"playlist: {exc}"
            return
        state.media_sequence = playlist.media_sequence
        state.discontinuity_sequence = playlist.discontinuity_sequence
        state.endlist = playlist.endlist
        state.segments = len(playlist.segments)
        state.target_duration = playlist.target_duration
        base = final_url or self._media_url
        wall = time.time()
        numbered = zip(playlist.numbered(), playlist.discontinuity_numbers(), strict=True)
        for (sequence, segment), (_, discontinuity_number) in numbered:
            uri = urljoin(base, segment.uri)
            if uri in self._known or len(self._known) >= MAX_SEGMENTS:
                continue
            record = FollowedSegment(
                uri,
                sequence,
                segment.discontinuity,
                discontinuity_number,
                segment.duration,
                state.at,
                wall,
                len(stream.reloads) - 1,
            )
            self._known[uri] = record
            stream.segments.append(record)
            if stream.first_listed_at is None:
                stream.first_listed_at = state.at
            init = segment.init_section
            init_uri = urljoin(base, init.uri) if init is not None else None
            self._fetches.append(asyncio.create_task(self._fetch(session, record, init_uri)))

    async def _fetch(
        self, session: aiohttp.ClientSession, record: FollowedSegment, init_uri: str | None
    ) -> None:
        init = None
        if init_uri is not None:
            init = self._inits.get(init_uri)
            if init is None:
                status, body, _, error = await _get(session, init_uri)
                if status != 200:
                    record.error = f"init section {init_uri}: {error or f'HTTP {status}'}"
                    return
                init = self._inits[init_uri] = init_info(body)
        status, body, _, error = await _get(session, record.uri)
        if status != 200:
            record.error = error or f"HTTP {status}"
            return
        loop = asyncio.get_running_loop()
        record.content = await loop.run_in_executor(self.executor, segment_frames, body, init)
        indexes = [f.index for f in record.content.frames if f.index >= 0]
        if indexes:
            self._highest_index = max(self._highest_index, max(indexes))
