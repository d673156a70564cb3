"""A live HLS origin that breaks exactly one rule on demand: the target that proves every case
of the hls-output suite can fail.

Each path ``/<mutation>~<n>/`` is its own live stream, started by its first request: a window of
segments (refserver's own MPEG-TS or fMP4, made from the test sample) that gains one segment a
second, with dates, removals and HTTP headers as a correct server has them, except for the one
:class:`Breakage` the mutation names. ``/clean/`` (and ``clean-fmp4``, ``clean-mv``,
``clean-ll``) break nothing, and must pass every case.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.integration.conformance.mutant_media import (
    Segment,
    Source,
    corrupt_slice,
    drop_audio_tfdt,
    init_without_ftyp,
    null_packet_first,
    two_programs,
    write_segments,
)
from wire.codec.h264 import H264Sps

PREROLL = 6
"""Segments already there when a stream's first request arrives (a full window when it is
longer)."""
PART_TARGET = 0.334
PARTS_PER_SEGMENT = 3


@dataclass(frozen=True)
class Breakage:
    """What a mutant stream does differently from a correct server (the defaults)."""

    mode: str = "ts"  # ts, fmp4, mv (multivariant over ts), ll (LL-HLS over ts)
    window: int = 6
    version: int | None = None
    blank_line_first: bool = False
    bom: bool = False
    malformed_every: int = 0
    drop_target_duration_every: int = 0
    repeat_version: bool = False
    media_sequence_after_segment: bool = False
    merge_every: int = 0
    playlist_type: str | None = None
    rewind_every: int = 0
    skip_third_every: int = 0
    newest_extinf_delta: float = 0.0
    discontinuity_sequence_follows_media: bool = False
    target_duration_every: int = 0
    stall: tuple[float, float] | None = None
    endlist_flicker_after: float | None = None
    end_after: float | None = None  # the stream ends (EXT-X-ENDLIST, for good) after this
    delete_removed: bool = False
    playlist_503_every: int = 0
    segment_404_first_every: int = 0
    playlist_name: str = "index.m3u8"
    playlist_content_type: str = "application/vnd.apple.mpegurl"
    segment_content_type: str | None = None
    playlist_cache_control: str = "no-cache"
    segment_bytes: str = ""  # two-programs, null-first, corrupt, drop-audio-tfdt
    init_bytes: str = ""  # without-ftyp
    offset_frames: int = 0
    extinf_scale: float = 1.0
    jump_every: int = 0
    pdt: str = "ms"  # ms, seconds, none
    pdt_backwards_every: int = 0
    pdt_drift: float = 0.0
    bandwidth: str = "right"  # right, none, low
    codecs: str = "right"  # right, none, wrong
    part_inf: bool = True
    part_duration: float | None = None
    part_hold_back: float = 1.002
    hold_back: float | None = 3.0
    blocking: str = "right"  # right, ignore
    part_alone_status: int = 400
    msn_far_status: int = 400


@dataclass(frozen=True)
class Mutation:
    """A breakage and the cases it must fail: ``case`` and, where the rules nest (a date that
    goes back also differs from its EXTINF), the recommended ``also`` failing with it."""

    name: str
    case: str
    breakage: Breakage
    also: frozenset[str] = frozenset()
    target: str = "index.m3u8"

    @property
    def fails(self) -> frozenset[str]:
        return self.also | {self.case}


def _m(
    name: str, case: str, also: tuple[str, ...] = (), target: str = "", **changes: Any
) -> Mutation:
    breakage = Breakage(**changes)
    if not target:
        target = "master.m3u8" if breakage.mode == "mv" else breakage.playlist_name
    return Mutation(name, case, breakage, frozenset(also), target)


MUTATIONS: tuple[Mutation, ...] = (
    _m("blank-line-first", "HLS-PL-001", blank_line_first=True),
    _m("bom", "HLS-PL-002", bom=True),
    _m("malformed-extinf", "HLS-PL-003", malformed_every=3),
    _m("no-target-duration", "HLS-PL-004", drop_target_duration_every=3),
    _m("repeated-version", "HLS-PL-005", repeat_version=True),
    _m("media-sequence-late", "HLS-PL-006", media_sequence_after_segment=True),
    _m("version-too-low", "HLS-PL-007", version=2),
    _m("extinf-over-target", "HLS-PL-008", merge_every=4),
    _m("playlist-type-event", "HLS-PL-009", playlist_type="EVENT"),
    _m("four-segments", "HLS-PL-010", window=4),
    _m("sequence-rewinds", "HLS-RL-001", rewind_every=4),
    # Seven listed, so the response without its third segment still lists six (Apple's minimum).
    _m("removed-from-middle", "HLS-RL-002", skip_third_every=4, window=7),
    _m("newest-extinf-changes", "HLS-RL-003", newest_extinf_delta=0.02),
    _m("discontinuity-sequence-drifts", "HLS-RL-004", discontinuity_sequence_follows_media=True),
    _m("target-duration-flips", "HLS-RL-005", target_duration_every=4),
    _m("stall", "HLS-RL-006", stall=(1.2, 4.2)),
    _m("two-segment-window", "HLS-RL-007", ("HLS-PL-010",), window=2),
    _m("endlist-flickers", "HLS-RL-008", endlist_flicker_after=2.5),
    _m("removed-deleted", "HLS-RL-009", delete_removed=True),
    _m("playlist-503", "HLS-HTTP-001", playlist_503_every=4),
    _m("segment-404-once", "HLS-HTTP-002", segment_404_first_every=4),
    _m(
        "playlist-unidentifiable",
        "HLS-HTTP-003",
        ("HLS-HTTP-004",),
        playlist_name="live",
        playlist_content_type="text/plain",
    ),
    _m("playlist-x-mpegurl", "HLS-HTTP-004", playlist_content_type="application/x-mpegURL"),
    _m("segment-octet-stream", "HLS-HTTP-005", segment_content_type="application/octet-stream"),
    _m("playlist-cached", "HLS-HTTP-006", playlist_cache_control="public, max-age=10"),
    _m("two-programs", "HLS-SEG-001", segment_bytes="two-programs"),
    _m("null-packet-first", "HLS-SEG-002", segment_bytes="null-first"),
    _m("corrupt-slice", "HLS-SEG-003", segment_bytes="corrupt"),
    _m("cut-after-keyframe", "HLS-SEG-004", offset_frames=1),
    _m("extinf-short", "HLS-SEG-005", extinf_scale=0.8),
    _m("timestamp-jump", "HLS-SEG-006", jump_every=5),
    _m("init-without-ftyp", "HLS-SEG-007", mode="fmp4", init_bytes="without-ftyp"),
    _m("audio-without-tfdt", "HLS-SEG-008", mode="fmp4", segment_bytes="drop-audio-tfdt"),
    _m("no-program-date-time", "HLS-PDT-001", pdt="none"),
    _m("date-without-ms", "HLS-PDT-002", pdt="seconds"),
    _m("date-goes-back", "HLS-PDT-003", ("HLS-PDT-004",), pdt_backwards_every=5),
    _m("date-drifts", "HLS-PDT-004", pdt_drift=0.3),
    _m("no-bandwidth", "HLS-MV-001", mode="mv", bandwidth="none"),
    _m("low-bandwidth", "HLS-MV-002", mode="mv", bandwidth="low"),
    _m("wrong-codecs", "HLS-MV-003", mode="mv", codecs="wrong"),
    _m("no-codecs", "HLS-MV-004", mode="mv", codecs="none"),
    _m("parts-without-part-inf", "HLS-LL-001", mode="ll", part_inf=False),
    _m("part-too-long", "HLS-LL-002", mode="ll", part_duration=0.5),
    _m("part-hold-back-short", "HLS-LL-003", ("HLS-LL-004",), mode="ll", part_hold_back=0.5),
    _m("part-hold-back-under-apple", "HLS-LL-004", mode="ll", part_hold_back=0.8),
    _m("hold-back-short", "HLS-LL-005", mode="ll", hold_back=2.0),
    _m("blocking-ignored", "HLS-LL-006", mode="ll", blocking="ignore"),
    _m("part-alone-answered", "HLS-LL-007", mode="ll", part_alone_status=200),
    _m("msn-far-answered", "HLS-LL-008", mode="ll", msn_far_status=200),
)

CLEAN: dict[str, Mutation] = {
    **{mode: _m(f"clean-{mode}", "", mode=mode) for mode in ("ts", "fmp4", "mv", "ll")},
    # A stream that ends while observed, so the ENDLIST rules have something to judge.
    "end": _m("clean-end", "", end_after=2.5),
}


@dataclass
class Listed:
    """A logical segment of a stream: its GOPs, EXTINF, date and bytes."""

    index: int
    uri: str
    duration: float
    media_time: float
    data: bytes


@dataclass
class Stream:
    mutation: Mutation
    segments: list[Listed]
    init: bytes
    started: float
    wall: datetime
    codecs: str
    requests: int = 0
    fetched: set[int] = field(default_factory=set)

    @property
    def breakage(self) -> Breakage:
        return self.mutation.breakage

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def available(self, at: float | None = None) -> int:
        t = self.elapsed() if at is None else at
        stall = self.breakage.stall
        if stall is not None and stall[0] <= t < stall[1]:
            t = stall[0]
        preroll = max(PREROLL, self.breakage.window)
        return min(len(self.segments), preroll + math.floor(t))

    def window(self) -> tuple[int, int]:
        end_after = self.breakage.end_after
        count = self.available(min(self.elapsed(), end_after) if end_after else None)
        return max(0, count - self.breakage.window), count


class MutantMedia:
    """The segment sets the mutations need, made once from the sample."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._cache: dict[tuple[bool, int, int], tuple[bytes, list[Segment]]] = {}
        sps = next(nal for nal in source.video.parameter_sets if nal[0] & 0x1F == 7)
        asc = source.audio.asc
        self.codecs = f"{H264Sps.parse(sps).codec_string},{asc.codec_string}"

    def segments(self, fmp4: bool, offset: int, jump_every: int) -> tuple[bytes, list[Segment]]:
        key = (fmp4, offset, jump_every)
        if key not in self._cache:
            self._cache[key] = write_segments(
                self.source,
                fmp4,
                offset_frames=offset,
                jump_every=jump_every,
                jump_ticks=10 * 90_000,
            )
        return self._cache[key]


