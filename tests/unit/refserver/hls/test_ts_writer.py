"""The TS segment writer gathers AAC frames into PES packets the way FFmpeg and nginx-rtmp do."""

from __future__ import annotations

from refserver.hls import Frame
from refserver.hls.ts import AUDIO_PES_BYTES, AUDIO_PES_TICKS, TsSegmentWriter
from tests.unit.refserver.hls.streams import AUDIO, AUDIO_TICKS, VIDEO, video_frames
from wire.codec.aac import split_adts
from wire.ts import PID_AUDIO, demux


def audio_pes(segment: bytes) -> list[tuple[int | None, list[bytes]]]:
    """Each audio PES of a segment: its PTS and the raw frames behind the ADTS headers."""
    _, packets = demux(segment)
    return [
        (pes.pts, [raw for _, raw in split_adts(pes.data)])
        for pes in packets
        if pes.pid == PID_AUDIO
    ]


def written(frames: list[Frame]) -> bytes:
    writer = TsSegmentWriter(VIDEO, AUDIO)
    writer.begin()
    for frame in frames:
        writer.add(frame)
    return writer.end(0)


def aac(index: int, size: int = 40) -> Frame:
    return Frame.audio(index * AUDIO_TICKS, bytes([0x21, index % 256]) + bytes(size - 2))


def test_consecutive_frames_share_a_pes_that_keeps_every_frame() -> None:
    frames = [aac(n) for n in range(10)]
    pes = audio_pes(written(frames))
    assert pes == [(0, [frame.data for frame in frames])]


def test_a_pes_spans_at_most_the_maximum_delay() -> None:
    per_pes = -(-AUDIO_PES_TICKS // AUDIO_TICKS)  # frames starting within 300 ms
    frames = [aac(n) for n in range(2 * per_pes + 3)]
    pes = audio_pes(written(frames))
    assert [len(raws) for _, raws in pes] == [per_pes, per_pes, 3]
    assert [pts for pts, _ in pes] == [0, per_pes * AUDIO_TICKS, 2 * per_pes * AUDIO_TICKS]
    assert [raw for _, raws in pes for raw in raws] == [frame.data for frame in frames]


def test_a_pes_holds_at_most_the_payload_size() -> None:
    frames = [aac(n, size=1000) for n in range(5)]
    pes = audio_pes(written(frames))
    assert [len(raws) for _, raws in pes] == [2, 2, 1]
    assert all(sum(len(raw) for raw in raws) <= AUDIO_PES_BYTES for _, raws in pes)


def test_a_gap_in_the_audio_starts_a_new_pes_at_the_frames_own_time() -> None:
    frames = [aac(0), aac(1), aac(5), aac(6)]
    pes = audio_pes(written(frames))
    assert [(pts, len(raws)) for pts, raws in pes] == [(0, 2), (5 * AUDIO_TICKS, 2)]


def test_audio_is_flushed_at_the_end_of_each_segment() -> None:
    writer = TsSegmentWriter(VIDEO, AUDIO)
    writer.begin()
    for frame in [*video_frames(2), aac(0), aac(1)]:
        writer.add(frame)
    first = writer.end(0)
    writer.begin()
    writer.add(aac(2))
    second = writer.end(0)
    assert [(pts, len(raws)) for pts, raws in audio_pes(first)] == [(0, 2)]
    assert [(pts, len(raws)) for pts, raws in audio_pes(second)] == [(2 * AUDIO_TICKS, 1)]
