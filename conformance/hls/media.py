"""What a segment holds: container, tracks, timing, keyframes, stamps, and whether it decodes.

The analysis reuses the project's demuxers (:mod:`wire.ts`, :mod:`wire.fmp4`) and codec
parsers (:mod:`wire.codec`) for structure and timing, and PyAV (FFmpeg's decoders) only to
decode. It never raises for bad media: what cannot be read is recorded as an error string,
since a broken segment is a finding, not a crash.
"""

from __future__ import annotations

import io
import itertools
import statistics
import struct
from dataclasses import dataclass, field

import av
import av.logging

from wire.codec.aac import AudioSpecificConfig, split_adts
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord, H264Sps
from wire.codec.h265 import H265Sps, HevcDecoderConfigurationRecord
from wire.codec.nal import (
    H264_NAL_SPS,
    H265_NAL_SPS,
    VideoCodec,
    is_irap,
    nal_type,
    split_annexb,
    split_length_prefixed,
)
from wire.codec.stamp import SEI_PAYLOAD_SIZE, Stamp, find_stamp
from wire.fmp4 import Box, Fmp4Error, Tfdt, Trun, walk
from wire.ts import TsError, demux

TS_CLOCK = 90_000
PTS_MODULUS = 1 << 33
STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_H265 = 0x24
STREAM_TYPE_ADTS = 0x0F
VIDEO_STREAM_TYPES = {STREAM_TYPE_H264: VideoCodec.H264, STREAM_TYPE_H265: VideoCodec.H265}
AAC_FRAME_SAMPLES = 1024
PAT_PID = 0

# tfhd flags (ISO/IEC 14496-12 §8.8.7.1) and the sync bit of sample_flags (§8.8.3.1).
TFHD_BASE_DATA_OFFSET = 0x000001
TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002
TFHD_DEFAULT_SAMPLE_DURATION = 0x000008
TFHD_DEFAULT_SAMPLE_SIZE = 0x000010
TFHD_DEFAULT_SAMPLE_FLAGS = 0x000020
SAMPLE_IS_NON_SYNC = 0x00010000
ES_DESCRIPTOR_TAG = 0x03
DECODER_CONFIG_DESCRIPTOR_TAG = 0x04
DECODER_SPECIFIC_INFO_TAG = 0x05


@dataclass(frozen=True, slots=True)
class Stamped:
    """A camsim stamp found in a video frame."""

    frame_index: int
    wallclock_us: int


@dataclass
class Track:
    """One elementary stream of a segment; times in seconds on the stream's own clock.

    ``start`` is the first decode time, ``end`` the last decode time plus one sample duration,
    so consecutive segments of an unbroken stream have ``end`` of one equal to ``start`` of
    the next. ``first_pts`` is the earliest presentation time.
    """

    kind: str  # "video" or "audio"
    codec: str  # RFC 6381 string when known (avc1.64001f, mp4a.40.2), else a name
    start: float
    end: float
    first_pts: float
    samples: int
    sample_duration: float


@dataclass
class InitInfo:
    """A parsed fMP4 Media Initialization Section (ftyp + moov)."""

    boxes: list[str] = field(default_factory=list)
    has_mvex: bool = False
    tracks: dict[int, TrackConfig] = field(default_factory=dict)
    error: str = ""


@dataclass
class TrackConfig:
    track_id: int
    kind: str
    timescale: int
    codec: str
    video_codec: VideoCodec | None = None
    length_size: int = 4
    default_duration: int = 0
    default_flags: int = 0


@dataclass
class SegmentMedia:
    """The analysis of one media segment."""

    container: str  # "ts", "fmp4" or "unknown"
    size: int
    error: str = ""  # structure that could not be read
    programs: int = 0
    psi_first: bool | None = None  # TS: PAT then PMT are the first packets
    first_pids: list[int] = field(default_factory=list)  # TS: PIDs of the first two packets
    tracks: list[Track] = field(default_factory=list)
    starts_with_keyframe: bool | None = None
    stamps: list[Stamped] = field(default_factory=list)
    decode_error: str = ""
    frames_decoded: int = 0
    missing_tfdt: list[int] = field(default_factory=list)  # fMP4: traf track IDs without tfdt
    top_boxes: list[str] = field(default_factory=list)

    def track(self, kind: str) -> Track | None:
        return next((t for t in self.tracks if t.kind == kind), None)


