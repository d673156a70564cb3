from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtp import RtpTimeline
from wire.rtp.timeline import MAX_STEP_SECONDS

FRAME = 6000  # 15 fps at 90 kHz


def test_the_first_packet_starts_the_timeline_and_wraps_are_invisible() -> None:
    timeline = RtpTimeline(90_000)
    start = 0xFFFF_FFFF - FRAME  # wraps after the second frame
    timeline.first_packet(100, start)
    stamps = [(start + i * FRAME) & 0xFFFF_FFFF for i in range(4)]
    assert [timeline.ticks(t) for t in stamps] == [0, FRAME, 2 * FRAME, 3 * FRAME]
    assert timeline.jumps == 0
    assert timeline.announcement_ignored is False


def test_an_announcement_the_first_packet_agrees_with_is_the_start() -> None:
    # The video's first packet is the keyframe 0.5 s after the PLAY range starts.
    timeline = RtpTimeline(90_000)
    timeline.announce(1_000_000, seq=7)
    timeline.first_packet(7, 1_045_000)
    assert timeline.ticks(1_045_000) == 45_000
    assert timeline.announcement_ignored is False


@pytest.mark.parametrize(
    ("rtptime", "seq"),
    [
        (1_090_000, 7),  # the packet comes before the announced start (Hikvision, Tapo)
        (1_000_000, 1007),  # another sequence number than announced
        (1_000_000 - 11 * 90_000, 7),  # a start further back than any pause
    ],
)
def test_an_announcement_the_first_packet_contradicts_is_ignored(rtptime: int, seq: int) -> None:
    timeline = RtpTimeline(90_000)
    timeline.announce(rtptime, seq)
    timeline.first_packet(7, 1_000_000)
    assert timeline.ticks(1_000_000) == 0
    assert timeline.ticks(1_000_000 + FRAME) == FRAME
    assert timeline.announcement_ignored is True


def test_an_announcement_after_the_first_packet_changes_nothing() -> None:
    timeline = RtpTimeline(48_000)
    timeline.first_packet(1, 5000)
    assert timeline.ticks(5000) == 0
    timeline.announce(4000, 1)
    assert timeline.ticks(6024) == 1024
    assert timeline.announcement_ignored is True


def test_an_announcement_without_seq_is_checked_on_time_alone() -> None:
    timeline = RtpTimeline(90_000)
    timeline.announce(2000)
    timeline.first_packet(55, 2000)
    assert timeline.ticks(2000) == 0
    assert timeline.announcement_ignored is False


@pytest.mark.parametrize("jump", [3 * 3600 * 90_000, -3600 * 90_000, 11 * 90_000])
def test_a_clock_jump_is_taken_out(jump: int) -> None:
    timeline = RtpTimeline(90_000)
    timeline.first_packet(0, 0)
    before = [timeline.ticks(i * FRAME) for i in range(3)]
    after = [timeline.ticks((jump + (3 + i) * FRAME) & 0xFFFF_FFFF) for i in range(3)]
    assert before + after == [i * FRAME for i in range(6)]
    assert timeline.jumps == 1


def test_a_pause_shorter_than_the_limit_is_kept() -> None:
    timeline = RtpTimeline(90_000)
    timeline.first_packet(0, 0)
    assert timeline.ticks(0) == 0
    gap = round(MAX_STEP_SECONDS * 90_000)
    assert timeline.ticks(gap) == gap
    assert timeline.jumps == 0


def test_reordered_pictures_step_back_without_a_jump() -> None:
    timeline = RtpTimeline(90_000)
    timeline.first_packet(0, 0)
    stamps = [0, 3 * FRAME, FRAME, 2 * FRAME, 6 * FRAME]
    assert [timeline.ticks(t) for t in stamps] == stamps
    # After a jump the timeline follows on by the last forward step, not the reordering.
    assert timeline.ticks(6 * FRAME + 20 * 90_000) == 6 * FRAME + 4 * FRAME


def test_reset_forgets_the_session() -> None:
    timeline = RtpTimeline(90_000)
    timeline.announce(0, 0)
    timeline.first_packet(0, 90_000 * 60)
    timeline.ticks(90_000 * 60)
    timeline.reset()
    timeline.first_packet(9, 123)
    assert timeline.ticks(123) == 0
    assert (timeline.jumps, timeline.announcement_ignored) == (0, False)


def test_a_clock_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^clock rate 0 is not positive$"):
        RtpTimeline(0)


@settings(max_examples=200)
@given(st.lists(st.integers(0, 0xFFFF_FFFF), min_size=1, max_size=50))
def test_no_step_is_ever_longer_than_the_limit(stamps: list[int]) -> None:
    timeline = RtpTimeline(90_000)
    timeline.first_packet(0, stamps[0])
    ticks = [timeline.ticks(t) for t in stamps]
    assert ticks[0] == 0
    limit = round(MAX_STEP_SECONDS * 90_000)
    assert all(abs(b - a) <= limit for a, b in itertools.pairwise(ticks))
