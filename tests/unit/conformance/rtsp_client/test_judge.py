"""rtsp-client's frame judging: stamps in output order against a camera's looping sample."""

from __future__ import annotations

import pytest

from conformance.hls.media import Stamped
from conformance.suites.rtsp_client.judge import Break, judge_frames, problems

FRAMES = 150  # a 10 s loop at 15 fps
FRAME_US = 66_667
START_US = 1_700_000_000_000_000


def sent(first_index: int, count: int, *, at_us: int = START_US) -> list[Stamped]:
    """``count`` consecutive frames of the loop from ``first_index``, as the camera sends them."""
    return [Stamped((first_index + n) % FRAMES, at_us + n * FRAME_US) for n in range(count)]


def test_every_frame_in_order_across_the_loop_has_no_problem() -> None:
    stamps = sent(140, 40)  # crosses the loop: 149 then 0
    judgement = judge_frames(stamps, FRAMES)
    assert judgement.frames == 40
    assert judgement.breaks == []
    assert judgement.duplicates == []
    assert judgement.reordered == []
    assert problems(judgement, must_reach_us=stamps[-1].wallclock_us) == []


def test_lost_frames_are_a_break_with_their_count() -> None:
    stamps = sent(0, 10) + sent(13, 10, at_us=START_US + 13 * FRAME_US)
    judgement = judge_frames(stamps, FRAMES)
    assert judgement.breaks == [Break(10, 3, (13 * FRAME_US - 9 * FRAME_US) / 1e6)]
    found = problems(judgement)
    assert found == [
        "1 breaks in the frame sequence (none allowed): 3 frames missing before output frame 10"
    ]


def test_a_frame_output_twice_is_named() -> None:
    stamps = sent(0, 5)
    stamps.insert(3, stamps[2])
    judgement = judge_frames(stamps, FRAMES)
    assert judgement.duplicates == [3]
    assert problems(judgement) == ["1 frames output twice (first at output frame 3)"]


def test_a_frame_sent_earlier_after_a_later_one_is_out_of_order() -> None:
    stamps = sent(0, 6)
    stamps[2], stamps[3] = stamps[3], stamps[2]
    judgement = judge_frames(stamps, FRAMES)
    assert judgement.reordered == [3]
    assert "1 frames out of sending order (first at output frame 3)" in problems(judgement)


def test_a_restart_is_one_allowed_break_within_its_gap() -> None:
    before = sent(0, 75)
    after = sent(7, 60, at_us=before[-1].wallclock_us + 4_000_000)  # a new camera, 4 s later
    judgement = judge_frames(before + after, FRAMES)
    assert len(judgement.breaks) == 1
    assert judgement.breaks[0].gap_s == pytest.approx(4.0)
    assert problems(judgement, allowed_breaks=1, allowed_gap_s=10.0) == []
    assert problems(judgement, allowed_breaks=1, allowed_gap_s=3.0) == [
        "the stream resumed 4.0 s after it stopped (at most 3 s allowed), at output frame 75"
    ]


def test_output_that_stops_early_has_not_recovered() -> None:
    stamps = sent(0, 45)  # 3 s of frames
    judgement = judge_frames(stamps, FRAMES)
    found = problems(judgement, must_reach_us=START_US + 10_000_000)
    assert len(found) == 1
    assert found[0].startswith("the output stops 7.1 s before the point it must reach")


def test_no_output_at_all() -> None:
    assert problems(judge_frames([], FRAMES)) == [
        "the output holds no frame of the camera's stream"
    ]


def test_a_frame_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="frame_count must be at least 1"):
        judge_frames([], 0)