_BYTES: dict[str, Callable[[bytes], bytes]] = {
    "two-programs": two_programs,
    "null-first": null_packet_first,
    "corrupt": corrupt_slice,
    "drop-audio-tfdt": drop_audio_tfdt,
}


def _unchanged(data: bytes) -> bytes:
    return data


def make_stream(mutation: Mutation, media: MutantMedia) -> Stream:
    breakage = mutation.breakage
    fmp4 = breakage.mode == "fmp4"
    init, segments = media.segments(fmp4, breakage.offset_frames, breakage.jump_every)
    if breakage.init_bytes == "without-ftyp":
        init = init_without_ftyp(init)
    transform = _BYTES.get(breakage.segment_bytes, _unchanged)
    extension = "m4s" if fmp4 else "ts"
    listed: list[Listed] = []
    media_time = 0.0
    position = 0
    while position < len(segments):
        group = segments[position : position + 1]
        if breakage.merge_every and len(listed) % breakage.merge_every == 2:
            group = segments[position : position + 2]
        data = b"".join(transform(s.data) for s in group)
        duration = sum(s.duration for s in group) * breakage.extinf_scale
        index = len(listed)
        listed.append(Listed(index, f"seg{index}.{extension}", duration, media_time, data))
        media_time += duration
        position += len(group)
    wall = datetime.now(UTC).replace(microsecond=0)
    return Stream(mutation, listed, init, time.monotonic(), wall, media.codecs)