def detect_container(data: bytes) -> str:
    if len(data) >= 188 and data[0] == 0x47 and (len(data) < 376 or data[188] == 0x47):
        return "ts"
    if len(data) >= 8 and data[4:8] in (b"styp", b"moof", b"sidx", b"ftyp", b"prft", b"emsg"):
        return "fmp4"
    return "unknown"


def analyse_segment(
    data: bytes, init: InitInfo | None = None, init_bytes: bytes = b""
) -> SegmentMedia:
    """Everything the suite judges about one segment's bytes."""
    container = detect_container(data)
    media = SegmentMedia(container, len(data))
    try:
        if container == "ts":
            _analyse_ts(data, media)
        elif container == "fmp4":
            _analyse_fmp4(data, init, media)
        else:
            media.error = f"neither MPEG-TS (sync byte 0x47) nor fMP4 boxes: starts {data[:8]!r}"
    except (TsError, Fmp4Error, CodecError, struct.error, IndexError, ValueError) as exc:
        media.error = str(exc) or type(exc).__name__
    if container != "unknown":
        _decode(data if container == "ts" else init_bytes + data, container, media)
    return media


# MPEG-TS


def _unwrap(value: int, reference: int) -> int:
    """``value`` (33-bit) moved to the wrap cycle nearest ``reference``."""
    delta = (value - reference) % PTS_MODULUS
    if delta >= PTS_MODULUS // 2:
        delta -= PTS_MODULUS
    return reference + delta


def _analyse_ts(data: bytes, media: SegmentMedia) -> None:
    demuxer, packets = demux(data)
    media.programs = len(demuxer.pat.programs) if demuxer.pat is not None else 0
    pmt_pids = set(demuxer.pat.programs.values()) if demuxer.pat is not None else set()
    first = demuxer.first_pids
    media.first_pids = list(first)
    media.psi_first = len(first) == 2 and first[0] == PAT_PID and first[1] in pmt_pids
    video = [p for p in packets if p.stream_type in VIDEO_STREAM_TYPES]
    audio = [p for p in packets if p.stream_type == STREAM_TYPE_ADTS]
    if video:
        codec = VIDEO_STREAM_TYPES[video[0].stream_type]
        media.tracks.append(_ts_video(codec, video, media))
    if audio:
        media.tracks.append(_ts_audio(audio))


def _ts_video(codec: VideoCodec, packets: list, media: SegmentMedia) -> Track:  # type: ignore[type-arg]
    reference = packets[0].dts if packets[0].dts is not None else packets[0].pts or 0
    decode_times: list[int] = []
    presentation: list[int] = []
    codec_string = str(codec)
    for index, packet in enumerate(packets):
        pts = packet.pts
        dts = packet.dts if packet.dts is not None else pts
        if pts is None or dts is None:
            raise TsError(f"video PES {index} has no PTS")
        decode_times.append(_unwrap(dts, reference))
        presentation.append(_unwrap(pts, reference))
        nalus = split_annexb(packet.data)
        if index == 0:
            media.starts_with_keyframe = any(is_irap(codec, nal) for nal in nalus if nal)
        for nal in nalus:
            if not nal:
                continue
            if codec_string == str(codec) and nal_type(codec, nal) in (H264_NAL_SPS, H265_NAL_SPS):
                codec_string = _sps_codec_string(codec, nal) or codec_string
        _collect_stamps(packet.data, media)
    duration = _typical_delta(decode_times)
    return Track(
        "video",
        codec_string,
        decode_times[0] / TS_CLOCK,
        (decode_times[-1] + duration) / TS_CLOCK,
        min(presentation) / TS_CLOCK,
        len(packets),
        duration / TS_CLOCK,
    )


