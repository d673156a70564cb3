"""The stream registry: which names are live, who publishes them, and what they have cost.

A :class:`LiveStream` outlives its publisher. When the publisher leaves, the open segment is
closed and the stream waits ``offline_timeout`` seconds for a republish, which continues the same
HLS playlist after an ``EXT-X-DISCONTINUITY``; after that it is ended (``EXT-X-ENDLIST``) and
forgotten, its folder left on disk. The HLS packager is made when the first track configuration
is known. A stream whose folder holds an earlier playlist (refserver restarted, or the stream
ended and is published again) carries its media sequence on after a discontinuity; folders of
streams that do not come back are expired ``expire_after`` seconds after their last write
(:mod:`refserver.hls.folders`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from refserver.hls import (
    AudioConfig,
    DirectoryStorage,
    Frame,
    HlsOptions,
    HlsSegmenter,
    VideoConfig,
)
from refserver.hls.folders import ResumePoint, claim_stream_folder, expire_stream_folders
from refserver.hls.media import VIDEO
from refserver.hls.storage import Storage
from refserver.hls.writeback import QueuedStorage, WriteQueue
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec
from wire.codec.stamp import read_stamp_nalus

logger = logging.getLogger(__name__)

STREAM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
"""Names that are safe as a folder and in a URL path."""
BITRATE_WINDOW = 5.0
EXPIRY_SCAN_SECONDS = 60.0
"""How often ``hls_dir`` is scanned for stream folders to expire (at most)."""
LATENCY_SAMPLES = 1800
"""Enough for a minute of 30 fps video."""
NO_VIDEO = "no video frame yet: latency is measured on video frames"
NO_STAMPS = (
    "the video carries no SEI stamps, so no latency can be measured "
    "(camsim run and camsim push stamp every frame; FFmpeg and encoders add none)"
)
STAMPS_WITHOUT_TIME = (
    "the video's SEI stamps carry no send time (the file was sent on as it is, e.g. by "
    "FFmpeg), so no latency can be measured"
)

Clock = Callable[[], float]


class StreamSource(Protocol):
    """A source the server pulls the stream from (an RTSP camera), as opposed to a publisher."""

    def describe(self) -> dict[str, object]:
        """Its state for the JSON API."""
        ...

    async def demand(self) -> None:
        """A viewer asked for the stream: an on-demand source starts (when idle) and the call
        returns once the stream has a fresh playlist; raises :class:`SourceUnavailable` when it
        cannot have one in time. Returns at once for an always-on source."""
        ...


class StreamBusy(Exception):
    """The name is being published by someone else."""


class SourceUnavailable(Exception):
    """An on-demand source could not start in time; the message says why, for the viewer."""


def valid_stream_name(name: str) -> bool:
    return STREAM_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class PublisherInfo:
    """Who publishes a stream: the peer's address, ``rtmp`` or ``rtmps``, and since when."""

    address: str
    protocol: str
    since: float
    connection_id: int


class RateMeter:
    """Bytes per second over the last ``window`` seconds, in whole-second buckets."""

    def __init__(self, window: float = BITRATE_WINDOW) -> None:
        self.window = window
        self._buckets: deque[list[float]] = deque()  # [second, bytes]

    def add(self, size: int, now: float) -> None:
        second = math.floor(now)
        buckets = self._buckets
        if buckets:
            last = buckets[-1]
            if last[0] == second:
                last[1] += size
                return
        buckets.append([second, size])
        self._trim(now)

    def bits_per_second(self, now: float) -> float:
        self._trim(now)
        return 8 * sum(size for _, size in self._buckets) / self.window

    def _trim(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - self.window - 1:
            self._buckets.popleft()


class LatencyWindow:
    """The latest per-frame latencies (seconds) and their nearest-rank percentiles."""

    def __init__(self, size: int = LATENCY_SAMPLES) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, latency: float) -> None:
        self._samples.append(latency)

    def __len__(self) -> int:
        return len(self._samples)

    def percentiles(self, *ranks: float) -> dict[str, float | None]:
        """``{"p50": ..., ...}`` by the nearest-rank method; ``None`` without samples."""
        ordered = sorted(self._samples)
        result: dict[str, float | None] = {}
        for rank in ranks:
            key = f"p{rank:g}"
            if not ordered:
                result[key] = None
                continue
            index = max(math.ceil(rank / 100 * len(ordered)) - 1, 0)
            result[key] = ordered[index]
        return result


@dataclass(slots=True)
class IngestStats:
    """What the publishers of one stream sent, across republishes."""

    video_frames: int = 0
    audio_frames: int = 0
    bytes: int = 0
    publishes: int = 0
    rate: RateMeter = field(default_factory=RateMeter)
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    stamps_without_time: bool = False
    """Keyframes carried a camsim stamp whose wallclock was never written by the sender."""

    def latency_unavailable(self) -> str | None:
        """Why there is no latency figure, in plain words; None when there is one."""
        if len(self.latency):
            return None
        if not self.video_frames:
            return NO_VIDEO
        return STAMPS_WITHOUT_TIME if self.stamps_without_time else NO_STAMPS


