"""Real HLS segments for the mutant target, made from the test sample with refserver's own
segment writers (MPEG-TS and fMP4), and the byte-level breakages some mutations need.

The sample (1 s GOPs, 15 fps, AAC) is looped with continuous timestamps and cut at every
keyframe, so segment k holds GOP k: 1 s of media, like refserver with --target-duration 1.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from camsim.media.loader import MediaKind, load
from refserver.hls.fmp4 import Fmp4SegmentWriter
from refserver.hls.media import AudioConfig, Frame, VideoConfig
from refserver.hls.ts import TsSegmentWriter
from wire.codec.aac import AudioSpecificConfig
from wire.fmp4 import box, walk
from wire.ts import TS_PACKET_SIZE, Pat, TsPacket
from wire.ts.packet import PID_NULL

CLOCK = 90_000
PMT_PID = 0x1000


@dataclass(frozen=True)
class Segment:
    """One segment: its bytes, EXTINF (seconds) and the index of its first GOP."""

    data: bytes
    duration: float
    index: int


@dataclass(frozen=True)
class Gop:
    frames: tuple[Frame, ...]  # video and audio in decode order, 90 kHz
    start: int  # dts of the keyframe
    end: int  # dts of the next keyframe


@dataclass(frozen=True)
class Source:
    """The looped sample as GOPs, with the track configurations the writers need."""

    gops: tuple[Gop, ...]
    video: VideoConfig
    audio: AudioConfig
    frame_ticks: int

    @classmethod
    def load(cls, path: Path, loops: int) -> Source:
        sample = load(path)
        assert sample.video is not None
        assert sample.audio is not None
        video = VideoConfig(sample.video.codec, sample.video.parameter_sets)
        audio = AudioConfig(AudioSpecificConfig.parse(sample.audio.asc))
        frames: list[Frame] = []
        for unit in sample.loop(loops):
            if unit.kind is MediaKind.VIDEO:
                frames.append(Frame.video(unit.pts, unit.dts, unit.nalus, unit.keyframe))
            else:
                pts = unit.pts * CLOCK // unit.clock_rate
                frames.append(Frame.audio(pts, unit.data))
        keyframes = [f.dts for f in frames if f.kind.value == "video" and f.keyframe]
        keyframes.append(keyframes[-1] + (keyframes[-1] - keyframes[-2]))
        gops = []
        for start, end in itertools.pairwise(keyframes):
            gop = tuple(f for f in frames if start <= f.dts < end)
            gops.append(Gop(gop, start, end))
        return cls(tuple(gops), video, audio, sample.video.frame_duration)


def shift(frames: tuple[Frame, ...], ticks: int) -> tuple[Frame, ...]:
    return tuple(replace(f, pts=f.pts + ticks, dts=f.dts + ticks) for f in frames)


def write_segments(
    source: Source,
    fmp4: bool,
    *,
    offset_frames: int = 0,
    jump_every: int = 0,
    jump_ticks: int = 0,
) -> tuple[bytes, list[Segment]]:
    """Every GOP as a segment (``offset_frames`` moves the cuts that many video frames past
    each keyframe; ``jump_every`` adds ``jump_ticks`` to the timestamps every that many
    segments). Returns the init section (fMP4) and the segments."""
    writer: TsSegmentWriter | Fmp4SegmentWriter
    if fmp4:
        writer = Fmp4SegmentWriter(source.video, source.audio)
        init = writer.configure(source.video, source.audio) or b""
    else:
        writer = TsSegmentWriter(source.video, source.audio)
        init = b""
    frames = [f for gop in source.gops for f in gop.frames]
    cuts = [gop.start + offset_frames * source.frame_ticks for gop in source.gops]
    segments = []
    for index, (start, end) in enumerate(itertools.pairwise(cuts)):
        chunk = tuple(f for f in frames if start <= f.dts < end)
        ticks = (index // jump_every) * jump_ticks if jump_every else 0
        writer.begin()
        for frame in shift(chunk, ticks):
            writer.add(frame)
        data = writer.end(end + ticks)
        segments.append(Segment(data, (end - start) / CLOCK, index))
    return init, segments


# Byte-level breakages.


def _packets(data: bytes) -> list[bytes]:
    return [data[i : i + TS_PACKET_SIZE] for i in range(0, len(data), TS_PACKET_SIZE)]


def two_programs(data: bytes) -> bytes:
    """The PAT lists a second program (whose PMT never comes)."""
    out = []
    for raw in _packets(data):
        packet = TsPacket.parse(raw)
        if packet.pid == 0 and packet.payload_unit_start:
            section = Pat({1: PMT_PID, 2: 0x1FF0}).serialize()
            payload = b"\x00" + section
            payload += b"\xff" * (len(packet.payload) - len(payload))
            raw = replace(packet, payload=payload).serialize()
        out.append(raw)
    return b"".join(out)


def null_packet_first(data: bytes) -> bytes:
    """A null packet ahead of the PAT."""
    null = TsPacket(PID_NULL, 0, b"\xff" * (TS_PACKET_SIZE - 4)).serialize()
    return null + data


def corrupt_slice(data: bytes, video_pid: int = 0x100) -> bytes:
    """Scramble the middle third of the keyframe's TS packets: its start (parameter sets, the
    encoder's SEI, the stamp, the slice header) stays intact, so the segment still demuxes and
    starts with a keyframe, but the picture no longer decodes."""
    packets = [bytearray(p) for p in _packets(data)]
    video = [p for p in packets if ((p[1] & 0x1F) << 8 | p[2]) == video_pid]
    starts = [i for i, p in enumerate(video) if p[1] & 0x40]
    first_picture = video[starts[0] : starts[1] if len(starts) > 1 else len(video)]
    third = len(first_picture) // 3
    for packet in first_picture[third : 2 * third]:
        if packet[3] & 0x20:  # adaptation field: leave it alone
            continue
        for i in range(8, TS_PACKET_SIZE):
            packet[i] ^= 0x5A
    return b"".join(bytes(p) for p in packets)


def init_without_ftyp(init: bytes) -> bytes:
    return b"".join(
        box(b.kind.encode("latin-1"), b.payload) for b in walk(init) if b.kind != "ftyp"
    )


def drop_audio_tfdt(segment: bytes, audio_track_id: int = 2) -> bytes:
    """Remove the tfdt of the audio track fragment, moving every trun data offset by the
    bytes removed so the samples are still found."""
    out = []
    for item in walk(segment):
        if item.kind != "moof":
            out.append(box(item.kind.encode("latin-1"), item.payload))
            continue
        removed = 0
        for child in item.children():
            if child.kind == "traf":
                for grandchild in child.children():
                    if grandchild.kind == "tfhd":
                        (track_id,) = struct.unpack_from(">I", grandchild.payload, 4)
                    if grandchild.kind == "tfdt" and track_id == audio_track_id:
                        removed += 8 + len(grandchild.payload)
        moof_children = []
        for child in item.children():
            if child.kind != "traf":
                moof_children.append(box(child.kind.encode("latin-1"), child.payload))
                continue
            traf_children = []
            track_id = 0
            for grandchild in child.children():
                if grandchild.kind == "tfhd":
                    (track_id,) = struct.unpack_from(">I", grandchild.payload, 4)
                if grandchild.kind == "tfdt" and track_id == audio_track_id:
                    continue
                payload = grandchild.payload
                if grandchild.kind == "trun":
                    (flags,) = struct.unpack_from(">I", payload)
                    if flags & 0x1:
                        (offset,) = struct.unpack_from(">i", payload, 8)
                        payload = payload[:8] + struct.pack(">i", offset - removed) + payload[12:]
                traf_children.append(box(grandchild.kind.encode("latin-1"), payload))
            moof_children.append(box(b"traf", *traf_children))
        out.append(box(b"moof", *moof_children))
    return b"".join(out)