def _ts_audio(packets: list) -> Track:  # type: ignore[type-arg]
    reference = packets[0].pts or 0
    start = end = None
    frames = 0
    codec_string = "mp4a"
    sample_rate = 0
    for index, packet in enumerate(packets):
        if packet.pts is None:
            raise TsError(f"audio PES {index} has no PTS")
        pts = _unwrap(packet.pts, reference)
        count = 0
        for header, _ in split_adts(packet.data):
            count += 1
            sample_rate = header.sample_rate
            if codec_string == "mp4a":
                codec_string = header.audio_specific_config().codec_string
        if not sample_rate:
            continue
        frame_ticks = AAC_FRAME_SAMPLES * TS_CLOCK / sample_rate
        start = pts if start is None else start
        end = pts + count * frame_ticks
        frames += count
    if start is None or end is None:
        raise TsError("audio PES packets without ADTS frames")
    return Track(
        "audio",
        codec_string,
        start / TS_CLOCK,
        end / TS_CLOCK,
        start / TS_CLOCK,
        frames,
        AAC_FRAME_SAMPLES / sample_rate,
    )


def _typical_delta(times: list[int]) -> int:
    deltas = [b - a for a, b in itertools.pairwise(times) if b > a]
    return round(statistics.median(deltas)) if deltas else 0


def _sps_codec_string(codec: VideoCodec, nal: bytes) -> str | None:
    try:
        if codec is VideoCodec.H264:
            return H264Sps.parse(nal).codec_string
        return H265Sps.parse(nal).codec_string
    except CodecError:
        return None


def _collect_stamps(data: bytes, media: SegmentMedia) -> None:
    offset = find_stamp(data)
    while offset >= 0:
        try:
            stamp = Stamp.parse(data, offset)
        except CodecError:
            stamp = None
        if stamp is not None:
            media.stamps.append(Stamped(stamp.frame_index, stamp.wallclock_us))
        offset = find_stamp(data, offset + SEI_PAYLOAD_SIZE)


# fMP4


def top_level_boxes(data: bytes) -> list[tuple[int, Box]]:
    """Each top-level box with its offset in ``data``."""
    boxes = []
    offset = 0
    for item in walk(data):
        boxes.append((offset, item))
        (size,) = struct.unpack_from(">I", data, offset)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        elif size == 0:
            size = len(data) - offset
        offset += size
    return boxes


def analyse_init(data: bytes) -> InitInfo:
    """The boxes and track configurations of an fMP4 init section."""
    info = InitInfo()
    try:
        boxes = [b for _, b in top_level_boxes(data)]
        info.boxes = [b.kind for b in boxes]
        moov = next((b for b in boxes if b.kind == "moov"), None)
        if moov is None:
            info.error = "no moov box"
            return info
        children = moov.children()
        mvex = next((c for c in children if c.kind == "mvex"), None)
        info.has_mvex = mvex is not None
        defaults: dict[int, tuple[int, int]] = {}
        if mvex is not None:
            for trex in (c for c in mvex.children() if c.kind == "trex"):
                _, _, rest = trex.full_header()
                track_id, _, duration, _, flags = struct.unpack_from(">5I", rest)
                defaults[track_id] = (duration, flags)
        for trak in (c for c in children if c.kind == "trak"):
            config = _track_config(trak)
            config.default_duration, config.default_flags = defaults.get(config.track_id, (0, 0))
            info.tracks[config.track_id] = config
    except (Fmp4Error, CodecError, struct.error, IndexError, ValueError) as exc:
        info.error = str(exc) or type(exc).__name__
    return info


def _track_config(trak: Box) -> TrackConfig:
    tkhd = trak.child("tkhd")
    version, _, rest = tkhd.full_header()
    track_id = struct.unpack_from(">I", rest, 16 if version == 1 else 8)[0]
    mdia = trak.child("mdia")
    version, _, rest = mdia.child("mdhd").full_header()
    timescale = struct.unpack_from(">I", rest, 16 if version == 1 else 8)[0]
    _, _, rest = mdia.child("hdlr").full_header()
    handler = rest[4:8].decode("latin-1")
    stsd = mdia.child("minf").child("stbl").child("stsd")
    _, _, rest = stsd.full_header()
    entries = list(walk(rest[4:]))
    entry = entries[0] if entries else None
    kind = {"vide": "video", "soun": "audio"}.get(handler, handler)
    config = TrackConfig(track_id, kind, timescale, entry.kind if entry else "?")
    if entry is None:
        return config
    if entry.kind in ("avc1", "avc3", "hvc1", "hev1"):
        # VisualSampleEntry: 8 bytes of SampleEntry, 70 of visual fields, then child boxes.
        for child in walk(entry.payload[78:]):
            if child.kind == "avcC":
                record = AvcDecoderConfigurationRecord.parse(child.payload)
                config.codec = record.codec_string.replace("avc1", entry.kind, 1)
                config.video_codec = VideoCodec.H264
                config.length_size = record.length_size
            elif child.kind == "hvcC":
                hevc = HevcDecoderConfigurationRecord.parse(child.payload)
                config.codec = hevc.codec_string.replace("hvc1", entry.kind, 1)
                config.video_codec = VideoCodec.H265
                config.length_size = hevc.length_size
    elif entry.kind == "mp4a":
        # AudioSampleEntry: 8 bytes of SampleEntry, 20 of audio fields, then esds.
        for child in walk(entry.payload[28:]):
            if child.kind == "esds":
                asc = _decoder_specific_info(child.full_header()[2])
                if asc is not None:
                    config.codec = AudioSpecificConfig.parse(asc).codec_string
    return config


