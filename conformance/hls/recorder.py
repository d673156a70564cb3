"""Observe a live HLS stream once, for the cases to judge many times.

:class:`HlsRecorder` reloads the media playlist far more often than a player would (a quarter
of the target duration, so the time a segment appeared is known closely), fetches every
segment once as it is listed and analyses it in a worker thread, fetches some removed
segments again while RFC 8216 §6.2.2 says they must still be available, and, when the
playlist offers blocking reloads, asks the LL-HLS questions of rfc8216bis §6.2.5.2 once each.
Every request is bounded in time and the whole observation in count and time.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import aiohttp

from conformance.hls.media import analyse_init, analyse_segment
from conformance.hls.multivariant import is_multivariant, parse_multivariant
from conformance.hls.recording import (
    BlockingProbe,
    Exchange,
    HlsRecording,
    InitRecord,
    Reload,
    RemovalProbe,
    SegmentRecord,
)
from conformance.session import TargetUnreachable
from wire.hls import MediaPlaylist, PlaylistError, parse

DEFAULT_TARGET_DURATIONS = 6
"""Observe this many target durations unless told otherwise..."""
MIN_TARGET_DURATIONS = 3
"""...and never fewer (the suite promises rules checked across at least three)."""
MAX_TARGET_DURATIONS_FOR_REMOVAL = 12
"""Without --duration, observe until a removal was seen, up to this many target durations."""
REQUEST_TIMEOUT = 10.0
MAX_REMOVAL_PROBES = 6
PROBE_MARGIN = 0.25
MAX_SEGMENT_BYTES = 256 * 1024 * 1024
FALLBACK_TARGET_DURATION = 2
BLOCKING_SLACK = 1.0
"""Seconds beyond rfc8216bis's three target durations before a blocked reload counts as
never answered."""

Status = Callable[[str], None]


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, refusing one larger than any segment should be."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > MAX_SEGMENT_BYTES:
            raise aiohttp.ClientPayloadError(f"body larger than {MAX_SEGMENT_BYTES} bytes")
    return bytes(body)


def _age(exchange: Exchange) -> float:
    """The response's Age in seconds (how long a cache held it), 0 without one."""
    value = (exchange.header("age") or "").strip()
    return float(value) if value.isdigit() else 0.0


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


