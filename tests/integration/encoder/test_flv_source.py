"""The plan built from a sample, and a stream's cursor through it (no sockets)."""

from __future__ import annotations

import random
from fractions import Fraction

from camsim.encoder.flv_source import FlvPlan, TagCursor
from camsim.encoder.publisher import Backoff
from wire import flv
from wire.codec.nal import VideoCodec
from wire.codec.stamp import read_stamp_length_prefixed


def test_plan_holds_one_repetition(short_plan: FlvPlan):
    video = [f for f in short_plan.frames if f.type_id == flv.TAG_TYPE_VIDEO]
    audio = [f for f in short_plan.frames if f.type_id == flv.TAG_TYPE_AUDIO]
    assert short_plan.period == Fraction(1)
    assert short_plan.video_frames_per_loop == len(video) == 15
    assert [f.offset_ms for f in video] == [round(i * 1000 / 15) for i in range(15)]
    assert [f.frame_index for f in video] == list(range(15))
    # Audio that would overlap the next repetition is left out: 46 whole frames in 1 s.
    assert len(audio) == 46
    assert all(f.offset_ms < 1000 for f in audio)
    # A keyframe every 0.4 s: frames 0, 6 and 12.
    assert [short_plan.frames[i].offset_ms for i in short_plan.keyframes] == [0, 400, 800]
    assert short_plan.fourcc is None


def test_cursor_loops_with_continuous_timestamps_and_frame_indexes(short_plan: FlvPlan):
    cursor = TagCursor(short_plan, start_timestamp=0xFFFFFFFF - 500)
    seen = []
    while cursor.due_ms < 2100:
        frame = cursor.frame
        if frame.type_id == flv.TAG_TYPE_VIDEO:
            stamp = read_stamp_length_prefixed(
                VideoCodec.H264, flv.VideoTag.parse(cursor.body(1_700_000_000_000_000)).data
            )
            assert stamp is not None
            seen.append((cursor.due_ms, cursor.timestamp, stamp.frame_index, stamp.wallclock_us))
        cursor.advance()
    assert [due for due, _, _, _ in seen] == [round(i * 1000 / 15) for i in range(32)]
    assert [index for _, _, index, _ in seen] == list(range(32))
    assert {wallclock for _, _, _, wallclock in seen} == {1_700_000_000_000_000}
    # The wire timestamp wraps at 2^32 like every RTMP timestamp.
    assert [ts for _, ts, _, _ in seen][:2] == [0xFFFFFFFF - 500, 0xFFFFFFFF - 433]
    assert seen[-1][1] == (0xFFFFFFFF - 500 + 2067) & 0xFFFFFFFF


def test_patching_never_changes_a_body_length(short_plan: FlvPlan):
    cursor = TagCursor(short_plan)
    lengths = [len(f.body) for f in short_plan.frames]
    for _ in range(len(short_plan.frames) * 2):
        cursor.body(2**69)
        cursor.advance()
    assert [len(f.body) for f in short_plan.frames] == lengths


def test_seek_goes_to_the_next_keyframe(short_plan: FlvPlan):
    cursor = TagCursor(short_plan, start_timestamp=1000)
    cursor.seek_keyframe(401)
    assert (cursor.due_ms, cursor.timestamp, cursor.frame.keyframe) == (800, 1800, True)
    cursor.seek_keyframe(2801)  # past the last keyframe of loop 2: the first one of loop 3
    assert (cursor.loop, cursor.index, cursor.due_ms) == (3, 0, 3000)
    cursor.seek_keyframe(400)
    assert cursor.due_ms == 400


def test_backoff_is_capped_and_jittered():
    highs = Backoff(initial=0.5, cap=4.0, random=lambda: 1.0)
    assert [highs.delay(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert Backoff(initial=0.5, cap=4.0, random=lambda: 0.0).delay(1) == 0.5
    backoff = Backoff(initial=0.5, cap=4.0, random=random.Random(1).random)
    delays = [backoff.delay(10) for _ in range(50)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) == 50
    assert highs.delay(10_000) == 4.0
