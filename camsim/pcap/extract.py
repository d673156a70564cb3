"""``camsim pcap extract``: each stream's media out of a capture, into files a player opens.

RTP streams are put back in sequence order (duplicates dropped), parsed with
:class:`wire.rtp.RtpPacket` and depacketized with :mod:`wire.payload`; RTMP media comes from
its FLV tags. Video becomes an Annex B elementary stream (``.h264``/``.h265``, an access unit
delimiter before each picture and the SDP's parameter sets before a keyframe that lacks them),
AAC becomes ADTS (``.aac``). For MP4 or MPEG-TS, PyAV reads those elementary streams back and
muxes them with the capture's timing: RTP timestamps on the clock of the RTCP sender reports
when the source sent them (audio and video then line up as the sender meant), else on the
arrival of their first packets. Every gap is listed with the packet where it shows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from camsim.pcap.capture import CaptureFile
from camsim.pcap.inspect import Inspector, InspectResult
from camsim.pcap.rtmp import RtmpMediaStream, RtmpSession
from camsim.pcap.rtp import META_DTYPE, RECORD_DTYPE, RtpRecorder, RtpStreamReport, SenderReportSeen
from camsim.pcap.rtpstats import extend
from wire import flv
from wire.codec.aac import AudioSpecificConfig, adts_frame
from wire.codec.dts import DtsEstimator
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import (
    H264_NAL_SPS,
    H265_NAL_SPS,
    VideoCodec,
    join_annexb,
    nal_type,
    parameter_set_types,
    split_length_prefixed,
)
from wire.payload import (
    AacDepacketizer,
    AudioAccessUnit,
    H264Depacketizer,
    H265Depacketizer,
    PacketLoss,
    PayloadDiscarded,
    VideoAccessUnit,
)
from wire.rtp import RtpError, RtpPacket, TimestampUnwrapper
from wire.rtp.sequence import timestamp_diff

FORMATS = ("mp4", "ts", "raw")
TIME_BASE = 90000
"""The muxing clock: RTP's video clock, which every AAC rate divides well enough."""
_AUD = {VideoCodec.H264: b"\x09\xf0", VideoCodec.H265: b"\x46\x01\x50"}
_EXTENSIONS = {VideoCodec.H264: "h264", VideoCodec.H265: "h265"}


class ExtractError(ValueError):
    """Nothing could be extracted, or a file could not be written."""


@dataclass
class Gap:
    """Media that the capture does not have."""

    packet: int
    """The packet after the gap."""
    seconds: float
    """Where it is, from the start of the track."""
    what: str


@dataclass
class Unit:
    """One access unit: presentation time (seconds from the track's first), its bytes."""

    pts: float
    data: bytes
    keyframe: bool = False
    dts: float | None = None


@dataclass
class Track:
    """One extracted elementary stream."""

    kind: str
    codec: str
    source: str
    units: list[Unit] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    skipped_before_keyframe: int = 0
    start: float = 0.0
    """Wallclock (sender's NTP, else capture time) of the first unit, for alignment."""
    raw: Path | None = None
    video_codec: VideoCodec | None = None
    audio_config: AudioSpecificConfig | None = None

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.video_codec] if self.video_codec is not None else "aac"


@dataclass
class Extraction:
    """The tracks of one dialog, RTMP session or lone stream, and the files written."""

    name: str
    tracks: list[Track]
    files: list[Path] = field(default_factory=list)