def _decoder_specific_info(data: bytes) -> bytes | None:
    """The DecoderSpecificInfo (the AudioSpecificConfig) inside an esds's descriptors
    (ISO/IEC 14496-1 §7.2.6.5 ES_Descriptor, §7.2.6.6 DecoderConfigDescriptor)."""
    pos = 0
    while pos < len(data):
        tag = data[pos]
        pos += 1
        size = 0
        for _ in range(4):
            byte = data[pos]
            pos += 1
            size = size << 7 | byte & 0x7F
            if not byte & 0x80:
                break
        if tag == DECODER_SPECIFIC_INFO_TAG:
            return data[pos : pos + size]
        if tag == ES_DESCRIPTOR_TAG:
            flags = data[pos + 2]
            pos += 3
            if flags & 0x80:  # streamDependenceFlag: dependsOn_ES_ID
                pos += 2
            if flags & 0x40:  # URL_Flag: URLlength and URLstring
                pos += 1 + data[pos]
            if flags & 0x20:  # OCRstreamFlag: OCR_ES_Id
                pos += 2
            continue  # the nested descriptors follow
        if tag == DECODER_CONFIG_DESCRIPTOR_TAG:
            pos += 13  # objectTypeIndication .. avgBitrate, then nested descriptors
            continue
        pos += size
    return None


def _analyse_fmp4(data: bytes, init: InitInfo | None, media: SegmentMedia) -> None:
    boxes = top_level_boxes(data)
    media.top_boxes = [b.kind for _, b in boxes]
    if init is None or init.error:
        raise Fmp4Error("no usable Media Initialization Section (EXT-X-MAP)")
    timelines: dict[int, list[tuple[int, int, int, bool, int, int]]] = {}
    for offset, moof in ((o, b) for o, b in boxes if b.kind == "moof"):
        for traf in (c for c in moof.children() if c.kind == "traf"):
            _traf_samples(data, offset, traf, init, timelines, media)
    for kind in ("video", "audio"):
        for track_id, samples in timelines.items():
            config = init.tracks.get(track_id)
            if config is None or config.kind != kind or not samples:
                continue
            scale = config.timescale
            decode = [s[0] for s in samples]
            last_duration = samples[-1][1]
            media.tracks.append(
                Track(
                    kind,
                    config.codec,
                    decode[0] / scale,
                    (decode[-1] + last_duration) / scale,
                    min(s[0] + s[5] for s in samples) / scale,
                    len(samples),
                    statistics.median(s[1] for s in samples) / scale,
                )
            )
    for _, mdat in ((o, b) for o, b in boxes if b.kind == "mdat"):
        _collect_stamps(mdat.payload, media)