def _date(stream: Stream, segment: Listed) -> str | None:
    breakage = stream.breakage
    if breakage.pdt == "none":
        return None
    seconds = segment.media_time + breakage.pdt_drift * segment.index
    if breakage.pdt_backwards_every and segment.index % breakage.pdt_backwards_every == 4:
        seconds -= 3
    stamp = stream.wall + timedelta(seconds=seconds)
    if breakage.pdt == "seconds":
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def render_playlist(stream: Stream, count: int) -> str:
    """The media playlist for this response (``count``: responses so far)."""
    b = stream.breakage
    first, end = stream.window()
    if b.rewind_every and count % b.rewind_every == 0:
        first = max(0, first - 5)
    indexes = list(range(first, end))
    if b.skip_third_every and count % b.skip_third_every == 0 and len(indexes) > 3:
        del indexes[2]
    target = 2 if b.target_duration_every and count % b.target_duration_every == 0 else 1
    if b.merge_every:
        target = 1
    version = b.version or (6 if b.mode == "fmp4" else 9 if b.mode == "ll" else 3)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}"]
    if b.repeat_version:
        lines.append(f"#EXT-X-VERSION:{version}")
    if not (b.drop_target_duration_every and count % b.drop_target_duration_every == 0):
        lines.append(f"#EXT-X-TARGETDURATION:{target}")
    if b.mode == "ll":
        control = f"CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={b.part_hold_back}"
        if b.hold_back is not None:
            control += f",HOLD-BACK={b.hold_back}"
        lines.append(f"#EXT-X-SERVER-CONTROL:{control}")
        if b.part_inf:
            lines.append(f"#EXT-X-PART-INF:PART-TARGET={PART_TARGET}")
    sequence_line = f"#EXT-X-MEDIA-SEQUENCE:{first}"
    if not b.media_sequence_after_segment:
        lines.append(sequence_line)
    discontinuity = first if b.discontinuity_sequence_follows_media else 0
    lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity}")
    if b.playlist_type:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{b.playlist_type}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if b.mode == "fmp4":
        lines.append('#EXT-X-MAP:URI="init.mp4"')
    for position, index in enumerate(indexes):
        segment = stream.segments[index]
        date = _date(stream, segment)
        if date is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{date}")
        if b.mode == "ll" and index >= end - 2:
            lines.extend(_parts(b, index))
        duration = segment.duration
        if index == end - 1:
            duration += b.newest_extinf_delta
        extinf = f"{duration:.3f}"
        if b.malformed_every and count % b.malformed_every == 0 and position == 1:
            extinf = "abc"
        lines.append(f"#EXTINF:{extinf},")
        lines.append(segment.uri)
        if position == 0 and b.media_sequence_after_segment:
            lines.append(sequence_line)
    if b.mode == "ll" and end < len(stream.segments):
        done = math.floor((stream.elapsed() % 1.0) / PART_TARGET)
        lines.extend(_parts(b, end)[: min(done, PARTS_PER_SEGMENT - 1)])
    if _ended(stream, count):
        lines.append("#EXT-X-ENDLIST")
    text = "\n".join(lines) + "\n"
    if b.blank_line_first:
        text = "\n" + text
    if b.bom:
        text = "\ufeff" + text
    return text