def extract(
    capture: str | Path, out: str | Path, *, container: str = "mp4"
) -> tuple[InspectResult, list[Extraction]]:
    """Write every stream of ``capture`` into ``out`` as ``container`` (mp4, ts or raw)."""
    if container not in FORMATS:
        raise ExtractError(f"format {container!r} is not one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with CaptureFile.open(capture) as opened:
        inspector = Inspector(keep_packets=True)
        inspector.read(opened)
        result = inspector.result(opened)
        extractions = list(_collect(inspector, result))
    for extraction in extractions:
        _write(extraction, out, container)
    return result, extractions


def _collect(inspector: Inspector, result: InspectResult) -> Iterator[Extraction]:
    recorders = recorders_of(inspector)
    groups: dict[str, list[Track]] = {}
    for stream in result.rtp_streams:
        recorder = next((r for r in recorders if r.flow == stream.flow), None)
        if recorder is None or recorder.kept is None:
            continue
        track = rtp_track(recorder, stream)
        if track is None:
            continue
        name = f"dialog{stream.setup.split()[1]}" if stream.setup else f"ssrc-{stream.ssrc:08X}"
        groups.setdefault(name, []).append(track)
    for name, tracks in groups.items():
        yield Extraction(name, tracks)
    for session in result.rtmp:
        for media in session.media_streams:
            tracks = rtmp_tracks(session, media)
            if tracks:
                yield Extraction(f"rtmp{session.connection}-stream{media.stream_id}", tracks)


def recorders_of(inspector: Inspector) -> list[RtpRecorder]:
    """Every RTP recorder of an inspection: UDP flows and interleaved channels."""
    found = [flow.rtp for flow in inspector.udp.values() if flow.rtp is not None]
    return found + [r for dialog in inspector.dialogs.dialogs for r in dialog.rtp.values()]


# RTP.


def rtp_track(recorder: RtpRecorder, stream: RtpStreamReport) -> Track | None:
    """The access units of one RTP stream (kept packets needed), None for other codecs."""
    media = stream.media
    codec = media.video_codec
    if codec is None and media.codec != "MPEG4-GENERIC":
        return None
    assert recorder.kept is not None
    records = np.frombuffer(recorder.records, dtype=RECORD_DTYPE)
    meta = np.frombuffer(recorder.meta, dtype=META_DTYPE)
    indexes = np.nonzero(records["ssrc"] == stream.ssrc)[0]
    extended = extend(records["seq"][indexes])
    # Sequence order, as a jitter buffer would give them; a duplicate only once.
    order = np.argsort(extended, kind="stable")
    keep = np.concatenate(([True], np.diff(extended[order]) != 0)) if len(order) else order
    chosen = indexes[order[keep]]
    track = Track(media.media, media.codec, f"{stream.flow} SSRC {stream.ssrc:08X}")
    clock = media.clock_rate
    if not len(chosen):
        return None
    # Times count from the first packet in sequence order, whatever is kept after it.
    unwrapper = TimestampUnwrapper()
    first_timestamp = int(records["ts"][chosen[0]])
    first_ticks = unwrapper.unwrap(first_timestamp)
    track.start = _wallclock(stream, first_timestamp, float(meta["time"][chosen[0]]))
    if codec is not None:
        track.video_codec = codec
        depacketizer: H264Depacketizer | H265Depacketizer | AacDepacketizer = (
            H264Depacketizer() if codec is VideoCodec.H264 else H265Depacketizer()
        )
    else:
        config = media.parameters.get("config", "")
        try:
            track.audio_config = AudioSpecificConfig.parse(bytes.fromhex(config))
        except (ValueError, CodecError):
            track.discarded.append(f"no usable AudioSpecificConfig in the SDP ({config!r})")
            return track
        depacketizer = AacDepacketizer(
            size_length=int(media.parameters.get("sizelength", "13")),
            index_length=int(media.parameters.get("indexlength", "3")),
            index_delta_length=int(media.parameters.get("indexdeltalength", "3")),
        )
    sprop = list(media.sprop_parameter_sets[0])
    for index in chosen.tolist():
        number = int(meta["number"][index])
        try:
            packet = RtpPacket.parse(recorder.kept[index])
        except RtpError as error:
            track.discarded.append(f"packet {number}: {error}")
            continue
        for event in depacketizer.receive(packet):
            _rtp_event(track, event, unwrapper, first_ticks, clock, number, sprop)
    if not isinstance(depacketizer, AacDepacketizer):
        for event in depacketizer.flush():
            _rtp_event(track, event, unwrapper, first_ticks, clock, 0, sprop)
    if codec is not None:
        _video_dts(track, codec, sprop)
    return track


def _rtp_event(
    track: Track,
    event: object,
    unwrapper: TimestampUnwrapper,
    first_ticks: int,
    clock: int,
    number: int,
    sprop: list[bytes],
) -> None:
    if isinstance(event, PacketLoss):
        seconds = track.units[-1].pts if track.units else 0.0
        track.gaps.append(Gap(number, seconds, f"{event.lost} RTP packets lost"))
    elif isinstance(event, PayloadDiscarded):
        track.discarded.append(f"before packet {number}: {event.reason}")
    elif isinstance(event, VideoAccessUnit):
        codec = track.video_codec
        assert codec is not None
        if not track.units and not event.keyframe:
            track.skipped_before_keyframe += 1  # nothing can decode it
            return
        nals = list(event.nal_units)
        if event.keyframe:
            present = {nal_type(codec, nal) for nal in nals}
            nals = [n for n in sprop if nal_type(codec, n) not in present] + nals
        pts = (unwrapper.unwrap(event.timestamp) - first_ticks) / clock
        track.units.append(Unit(pts, _annexb(codec, nals), event.keyframe))
    elif isinstance(event, AudioAccessUnit):
        assert track.audio_config is not None
        pts = (unwrapper.unwrap(event.timestamp) - first_ticks) / clock
        track.units.append(Unit(pts, adts_frame(track.audio_config, event.data), True))


def _wallclock(stream: RtpStreamReport, timestamp: int, arrival: float) -> float:
    """When ``timestamp`` was sampled, on the sender's NTP clock from its first sender report,
    else the capture's time of arrival of its packet."""
    reports: list[SenderReportSeen] = stream.sender_reports_seen
    if not reports:
        return arrival
    report = reports[0]
    return report.ntp + timestamp_diff(timestamp, report.rtp_timestamp) / stream.media.clock_rate


def _video_dts(track: Track, codec: VideoCodec, sprop: list[bytes]) -> None:
    """Decode times from the presentation times and the SPS's reorder depth."""
    sps_type = H264_NAL_SPS if codec is VideoCodec.H264 else H265_NAL_SPS
    sps = next((n for n in sprop if nal_type(codec, n) == sps_type), None)
    estimator = DtsEstimator.for_sps(codec, sps, TIME_BASE) if sps else DtsEstimator(0, 3000)
    for unit in track.units:
        unit.dts = estimator.dts(round(unit.pts * TIME_BASE)) / TIME_BASE


def _annexb(codec: VideoCodec, nals: list[bytes]) -> bytes:
    """An access unit in Annex B, opened by our access unit delimiter (and only ours), so that
    FFmpeg's parser splits the stream exactly where we did."""
    aud = nal_type(codec, _AUD[codec])
    return join_annexb([_AUD[codec], *(n for n in nals if nal_type(codec, n) != aud)])


# RTMP.


def rtmp_tracks(session: RtmpSession, stream: RtmpMediaStream) -> list[Track]:
    """The video and audio access units of one RTMP message stream (kept media needed)."""
    source = f"RTMP connection {session.connection} stream {stream.stream_id}"
    video = Track("video", stream.video_codec or "?", source)
    audio = Track("audio", stream.audio_codec or "?", source)
    length_size = 4
    sets: list[bytes] = []
    first: int | None = None
    previous: dict[int, int] = {}
    for kind, timestamp, body in stream.kept:
        first = timestamp if first is None else first
        seconds = (timestamp - first) / 1000
        if kind in previous and timestamp - previous[kind] > 1000:
            track = video if kind == 9 else audio
            track.gaps.append(Gap(0, seconds, f"{timestamp - previous[kind]} ms without media"))
        previous[kind] = timestamp
        try:
            if kind == 9:
                length_size = _rtmp_video(
                    video, flv.VideoTag.parse(body), seconds, length_size, sets
                )
            else:
                _rtmp_audio(audio, flv.AudioTag.parse(body), seconds)
        except (flv.FlvError, CodecError, ValueError) as error:
            (video if kind == 9 else audio).discarded.append(str(error))
    return [t for t in (video, audio) if t.units]


def _rtmp_video(
    track: Track, tag: flv.VideoTag, seconds: float, length_size: int, sets: list[bytes]
) -> int:
    codec = (
        VideoCodec.H265 if tag.fourcc == flv.FOURCC_HVC1 or tag.codec_id == 12 else VideoCodec.H264
    )
    track.video_codec = codec
    if tag.is_sequence_header:
        sets.clear()
        if codec is VideoCodec.H264:
            avc = AvcDecoderConfigurationRecord.parse(tag.data)
            sets += [*avc.sps, *avc.pps]
            return avc.length_size
        hevc = HevcDecoderConfigurationRecord.parse(tag.data)
        for kind in parameter_set_types(codec):
            sets += hevc.nal_units(kind)
        return hevc.length_size
    if tag.packet_type not in (
        None,
        flv.VideoPacketType.CODED_FRAMES,
        flv.VideoPacketType.CODED_FRAMES_X,
    ):
        return length_size
    nals = split_length_prefixed(tag.data, length_size)
    if not track.units and not tag.is_keyframe:
        track.skipped_before_keyframe += 1
        return length_size
    if tag.is_keyframe:
        present = {nal_type(codec, nal) for nal in nals}
        nals = [n for n in sets if nal_type(codec, n) not in present] + nals
    pts = seconds + tag.composition_time / 1000
    track.units.append(Unit(pts, _annexb(codec, nals), tag.is_keyframe, seconds))
    return length_size


def _rtmp_audio(track: Track, tag: flv.AudioTag, seconds: float) -> None:
    if tag.sound_format != flv.SOUND_FORMAT_AAC:
        return
    if tag.is_sequence_header:
        track.audio_config = AudioSpecificConfig.parse(tag.data)
        return
    if track.audio_config is not None:
        track.units.append(Unit(seconds, adts_frame(track.audio_config, tag.data), True))


# Files.


def _write(extraction: Extraction, out: Path, container: str) -> None:
    tracks = [t for t in extraction.tracks if t.units]
    if not tracks:
        return
    origin = min(t.start for t in tracks)
    folder = out if container == "raw" else Path(tempfile.mkdtemp(prefix="extract-", dir=out))
    for index, track in enumerate(tracks):
        track.raw = folder / f"{extraction.name}-{index}-{track.kind}.{track.extension}"
        track.raw.write_bytes(b"".join(unit.data for unit in track.units))
        if container == "raw":
            extraction.files.append(track.raw)
    if container == "raw":
        return
    target = out / f"{extraction.name}.{'mp4' if container == 'mp4' else 'ts'}"
    try:
        _mux(tracks, target, "mp4" if container == "mp4" else "mpegts", origin)
    except av.FFmpegError as error:
        raise ExtractError(f"{target}: {error}") from None
    finally:
        for track in tracks:
            if track.raw is not None:
                track.raw.unlink(missing_ok=True)
        folder.rmdir()
    extraction.files.append(target)


def _mux(tracks: list[Track], target: Path, format_name: str, origin: float) -> None:
    """Each elementary stream read back by FFmpeg's parser, then muxed with our timestamps."""
    time_base = Fraction(1, TIME_BASE)
    with av.open(str(target), "w", format=format_name) as output:
        inputs = []
        for track in tracks:
            assert track.raw is not None
            source = av.open(
                str(track.raw),
                format="h264"
                if track.video_codec is VideoCodec.H264
                else "hevc"
                if track.video_codec
                else "aac",
            )
            stream = source.streams[0]
            inputs.append((track, source, stream, output.add_stream_from_template(stream)))
        for track, source, stream, target_stream in inputs:
            offset = track.start - origin
            packets = [p for p in source.demux(stream) if p.size]
            if len(packets) != len(track.units):
                track.discarded.append(
                    f"FFmpeg's parser found {len(packets)} units where {len(track.units)} were "
                    "written; the first ones are muxed"
                )
            for position, (unit, packet) in enumerate(zip(track.units, packets, strict=False)):
                packet.pts = round((unit.pts + offset) * TIME_BASE)
                dts = unit.dts if unit.dts is not None else unit.pts
                packet.dts = round((dts + offset) * TIME_BASE)
                packet.duration = round(_duration(track, position) * TIME_BASE)
                packet.time_base = time_base
                packet.stream = target_stream
                output.mux(packet)
            source.close()


def _duration(track: Track, position: int) -> float:
    """How long a unit lasts: an AAC frame's samples, else until the next unit's decode time."""
    if track.audio_config is not None:
        return track.audio_config.samples_per_frame / track.audio_config.output_sample_rate
    units = track.units
    if position + 1 < len(units):
        this, following = units[position], units[position + 1]
        step = (following.dts or following.pts) - (this.dts or this.pts)
        if step > 0:
            return step
    return 1 / 30