def _traf_samples(
    data: bytes,
    moof_offset: int,
    traf: Box,
    init: InitInfo,
    timelines: dict[int, list[tuple[int, int, int, bool, int, int]]],
    media: SegmentMedia,
) -> None:
    children = traf.children()
    tfhd = next(c for c in children if c.kind == "tfhd")
    _, flags, rest = tfhd.full_header()
    (track_id,) = struct.unpack_from(">I", rest)
    config = init.tracks.get(track_id)
    pos = 4
    base = moof_offset
    if flags & TFHD_BASE_DATA_OFFSET:
        (base,) = struct.unpack_from(">Q", rest, pos)
        pos += 8
    if flags & TFHD_SAMPLE_DESCRIPTION_INDEX:
        pos += 4
    default_duration = config.default_duration if config else 0
    default_size = 0
    default_flags = config.default_flags if config else 0
    if flags & TFHD_DEFAULT_SAMPLE_DURATION:
        (default_duration,) = struct.unpack_from(">I", rest, pos)
        pos += 4
    if flags & TFHD_DEFAULT_SAMPLE_SIZE:
        (default_size,) = struct.unpack_from(">I", rest, pos)
        pos += 4
    if flags & TFHD_DEFAULT_SAMPLE_FLAGS:
        (default_flags,) = struct.unpack_from(">I", rest, pos)
    tfdt_box = next((c for c in children if c.kind == "tfdt"), None)
    if tfdt_box is None:
        media.missing_tfdt.append(track_id)
        return
    time = Tfdt.parse(tfdt_box).base_media_decode_time
    samples = timelines.setdefault(track_id, [])
    for trun_box in (c for c in children if c.kind == "trun"):
        trun = Trun.parse(trun_box)
        position = base + (trun.data_offset or 0)
        for index, entry in enumerate(trun.entries):
            duration = entry.duration if entry.duration is not None else default_duration
            size = entry.size if entry.size is not None else default_size
            sample_flags = entry.flags if entry.flags is not None else default_flags
            if index == 0 and trun.first_sample_flags is not None:
                sample_flags = trun.first_sample_flags
            sync = not sample_flags & SAMPLE_IS_NON_SYNC
            offset = entry.composition_offset or 0
            if (
                not samples
                and config is not None
                and config.kind == "video"
                and config.video_codec is not None
            ):
                nalus = split_length_prefixed(data[position : position + size], config.length_size)
                media.starts_with_keyframe = any(
                    is_irap(config.video_codec, nal) for nal in nalus if nal
                )
            samples.append((time, duration, size, sync, position, offset))
            time += duration
            position += size


# Decoding


def _decode(data: bytes, container: str, media: SegmentMedia) -> None:
    """Decode every video and audio packet with FFmpeg; the first damage found is kept.

    ``err_detect=explode`` makes the decoders stop on some damage; other damage they conceal
    and only log ("concealing 108 DC, 108 AC, 108 MV errors in I frame"), so their log is
    captured (this thread's only) and an error, or a concealment, counts too. Video before
    the first keyframe is skipped: a segment that does not start with one is judged by its own
    case, not as undecodable.
    """
    previous_level = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)
    try:
        with av.logging.Capture(local=True) as logs:
            first = _decode_packets(data, container, media, logs)
    finally:
        av.logging.set_level(previous_level)
    if not media.decode_error:
        damage = next((entry for entry in logs[first:] if _is_damage(entry)), None)
        if damage is not None:
            _, name, message = damage
            media.decode_error = f"{name}: {message.strip()}"


def _is_damage(entry: tuple[int, str, str]) -> bool:
    level, name, message = entry
    if name in ("mpegts", "mov,mp4,m4a,3gp,3g2,mj2"):
        return False  # the container's complaints are the structure cases' business
    return level <= av.logging.ERROR or "concealing" in message


def _decode_packets(
    data: bytes, container: str, media: SegmentMedia, logs: list[tuple[int, str, str]]
) -> int:
    """Decode; returns how many log entries came before the first keyframe (the parser's
    complaints about pictures that are skipped)."""
    first = 0
    try:
        with av.open(io.BytesIO(data), "r", format="mpegts" if container == "ts" else "mp4") as box:
            video = list(box.streams.video[:1])
            audio = list(box.streams.audio[:1])
            for stream in (*video, *audio):
                stream.codec_context.options = {"err_detect": "explode"}
            seen_keyframe = False
            for packet in box.demux(*video, *audio):
                if packet.size == 0:
                    continue
                is_video = packet.stream.type == "video"
                if is_video and not seen_keyframe:
                    if not packet.is_keyframe:
                        continue
                    seen_keyframe = True
                    first = len(logs)
                frames = packet.decode()
                if is_video:
                    media.frames_decoded += len(frames)
            for stream in video:
                media.frames_decoded += len(stream.decode(None))
    except av.FFmpegError as exc:
        media.decode_error = f"{type(exc).__name__}: {exc}"
    except (ValueError, IndexError, OSError) as exc:
        media.decode_error = f"{type(exc).__name__}: {exc}"
    return first