def _ended(stream: Stream, count: int) -> bool:
    """ENDLIST on this response: for good after ``end_after``, or on every other response
    after ``endlist_flicker_after``."""
    b = stream.breakage
    elapsed = stream.elapsed()
    if b.endlist_flicker_after is not None and elapsed >= b.endlist_flicker_after:
        return count % 2 == 1
    return b.end_after is not None and elapsed >= b.end_after


def _parts(b: Breakage, index: int) -> list[str]:
    duration = b.part_duration if b.part_duration is not None else 0.333
    return [
        f'#EXT-X-PART:DURATION={duration},URI="seg{index}.part{p}.ts"'
        + (",INDEPENDENT=YES" if p == 0 else "")
        for p in range(PARTS_PER_SEGMENT)
    ]


def render_multivariant(stream: Stream) -> str:
    b = stream.breakage
    peak = max(len(s.data) * 8 / s.duration for s in stream.segments)
    attributes = []
    if b.bandwidth == "right":
        attributes.append(f"BANDWIDTH={math.ceil(peak * 1.5)}")
    elif b.bandwidth == "low":
        attributes.append(f"BANDWIDTH={math.ceil(peak / 4)}")
    if b.codecs == "right":
        attributes.append(f'CODECS="{stream.codecs}"')
    elif b.codecs == "wrong":
        attributes.append('CODECS="avc1.42e01e,mp4a.40.2"')
    attributes.append("RESOLUTION=320x240")
    return (
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f"#EXT-X-STREAM-INF:{','.join(attributes)}\nindex.m3u8\n"
    )