class HlsRecorder:
    """``await HlsRecorder(url).record(duration)`` gives an :class:`HlsRecording`."""

    def __init__(
        self,
        url: str,
        *,
        duration: float | None = None,
        on_status: Status | None = None,
        analyse: bool = True,
    ) -> None:
        self.url = url
        self.duration = duration
        self.on_status = on_status
        self.analyse = analyse
        self.recording = HlsRecording(url)
        self._session: aiohttp.ClientSession | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hls-analysis")
        self._tasks: list[asyncio.Task[None]] = []
        self._segment_slots = asyncio.Semaphore(2)
        self._longest_listing: dict[str, float] = {}

    async def record(self) -> HlsRecording:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            try:
                await self._observe()
            finally:
                for task in self._tasks:
                    if not task.done():
                        task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._executor.shutdown(wait=True, cancel_futures=True)
        return self.recording

    async def get(self, url: str, *, timeout: float = REQUEST_TIMEOUT) -> Exchange:
        """One GET, never raising: failures are recorded in the exchange."""
        assert self._session is not None
        exchange = Exchange(url, time.monotonic())
        try:
            async with self._session.get(
                url, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                exchange.status = response.status
                exchange.headers = {k.lower(): v for k, v in response.headers.items()}
                exchange.final_url = str(response.url)
                exchange.body = await _read_bounded(response)
        except TimeoutError:
            exchange.error = f"no answer within {timeout:g} s"
        except aiohttp.ClientError as exc:
            exchange.error = str(exc) or type(exc).__name__
        exchange.arrived_at = time.monotonic()
        exchange.wall = time.time()
        return exchange

    async def _first(self) -> Exchange:
        first = await self.get(self.url)
        if first.error:
            raise TargetUnreachable(f"{self.url}: {first.error}")
        if first.status != 200:
            raise TargetUnreachable(f"{self.url}: HTTP {first.status}")
        # A playlist's text is the cases' to judge, but a page that is no playlist at all
        # cannot be observed.
        if b"#EXT" not in first.body[:4096]:
            raise TargetUnreachable(f"{self.url}: the answer is not an HLS playlist")
        recording = self.recording
        if is_multivariant(first.body):
            recording.multivariant_exchange = first
            try:
                multivariant = parse_multivariant(first.body, first.final_url or self.url)
            except PlaylistError as exc:
                raise TargetUnreachable(f"{self.url}: multivariant playlist: {exc}") from None
            recording.multivariant = multivariant
            if not multivariant.variants:
                raise TargetUnreachable(f"{self.url}: a multivariant playlist without variants")
            recording.media_url = multivariant.variants[0].uri
            recording.notes.append(
                f"multivariant playlist with {len(multivariant.variants)} variant(s); "
                f"following the first, {recording.media_url}"
            )
            media = await self.get(recording.media_url)
            if media.status != 200:
                raise TargetUnreachable(f"{recording.media_url}: {media.outcome()}")
            return media
        recording.media_url = self.url
        return first

    def _status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    async def _observe(self) -> None:
        recording = self.recording
        recording.started_at = time.monotonic()
        exchange = await self._first()
        first = self._add_reload(exchange)
        target = (
            first.playlist.target_duration
            if first.playlist is not None and first.playlist.target_duration > 0
            else FALLBACK_TARGET_DURATION
        )
        minimum = MIN_TARGET_DURATIONS * target
        if self.duration is not None and self.duration < minimum:
            recording.notes.append(
                f"--duration {self.duration:g} s is under {MIN_TARGET_DURATIONS} target "
                f"durations; observed {minimum} s"
            )
        asked = self.duration if self.duration is not None else DEFAULT_TARGET_DURATIONS * target
        duration = max(asked, minimum)
        recording.duration_asked = duration
        until_removal = self.duration is None
        cap = recording.started_at + max(duration, MAX_TARGET_DURATIONS_FOR_REMOVAL * target)
        deadline = recording.started_at + duration
        interval = min(1.0, max(0.1, target / 4))
        control = first.playlist.server_control if first.playlist is not None else None
        if first.playlist is not None and control is not None and control.can_block_reload:
            self._tasks.append(asyncio.create_task(self._blocking_probes(first.playlist)))
        ended = False
        while True:
            now = time.monotonic()
            if ended:
                break
            removed = any(s.removed_reload is not None for s in recording.segments.values())
            if now >= deadline and (not until_removal or removed or now >= cap):
                break
            await asyncio.sleep(interval)
            reload = self._add_reload(await self.get(recording.media_url))
            ended = reload.playlist is not None and reload.playlist.endlist
            self._status(
                f"observing {time.monotonic() - recording.started_at:4.1f}/{duration:g} s: "
                f"{len(recording.reloads)} reloads, {len(recording.segments)} segments"
            )
            if ended:
                # One more reload: ENDLIST must stay (RFC 8216 §6.2.1).
                await asyncio.sleep(interval)
                self._add_reload(await self.get(recording.media_url))
        self._status("waiting for segment fetches and removal probes")
        await asyncio.gather(*self._tasks, return_exceptions=True)
        recording.ended_at = time.monotonic()

    def _add_reload(self, exchange: Exchange) -> Reload:
        recording = self.recording
        reload = Reload(len(recording.reloads), exchange)
        recording.reloads.append(reload)
        if exchange.status != 200:
            return reload
        try:
            reload.playlist = parse(exchange.body)
        except PlaylistError as exc:
            reload.parse_error = str(exc)
            return reload
        self._track_segments(reload, reload.playlist)
        return reload

    def _track_segments(self, reload: Reload, playlist: MediaPlaylist) -> None:
        recording = self.recording
        base = reload.exchange.final_url or recording.media_url
        listed: set[str] = set()
        numbered = zip(playlist.numbered(), playlist.discontinuity_numbers(), strict=True)
        for (sequence, segment), (_, discontinuity_number) in numbered:
            uri = urljoin(base, segment.uri)
            listed.add(uri)
            self._longest_listing[uri] = max(self._longest_listing.get(uri, 0.0), playlist.duration)
            record = recording.segments.get(uri)
            if record is None:
                init = segment.init_section
                record = SegmentRecord(
                    uri=uri,
                    sequence=sequence,
                    extinf=segment.duration,
                    discontinuity_number=discontinuity_number,
                    discontinuity=segment.discontinuity,
                    first_reload=reload.index,
                    listed_at=reload.exchange.arrived_at,
                    listed_wall=reload.exchange.wall,
                    init_uri=urljoin(base, init.uri) if init is not None else None,
                )
                recording.segments[uri] = record
                self._tasks.append(asyncio.create_task(self._fetch_segment(record)))
            record.last_listed_reload = reload.index
        # Segments listed before and gone now: removed (from the front, if the server is right).
        for record in recording.segments.values():
            if record.uri in listed or record.removed_reload is not None:
                continue
            if (
                record.last_listed_reload == reload.index - 1
                or record.last_listed_reload < reload.index
            ):
                record.removed_reload = reload.index
                self._schedule_removal_probe(record, reload)

    def _schedule_removal_probe(self, record: SegmentRecord, reload: Reload) -> None:
        recording = self.recording
        if len(recording.removal_probes) >= MAX_REMOVAL_PROBES:
            return
        previous = recording.reloads[record.last_listed_reload]
        # The segment left the playlist after the last reload that listed it was made: at
        # that reload's request, less its Age when a cache served it (RFC 9111 §5.1). Probing
        # at that time plus the required availability, less a margin, is within the period
        # whatever the server's exact removal time.
        required = record.extinf + self._longest_listing.get(record.uri, 0.0)
        probe = RemovalProbe(
            uri=record.uri,
            sequence=record.sequence,
            removed_reload=reload.index,
            required=required,
            elapsed_bound=0.0,
        )
        recording.removal_probes.append(probe)
        listed_at = previous.exchange.requested_at - _age(previous.exchange)
        at = listed_at + required - PROBE_MARGIN
        self._tasks.append(asyncio.create_task(self._probe_removed(probe, record, at, listed_at)))

    async def _probe_removed(
        self, probe: RemovalProbe, record: SegmentRecord, at: float, listed_at: float
    ) -> None:
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        probe.exchange = await self.get(probe.uri)
        probe.elapsed_bound = probe.exchange.requested_at - listed_at
        if probe.exchange.ok and record.sha256:
            probe.same_bytes = hashlib.sha256(probe.exchange.body).hexdigest() == record.sha256
        probe.exchange.body = b""

    async def _init(self, uri: str) -> InitRecord:
        record = self.recording.inits.get(uri)
        if record is None:
            record = InitRecord(uri, Exchange(uri, time.monotonic()))
            self.recording.inits[uri] = record
            record.exchange = await self.get(uri)
            if record.exchange.ok:
                record.info = analyse_init(record.exchange.body)
        return record

    async def _fetch_segment(self, record: SegmentRecord) -> None:
        async with self._segment_slots:
            init = await self._init(record.init_uri) if record.init_uri else None
            exchange = await self.get(record.uri)
        record.status = exchange.status
        record.error = exchange.error
        record.headers = exchange.headers
        record.size = len(exchange.body)
        if not exchange.ok:
            return
        record.sha256 = hashlib.sha256(exchange.body).hexdigest()
        if self.analyse:
            loop = asyncio.get_running_loop()
            init_bytes = init.exchange.body if init is not None and init.exchange.ok else b""
            record.media = await loop.run_in_executor(
                self._executor,
                analyse_segment,
                exchange.body,
                init.info if init is not None else None,
                init_bytes,
            )

    async def _blocking_probes(self, playlist: MediaPlaylist) -> None:
        """rfc8216bis §6.2.5.2: a request for the next segment blocks until it exists; one
        with _HLS_part but no _HLS_msn, or an _HLS_msn more than two past the last segment,
        is answered 400 at once."""
        url = self.recording.media_url
        target = playlist.target_duration
        wait = 3 * target + BLOCKING_SLACK
        next_msn = playlist.next_media_sequence
        probes = [
            BlockingProbe(
                "next-segment",
                with_query(url, f"_HLS_msn={next_msn}"),
                "200 once the segment exists",
                expected_sequence=next_msn,
            ),
            BlockingProbe("part-without-msn", with_query(url, "_HLS_part=0"), "400 at once"),
            BlockingProbe(
                "msn-too-far", with_query(url, f"_HLS_msn={next_msn + 10}"), "400 at once"
            ),
        ]
        self.recording.blocking_probes.extend(probes)
        for probe in probes:
            probe.exchange = await self.get(probe.url, timeout=wait)
            probe.waited = probe.exchange.arrived_at - probe.exchange.requested_at
            if probe.expected_sequence is not None and probe.exchange.ok:
                try:
                    answered = parse(probe.exchange.body)
                except PlaylistError:
                    probe.delivered = False
                else:
                    probe.delivered = answered.next_media_sequence > probe.expected_sequence
            probe.exchange.body = probe.exchange.body[:2000]
