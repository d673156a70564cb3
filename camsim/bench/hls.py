"""Per-frame latency read from the server's HLS: stamp → segment available.

``--hls 'http://host:port/live/{name}/index.m3u8'`` makes the bench follow every stream's media
playlist during a streaming window, fetch each segment once when it is first listed and read
the send wallclock camsim stamped into every frame's SEI (the segment analysis of
:mod:`conformance.hls.media`). A frame's latency is the wallclock at which the playlist that
first listed its segment arrived, less the frame's stamp: the time from sending the frame to
its segment being available to a player. It therefore includes the segment's duration (a
frame waits in the open segment until the server cuts it, at the next keyframe past the target
duration) and up to one reload interval; it is an upper bound on the ingest latency, not a
player's glass-to-glass figure.

Segments already listed by the first playlist a follower reads are left out: when they became
available is unknown. The followers run on their own thread and event loop so that their CPU
is never counted as the encoder's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp

from conformance.hls.media import InitInfo, analyse_init, analyse_segment
from wire.hls import PlaylistError, parse

RELOAD_INTERVAL = 0.25
"""Seconds between playlist reloads: well under any target duration, so a segment's first
listing is known to within this."""
REQUEST_TIMEOUT = 5.0
MAX_BODY = 64 * 1024 * 1024
"""Bytes a playlist or segment may have; a larger answer ends that follower."""
NAME = "{name}"


def hls_url(template: str, name: str) -> str:
    """``template`` with ``{name}`` replaced by the stream's name (its query string dropped)."""
    return template.replace(NAME, name.split("?", 1)[0])


@dataclass
class HlsFollower:
    """What one stream's playlist showed: per stamped frame, its stamp and when its segment
    was first listed (both µs since the epoch)."""

    url: str
    frames: list[tuple[int, int]] = field(default_factory=list)
    """``(stamp_us, listed_us)`` per stamped video frame of a segment first listed while
    followed."""
    segments: int = 0
    """Segments first listed while followed and fetched."""
    skipped: int = 0
    """Segments already listed by the first playlist read (their availability time unknown)."""
    target_duration: int | None = None
    ended: bool = False
    """The playlist carried ``EXT-X-ENDLIST``."""
    error: str = ""
    """The last failed request, for the notes."""

    def latencies_ms(self, since_us: int, until_us: int) -> list[float]:
        """Latencies of the frames stamped in ``[since_us, until_us)``, in ms."""
        return [
            (listed - stamp) / 1000 for stamp, listed in self.frames if since_us <= stamp < until_us
        ]

    def newest_stamp_us(self) -> int | None:
        return max((stamp for stamp, _ in self.frames), default=None)


async def _get(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as response:
        if response.status != 200:
            raise aiohttp.ClientResponseError(
                response.request_info, (), status=response.status, message=response.reason or ""
            )
        body = bytearray()
        async for chunk in response.content.iter_chunked(65536):
            body += chunk
            if len(body) > MAX_BODY:
                raise aiohttp.ClientPayloadError(f"{url}: larger than {MAX_BODY} bytes")
        return bytes(body)


async def follow(follower: HlsFollower, stop: asyncio.Event) -> HlsFollower:
    """Reload ``follower.url`` every :data:`RELOAD_INTERVAL` until ``stop`` is set or the
    playlist ends, fetching and reading every segment first listed after the first reload."""
    seen: set[str] | None = None  # None until the first reload has been made
    inits: dict[str, tuple[InitInfo, bytes]] = {}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set() and not follower.ended:
            try:
                body = await _get(session, follower.url)
                listed_us = time.time_ns() // 1000
                playlist = parse(body)
            except (aiohttp.ClientError, TimeoutError, PlaylistError) as exc:
                # Not there yet (404 before the first segment) or a passing fault: try again.
                follower.error = f"{follower.url}: {exc or type(exc).__name__}"
                seen = set() if seen is None else seen
                await _pause(stop)
                continue
            follower.target_duration = playlist.target_duration
            follower.ended = playlist.endlist
            fresh = [
                s for s in playlist.segments if urljoin(follower.url, s.uri) not in (seen or set())
            ]
            if seen is None:
                seen = {urljoin(follower.url, s.uri) for s in playlist.segments}
                follower.skipped += len(seen)
                fresh = []
            for segment in fresh:
                uri = urljoin(follower.url, segment.uri)
                seen.add(uri)
                try:
                    init = None
                    if segment.init_section is not None:
                        init_uri = urljoin(follower.url, segment.init_section.uri)
                        if init_uri not in inits:
                            data = await _get(session, init_uri)
                            inits[init_uri] = (analyse_init(data), data)
                        init = inits[init_uri]
                    data = await _get(session, uri)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    follower.error = f"{uri}: {exc or type(exc).__name__}"
                    continue
                media = await asyncio.to_thread(
                    analyse_segment, data, *((init[0], init[1]) if init else ())
                )
                follower.segments += 1
                follower.frames += [
                    (s.wallclock_us, listed_us) for s in media.stamps if s.wallclock_us
                ]
            await _pause(stop)
    return follower


async def _pause(stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), RELOAD_INTERVAL)


class HlsThread:
    """Followers on their own thread and event loop: :meth:`start` them, :meth:`stop` them
    once every one has read past a time (or a deadline), collect them."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self.followers: list[HlsFollower] = []
        self._running: list[Future[HlsFollower]] = []

    def start(self, urls: Sequence[str]) -> None:
        """Follow each media playlist of ``urls``."""

        async def make_event() -> asyncio.Event:
            return asyncio.Event()

        self._stop = asyncio.run_coroutine_threadsafe(make_event(), self._loop).result()
        self.followers = [HlsFollower(url) for url in urls]
        self._running = [
            asyncio.run_coroutine_threadsafe(follow(f, self._stop), self._loop)
            for f in self.followers
        ]

    async def stop(self, until_us: int, slack: float) -> list[HlsFollower]:
        """Wait until every follower has read a frame stamped at or after ``until_us`` (or its
        playlist ended), at most ``slack`` seconds plus two target durations, then stop."""
        target = max((f.target_duration or 2 for f in self.followers), default=2)
        deadline = time.monotonic() + slack + 2 * target
        while time.monotonic() < deadline and not all(
            f.ended or (f.newest_stamp_us() or 0) >= until_us for f in self.followers
        ):
            await asyncio.sleep(RELOAD_INTERVAL)
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        for future in self._running:
            try:
                await asyncio.wait_for(asyncio.wrap_future(future), REQUEST_TIMEOUT + 1)
            except (OSError, TimeoutError, aiohttp.ClientError) as exc:
                self.followers[self._running.index(future)].error = str(exc) or type(exc).__name__
        self._running = []
        return self.followers

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