class MutantOrigin:
    """The aiohttp app and the streams it has started."""

    def __init__(self, media: MutantMedia) -> None:
        self.media = media
        self.streams: dict[str, Stream] = {}
        self.mutations = {m.name: m for m in (*MUTATIONS, *CLEAN.values())}

    def stream(self, name: str) -> Stream:
        """The stream at ``/<mutation>~<n>/``: each name a stream of its own, started by its
        first request (the media runs out after a minute or so)."""
        mutation = self.mutations.get(name.split("~", 1)[0])
        if mutation is None:
            raise web.HTTPNotFound()
        if name not in self.streams:
            self.streams[name] = make_stream(mutation, self.media)
        return self.streams[name]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        stream = self.stream(request.match_info["name"])
        file = request.match_info["file"]
        b = stream.breakage
        if file == "master.m3u8" and b.mode == "mv":
            return web.Response(
                text=render_multivariant(stream),
                content_type="application/vnd.apple.mpegurl",
                headers={"Cache-Control": "no-cache"},
            )
        if file == b.playlist_name:
            return await self._playlist(request, stream)
        if file == "init.mp4" and b.mode == "fmp4":
            return web.Response(body=stream.init, headers={"Content-Type": "video/mp4"})
        return self._segment(stream, file)

    async def _playlist(self, request: web.Request, stream: Stream) -> web.StreamResponse:
        b = stream.breakage
        query = request.query
        if b.mode == "ll" and ("_HLS_msn" in query or "_HLS_part" in query):
            early = await self._blocking(stream, query)
            if early is not None:
                return early
        stream.requests += 1
        count = stream.requests
        if b.playlist_503_every and count % b.playlist_503_every == 0:
            return web.Response(status=503, text="busy")
        type_, _, _charset = b.playlist_content_type.partition(";")
        return web.Response(
            text=render_playlist(stream, count),
            content_type=type_,
            headers={"Cache-Control": b.playlist_cache_control},
        )

    async def _blocking(self, stream: Stream, query: Any) -> web.StreamResponse | None:
        """rfc8216bis §6.2.5.2, or the breakage's way of getting it wrong."""
        b = stream.breakage
        if "_HLS_msn" not in query:
            if b.part_alone_status == 400:
                return web.Response(status=400, text="_HLS_part without _HLS_msn")
            return None
        msn = int(query["_HLS_msn"])
        last = stream.available() - 1
        if msn > last + 2:
            if b.msn_far_status == 400:
                return web.Response(status=400, text="_HLS_msn too far ahead")
            return None
        if b.blocking == "ignore":
            return None
        deadline = time.monotonic() + 3
        while stream.available() <= msn:
            if time.monotonic() >= deadline:
                return web.Response(status=503, text="segment not produced in time")
            await asyncio.sleep(0.05)
        return None

    def _segment(self, stream: Stream, file: str) -> web.StreamResponse:
        b = stream.breakage
        extension = "m4s" if b.mode == "fmp4" else "ts"
        stem, _, ext = file.partition(".")
        if ext != extension or not stem.startswith("seg") or not stem[3:].isdigit():
            raise web.HTTPNotFound()
        index = int(stem[3:])
        first, end = stream.window()
        if index >= end or (b.delete_removed and index < first):
            raise web.HTTPNotFound()
        if (
            b.segment_404_first_every
            and index % b.segment_404_first_every == 2
            and index not in stream.fetched
        ):
            stream.fetched.add(index)
            raise web.HTTPNotFound()
        stream.fetched.add(index)
        content_type = b.segment_content_type or ("video/mp4" if b.mode == "fmp4" else "video/mp2t")
        return web.Response(
            body=stream.segments[index].data,
            headers={"Content-Type": content_type, "Cache-Control": "public, max-age=60"},
        )


class RunningOrigin:
    """The origin on a free loopback port, in a thread with its own event loop."""

    def __init__(self, media: MutantMedia) -> None:
        self.origin = MutantOrigin(media)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.served = 0

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(20)

    def start(self) -> None:
        self.thread.start()
        app = web.Application()
        app.router.add_get("/{name}/{file}", self.origin.handle)

        async def start() -> int:
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            port: int = self.runner.addresses[0][1]
            return port

        self.port = self._call(start())

    def stop(self) -> None:
        if self.runner is not None:
            self._call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def url(self, mutation: Mutation) -> str:
        """The playlist of a fresh stream with ``mutation``: every call starts a new one."""
        self.served += 1
        return f"http://127.0.0.1:{self.port}/{mutation.name}~{self.served}/{mutation.target}"


def all_mutations() -> list[Mutation]:
    return list(MUTATIONS)


def mutated(mutation: Mutation, **changes: Any) -> Mutation:
    return replace(mutation, breakage=replace(mutation.breakage, **changes))