class LiveStream:
    """One stream name: its publisher (when live), packager and counters."""

    def __init__(
        self,
        name: str,
        folder: Path,
        options: HlsOptions,
        clock: Clock,
        resume: ResumePoint | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.name = name
        self.folder = folder
        self.options = options
        self.clock = clock
        self.resume = resume
        """Where an earlier playlist of this name left off, for the packager to carry on."""
        self.storage = DirectoryStorage(folder) if storage is None else storage
        """The folder's files as the packager writes them (through the server's writer
        thread when the registry has one)."""
        self.publisher: PublisherInfo | None = None
        self.segmenter: HlsSegmenter | None = None
        self.stats = IngestStats()
        self.metadata: dict[str, object] = {}
        self.offline_since: float | None = None
        self.video: VideoConfig | None = None
        self.audio: AudioConfig | None = None
        self.source: StreamSource | None = None
        self._restarted = False

    @property
    def live(self) -> bool:
        return self.publisher is not None

    def configure(self, video: VideoConfig | None, audio: AudioConfig | None) -> None:
        """The publisher's tracks; the packager starts with the first, later ones reconfigure."""
        self.video, self.audio = video, audio
        if self.segmenter is None:
            self.segmenter = HlsSegmenter(
                self.storage,
                video=video,
                audio=audio,
                options=self.options,
                clock=self.clock,
                name=self.name,
            )
            if self.resume is not None:
                self.segmenter.continue_from(
                    self.resume.next_sequence, self.resume.discontinuity_sequence
                )
            return
        if self._restarted:
            self._restarted = False
            self.segmenter.discontinuity()
        self.segmenter.configure(video, audio)

    def describe_tracks(self) -> dict[str, str | None]:
        """The codecs being packaged: ``h264``/``h265`` and the AAC codecs string; audio the
        segments cannot carry is null, with the reason in ``audio_left_out``."""
        video, audio = self.video, self.audio
        left_out = self.segmenter.audio_left_out if self.segmenter is not None else None
        return {
            "video": video.codec.value if video is not None else None,
            "audio": audio.asc.codec_string if audio is not None and left_out is None else None,
            "audio_left_out": left_out,
        }

    def push(self, frame: Frame, size: int) -> None:
        """One frame of ``size`` bytes on the wire, after :meth:`configure`."""
        stats = self.stats
        now = self.clock()
        stats.bytes += size
        stats.rate.add(size, now)
        if frame.kind is VIDEO:
            stats.video_frames += 1
            if frame.wallclock_us is not None:
                stats.latency.add(now - frame.wallclock_us / 1_000_000)
            elif frame.keyframe and not stats.stamps_without_time and self.video is not None:
                # Sources set wallclock_us from a stamp that has one: tell "no stamp" from
                # "a stamp nobody wrote a time in" (a camsim sample pushed by FFmpeg), on
                # keyframes only, which is enough to know and costs next to nothing.
                stats.stamps_without_time = _has_stamp(self.video.codec, frame.nalus)
        else:
            stats.audio_frames += 1
        if self.segmenter is not None:
            self.segmenter.push(frame)

    def start(self, publisher: PublisherInfo) -> None:
        self.publisher = publisher
        self.offline_since = None
        self.stats.publishes += 1
        self._restarted = self.segmenter is not None

    def stop(self) -> None:
        """The publisher left: close the open segment, keep the playlist for a republish."""
        self.publisher = None
        self.offline_since = self.clock()
        if self.segmenter is not None:
            self.segmenter.finish()

    def end(self) -> None:
        """The stream is over for good: ``EXT-X-ENDLIST``."""
        self.publisher = None
        if self.segmenter is not None:
            self.segmenter.finish(endlist=True)

    def expire(self) -> None:
        if self.segmenter is not None:
            self.segmenter.expire()

    async def written(self) -> None:
        """Return once every file the packager wrote so far is on disk."""
        if isinstance(self.storage, QueuedStorage):
            await self.storage.written()

    def describe(self, now: float, *, expose_addresses: bool = False) -> dict[str, object]:
        """The JSON the HTTP API serves for this stream.

        The address of a publisher that connected to us is someone's IP address: it is shown
        only with ``expose_addresses``. A pulled camera's is the operator's own configuration
        (its URL is under ``source``) and always shown.
        """
        stats = self.stats
        segmenter = self.segmenter
        publisher = self.publisher
        playlist = segmenter.playlist if segmenter is not None else None
        shown = expose_addresses or self.source is not None
        return {
            "name": self.name,
            "live": self.live,
            "playlist": f"/live/{self.name}/{self.options.playlist_name}",
            "publisher": None
            if publisher is None
            else {
                "address": publisher.address if shown else None,
                "protocol": publisher.protocol,
                "since": publisher.since,
                "seconds": round(now - publisher.since, 3),
            },
            "offline_since": self.offline_since,
            "tracks": self.describe_tracks(),
            "publishes": stats.publishes,
            "bitrate": round(stats.rate.bits_per_second(now)),
            "frames": {"video": stats.video_frames, "audio": stats.audio_frames},
            "bytes": stats.bytes,
            "latency": {
                "samples": len(stats.latency),
                **stats.latency.percentiles(50, 95, 99),
                "reason": stats.latency_unavailable(),
            },
            "hls": None
            if segmenter is None
            else {
                "media_sequence": playlist.media_sequence if playlist is not None else None,
                "segments": len(playlist.segments) if playlist is not None else 0,
                "segments_written": segmenter.stats.segments_written,
                "discontinuities": segmenter.stats.discontinuities,
                "frames_dropped": segmenter.stats.frames_dropped,
                "target_duration_overruns": segmenter.stats.target_duration_overruns,
                "write_failure": self.storage.failure
                if isinstance(self.storage, QueuedStorage)
                else None,
            },
            "metadata": {k: v for k, v in self.metadata.items() if _plain(v)},
            "source": None if self.source is None else self.source.describe(),
        }


def _has_stamp(codec: VideoCodec, nalus: tuple[bytes, ...]) -> bool:
    try:
        return read_stamp_nalus(codec, nalus) is not None
    except CodecError:
        return False


def _plain(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


class StreamRegistry:
    """Every stream this server knows, live or waiting for a republish."""

    def __init__(
        self,
        hls_dir: Path,
        options: HlsOptions,
        *,
        offline_timeout: float = 300.0,
        expire_after: float = 0.0,
        clock: Clock = time.time,
        writer: WriteQueue | None = None,
    ) -> None:
        self.hls_dir = hls_dir
        self.options = options
        self.offline_timeout = offline_timeout
        self.expire_after = expire_after
        """Seconds after its last write that the folder of a stream no longer known is removed;
        0 keeps them."""
        self.clock = clock
        self.writer = writer
        """The thread the packagers' writes go to; None writes on the caller's thread."""
        self._streams: dict[str, LiveStream] = {}
        self._scanned_at: float | None = None

    def __iter__(self) -> Iterator[LiveStream]:
        return iter(sorted(self._streams.values(), key=lambda s: s.name))

    def get(self, name: str) -> LiveStream | None:
        return self._streams.get(name)

    def prepare(self, name: str) -> LiveStream:
        """The stream called ``name``, made (not yet live) if it is new."""
        stream = self._streams.get(name)
        if stream is None:
            folder = self.hls_dir / name
            resume = claim_stream_folder(folder, self.options.playlist_name)
            storage: Storage | None = None
            if self.writer is not None:
                storage = self.writer.storage(
                    DirectoryStorage(folder),
                    stream=name,
                    latest_only={self.options.playlist_name},
                )
            stream = LiveStream(name, folder, self.options, self.clock, resume, storage)
            self._streams[name] = stream
        return stream

    def claim(self, name: str, publisher: PublisherInfo) -> LiveStream:
        """Start publishing ``name``; raises :class:`StreamBusy` when it is live already."""
        stream = self.prepare(name)
        if stream.live:
            raise StreamBusy(name)
        stream.start(publisher)
        return stream

    def forget(self, name: str) -> None:
        """Drop stream ``name`` (ended, not live) so that the name makes a new stream; its
        folder stays for the new one to carry on from."""
        self._streams.pop(name, None)

    def release(self, stream: LiveStream, publisher: PublisherInfo) -> None:
        """``publisher`` stopped publishing ``stream``."""
        if stream.publisher is publisher:
            stream.stop()

    def tick(self) -> None:
        """Delete expired segments; end and forget streams offline for too long; now and then
        remove the folders of streams gone for ``expire_after``."""
        now = self.clock()
        for name, stream in list(self._streams.items()):
            try:
                self._tick_stream(name, stream, now)
            except Exception:
                # One stream's failure (its disk, a bug) must not keep the others from ending.
                logger.exception("stream housekeeping failed", extra={"stream": name})
        if self.expire_after > 0 and (
            self._scanned_at is None
            or now - self._scanned_at >= min(EXPIRY_SCAN_SECONDS, self.expire_after / 4)
        ):
            self._scanned_at = now
            expire_stream_folders(
                self.hls_dir, set(self._streams), now=now, expire_after=self.expire_after
            )

    def _tick_stream(self, name: str, stream: LiveStream, now: float) -> None:
        stream.expire()
        if (
            stream.offline_since is not None
            and stream.source is None  # a pulled stream lives as long as its source
            and now - stream.offline_since >= self.offline_timeout
        ):
            logger.info("stream ended", extra={"stream": name, "reason": "offline timeout"})
            stream.end()
            del self._streams[name]
            # The folder stays, with the ended playlist, for a republish to carry on from; it
            # is expired with the others once unused for expire_after.

    def close(self) -> None:
        """Shutdown: finish every stream's open segment and playlist with ``EXT-X-ENDLIST``,
        and wait for the writer thread to have put them all on disk."""
        for stream in self._streams.values():
            stream.end()
        if self.writer is not None:
            self.writer.close()
