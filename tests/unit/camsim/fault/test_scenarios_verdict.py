"""Fault scenario verdicts on hand-built outputs: each rule passes a system that coped and fails
one that did not, for the reason the rule names."""

from __future__ import annotations

from camsim.fault.scenarios import get_scenario
from conformance.hls.media import SegmentMedia, Stamped, Track
from conformance.suites.resilience.verdict import (
    MEMORY_NOT_SAMPLED,
    judge,
    judge_segments,
    lost_per_second,
    output_bits,
)
from conformance.suites.rtsp_client.output import OutputSegment

STARTED_US = 1_700_000_000_000_000
FPS = 15
FRAMES = 150  # the camera's loop
MB = 1024 * 1024


def stream(*spans: tuple[float, float], start_index: int = 0) -> list[Stamped]:
    """The frames a 15 fps camera sent in each span (seconds into the run), in order, with the
    loop's frame index counting on through the gaps as the camera's does."""
    out: list[Stamped] = []
    for begin, end in spans:
        first = round(begin * FPS)
        for n in range(first, round(end * FPS)):
            out.append(Stamped((start_index + n) % FRAMES, STARTED_US + n * 1_000_000 // FPS))
    return out


def problems(name: str, stamps: list[Stamped], **kwargs: object) -> list[str]:
    memory = kwargs.get("memory", ())
    assert isinstance(memory, tuple)
    return judge(get_scenario(name), stamps, STARTED_US, FRAMES, memory).problems


def test_an_unbroken_stream_passes_every_network_scenario() -> None:
    whole = stream((0.2, 14.0))
    for name in ("loss-1", "loss-5-burst", "jitter-50ms", "reorder", "udp-blocked"):
        assert problems(name, whole) == [], name


def test_loss_inside_the_window_passes_outside_fails() -> None:
    inside = stream((0.2, 3.0), (3.2, 5.0), (5.5, 14.0))
    assert problems("loss-1", inside) == []
    outside = stream((0.2, 1.0), (1.3, 14.0))
    found = problems("loss-1", outside)
    assert found == ["frames lost outside the fault windows: 5 between 0.9 s and 1.3 s"]
    # Just after the window, within the recovery margin, is still the fault's doing.
    assert problems("loss-1", stream((0.2, 8.5), (9.0, 14.0))) == []
    assert problems("loss-1", stream((0.2, 10.2), (10.5, 14.0)))[0].startswith("frames lost")


def test_output_that_stops_with_the_fault_fails() -> None:
    found = problems("loss-5-burst", stream((0.2, 3.5)))
    assert found == [
        "the output stops at frames sent 3.4 s into the run (10 s expected): it did not go on "
        "after the fault"
    ]


def test_slow_recovery_after_a_window_fails() -> None:
    scenario = get_scenario("bandwidth-below-bitrate")
    # Exactly one loop (150 frames, 10 s) missing: the indexes run on, the send times do not.
    late = judge(scenario, stream((0.2, 2.0), (12.0, 14.0)), STARTED_US, FRAMES)
    assert "the output came back 6.0 s after the fault of 2-6 s ended (within 4 s expected)" in (
        late.problems
    )
    assert late.measured["frames lost"] == (150.0, "")
    good = judge(scenario, stream((0.2, 2.0), (7.0, 14.0)), STARTED_US, FRAMES)
    assert good.problems == []
    assert good.measured["window 1: frames again after its end"] == (1.0, "s")
    assert good.measured["frames lost"] == (75.0, "")


def test_a_camera_reboot_allows_one_break_and_a_new_stream() -> None:
    # A new stream after the reboot: the loop starts again from frame 0.
    rebooted = stream((0.2, 4.0)) + stream((7.0, 16.0), start_index=-105)
    verdict = judge(get_scenario("camera-reboot"), rebooted, STARTED_US, FRAMES)
    assert verdict.problems == []
    # Counted by send time (3 s at 15 fps), not by the new stream's restarted indexes.
    assert verdict.measured["frames lost"] == (45.0, "")
    never_back = problems("camera-reboot", stream((0.2, 4.0)))
    assert any("did not go on" in p for p in never_back)
    twice = stream((0.2, 4.0), (7.0, 9.0), (9.5, 16.0))
    assert any("3 breaks" in p or "2 breaks" in p for p in problems("camera-reboot", twice))


def test_a_tcp_drop_needs_one_break_and_no_more() -> None:
    # The puller reconnects; the camera starts the new session at its next keyframe.
    reconnected = stream((0.5, 4.0)) + stream((5.0, 16.0), start_index=-40)
    assert problems("tcp-drop-mid-frame", reconnected) == []
    # Output that runs through the fault without a break never saw it: the run proves nothing.
    unbroken = problems("tcp-drop-mid-frame", stream((0.5, 16.0)))
    assert unbroken == [
        "0 breaks in the frame sequence, where the fault cannot cause fewer than 1: it did not "
        "happen, so the run proves nothing"
    ]
    # A puller that does not reconnect stops at the drop: the reach rule says so, alone.
    stopped = problems("tcp-drop-mid-frame", stream((0.5, 4.0)))
    assert stopped == [
        "the output stops at frames sent 3.9 s into the run (12 s expected): it did not go on "
        "after the fault"
    ]
    twice = stream((0.5, 4.0), (5.0, 8.0), (9.0, 16.0))
    assert "2 breaks in the frame sequence (at most 1)" in problems("tcp-drop-mid-frame", twice)


def test_no_output_and_a_late_start_fail() -> None:
    assert problems("udp-blocked", []) == ["the output holds no frame: the stream never played"]
    late = problems("udp-blocked", stream((9.0, 14.0)))
    assert (
        late[0] == "the first frame in the output was sent 9.0 s into the run (within 8 s expected)"
    )


def test_rtp_stops_needs_frames_after_the_first_stall() -> None:
    recovered = stream((0.5, 3.0), (6.0, 9.0), (12.0, 15.0))
    assert problems("rtp-stops", recovered) == []
    stopped = problems("rtp-stops", stream((0.5, 3.0)))
    assert any("did not go on" in p for p in stopped)


def test_duplicates_and_reordering_fail() -> None:
    frames = stream((0.2, 14.0))
    doubled = frames[:50] + frames[49:]
    assert "1 frames output twice" in problems("jitter-50ms", doubled)
    swapped = [*frames[:50], frames[51], frames[50], *frames[52:]]
    assert "1 frames output out of sending order" in problems("reorder", swapped)


def test_memory_growth_is_bounded() -> None:
    frames = stream((0.2, 14.0))
    steady = ((1.0, 80 * MB), (2.0, 90 * MB), (6.0, 95 * MB), (13.0, 100 * MB))
    assert problems("loss-1", frames, memory=steady) == []
    growing = ((1.0, 80 * MB), (2.0, 90 * MB), (6.0, 150 * MB), (13.0, 200 * MB))
    assert problems("loss-1", frames, memory=growing) == [
        "resident memory grew 110 MB over the run (at most 64 MB)"
    ]
    # A fault from the start: the baseline is taken once start-up is over, not at the first
    # sample of a process still importing.
    starting = ((0.5, 20 * MB), (2.0, 70 * MB), (3.0, 80 * MB), (13.0, 100 * MB))
    assert judge(get_scenario("udp-blocked"), frames, STARTED_US, FRAMES, starting).measured[
        "memory growth"
    ] == (20.0, "MB")


def test_the_verdict_says_what_was_expected() -> None:
    expected = judge(get_scenario("camera-reboot"), [], STARTED_US, FRAMES).expected
    assert "at most 1 break(s) in the frame sequence" in expected
    assert "EXT-X-DISCONTINUITY where the new stream's timestamps jump" in expected
    assert any("4-6 s" in sentence for sentence in expected)


def test_lost_frames_are_placed_in_the_seconds_they_were_sent() -> None:
    verdict = judge(get_scenario("loss-1"), stream((0.2, 4.0), (5.0, 14.0)), STARTED_US, FRAMES)
    counts = lost_per_second(verdict.breaks, 14.0)
    assert sum(counts) == 15
    assert counts[4] >= 13
    assert counts[3] + counts[4] + counts[5] == 15


def segment(
    frames: list[Stamped], media_start: float, *, discontinuity: bool = False, audio: bool = True
) -> OutputSegment:
    """A segment of ``frames`` whose video timestamps start at ``media_start`` and keep the
    frames' send timing (as a client that carries RTP timestamps through does)."""
    first = frames[0].wallclock_us
    span = (frames[-1].wallclock_us - first) / 1e6 + 1 / FPS
    tracks = [
        Track("video", "avc1", media_start, media_start + span, media_start, len(frames), 1 / FPS)
    ]
    if audio:
        tracks.append(
            Track("audio", "mp4a.40.2", media_start, media_start + span, media_start, 1, 0.02)
        )
    media = SegmentMedia("ts", 1000, tracks=tracks, stamps=frames)
    return OutputSegment(f"s{media_start:g}.ts", discontinuity, media)


def test_segments_keep_the_send_timing_holes_included() -> None:
    frames = stream((0.2, 2.0), (3.0, 6.0))  # a second lost inside the first segment
    first, second = frames[:40], frames[40:]  # frames 3..29 and 45..57, then 58..89
    kept = [segment(first, 10.0), segment(second, 10.0 + (58 - 3) / FPS)]
    assert judge_segments(kept, FRAMES) == []
    # The hole closed up: timestamps run on as if nothing was lost, the timeline shrinks.
    squeezed = first[:]
    squeezed_segment = segment(squeezed, 10.0)
    video = squeezed_segment.media.tracks[0]
    video.end = video.start + len(squeezed) / FPS
    assert judge_segments([squeezed_segment], FRAMES) == [
        "video timestamps inside s10.ts span 2.67 s for 55 frames of the camera sent over 3.67 s"
    ]


def test_a_new_stream_needs_a_discontinuity() -> None:
    before, after = stream((0.2, 4.0)), stream((7.0, 10.0))
    # A rebooted camera's timestamps start from a new base: 1000 s, not 10 + 6.8.
    bare = [segment(before, 10.0), segment(after, 1000.0)]
    assert judge_segments(bare, FRAMES) == [
        "video timestamps jump +986.20 s into s1000.ts (the frames were sent +3.00 s apart) "
        "with no EXT-X-DISCONTINUITY before it"
    ]
    tagged = [segment(before, 10.0), segment(after, 1000.0, discontinuity=True)]
    assert judge_segments(tagged, FRAMES) == []
    # Kept on the camera's timeline across the gap: no tag needed.
    assert judge_segments([segment(before, 10.0), segment(after, 16.8)], FRAMES) == []


def test_undecodable_segments_and_missing_audio_fail() -> None:
    frames = stream((0.2, 2.0))
    broken = segment(frames, 0.0)
    broken.media.decode_error = "no keyframe"
    assert judge_segments([broken], FRAMES) == [
        "1 segments do not decode (first s0.ts: no keyframe)"
    ]
    assert judge_segments([segment(frames, 0.0, audio=False)], FRAMES) == [
        "the camera's AAC audio is not in the output"
    ]


def test_a_camera_late_on_a_busy_machine_is_judged_by_its_frame_indexes() -> None:
    """Frames 0-29 sent in a burst after a stall: the send times say 0.5 s, the indexes say
    2 s, and a client that kept the media timing (2 s) is right."""
    burst = [Stamped(n, STARTED_US + 1_500_000 + n * 16_000) for n in range(30)]
    kept = segment(burst, 10.0)
    kept.media.tracks[0].end = 12.0
    assert judge_segments([kept], FRAMES) == []
    neither = segment(burst, 10.0)
    neither.media.tracks[0].end = 11.2
    assert judge_segments([neither], FRAMES) == [
        "video timestamps inside s10.ts span 1.20 s for 30 frames of the camera sent over 0.53 s"
    ]


def segments_read(
    lag: float, *, until: float = 14.0, late_from: float = 0.0
) -> list[tuple[float, float]]:
    """One-second segments of a client that reads each ``lag`` s after its newest frame was
    sent once ``late_from`` has passed, and 0.3 s after before: (read, newest frame sent)."""
    out = []
    for second in range(1, int(until)):
        newest = second - 1 / FPS
        read = newest + (lag if second >= late_from else 0.3)
        if read < until:
            out.append((read, newest))
    return out


def test_a_client_back_to_real_time_passes_the_lag_rule() -> None:
    scenario = get_scenario("bandwidth-below-bitrate")
    # Late while the link was slow and just after, on time from 10 s (6 s + the 4 s margin).
    fresh = [(r + (2.5 if 3 <= s < 8 else 0.0), s) for r, s in segments_read(0.4)]
    verdict = judge(scenario, stream((0.2, 14.0)), STARTED_US, FRAMES, (), fresh)
    assert verdict.problems == []
    assert verdict.measured["lag after recovery (median)"] == (0.4, "s")
    assert verdict.measured["lag at the quickest"] == (0.4, "s")
    assert any("back to real time" in sentence for sentence in verdict.expected)


def test_a_client_that_never_catches_up_fails_the_lag_rule() -> None:
    scenario = get_scenario("bandwidth-below-bitrate")
    fresh = segments_read(2.6, late_from=4)
    verdict = judge(scenario, stream((0.2, 14.0)), STARTED_US, FRAMES, (), fresh)
    assert verdict.problems == [
        "still late after the fault: the 4 segments read from 10 s on appeared 2.6 s (median) "
        "after their newest frame was sent, 2.3 s later than the quickest of the run (0.3 s; "
        "at most 1 s more expected): the client never caught up"
    ]
    # One slow read among on-time ones is a busy machine, not a client behind.
    bumpy = [(r + (2.0 if r > 12.5 else 0.0), s) for r, s in segments_read(0.4)]
    assert judge(scenario, stream((0.2, 14.0)), STARTED_US, FRAMES, (), bumpy).problems == []


def test_a_client_always_as_late_is_not_late() -> None:
    # A constant 2.2 s playout delay (a jitter buffer), before the fault as after it.
    steady = segments_read(2.2)
    scenario = get_scenario("bandwidth-below-bitrate")
    verdict = judge(scenario, stream((0.2, 14.0)), STARTED_US, FRAMES, (), steady)
    assert verdict.problems == []
    assert verdict.measured["lag after recovery (median)"] == (2.2, "s")


def test_the_lag_rule_judges_only_its_scenario_and_only_what_was_read() -> None:
    late = segments_read(3.0)
    # No segment read after the margin: the reach rule speaks, not this one.
    early = [(r, s) for r, s in late if r < 10.0]
    verdict = judge(
        get_scenario("bandwidth-below-bitrate"), stream((0.2, 14.0)), STARTED_US, FRAMES, (), early
    )
    assert "lag after recovery (median)" not in verdict.measured
    assert verdict.problems == []
    # A scenario without the rule does not judge lateness at all.
    assert (
        judge(get_scenario("loss-1"), stream((0.2, 14.0)), STARTED_US, FRAMES, (), late).problems
        == []
    )


def test_output_bitrate_is_each_segments_bytes_by_its_frames_send_seconds() -> None:
    def segment(spans: tuple[float, float], size: int) -> OutputSegment:
        return OutputSegment("s.ts", False, SegmentMedia("ts", size, stamps=stream(spans)))

    # 15 frames sent in second 1 and 15 in second 2, in one 30,000-byte segment; then a
    # segment of 7,500 bytes whose 15 frames were all sent in second 3; nothing in second 0.
    bits = output_bits([segment((1.0, 3.0), 30_000), segment((3.0, 4.0), 7_500)], STARTED_US, 5)
    assert bits == [0.0, 120_000.0, 120_000.0, 60_000.0, 0.0]
    # Frames sent outside the run's seconds are left out, not piled into the last one.
    assert output_bits([segment((4.0, 6.0), 30_000)], STARTED_US, 5) == [0, 0, 0, 0, 120_000.0]


def test_memory_is_promised_only_when_it_was_sampled() -> None:
    scenario = get_scenario("loss-1")
    unsampled = judge(scenario, stream((0.2, 14.0)), STARTED_US, FRAMES)
    assert MEMORY_NOT_SAMPLED in unsampled.expected
    assert not any(s.startswith("memory grows") for s in unsampled.expected)
    sampled = judge(scenario, stream((0.2, 14.0)), STARTED_US, FRAMES, ((1.0, MB), (13.0, MB)))
    assert "memory grows by at most 64 MB" in sampled.expected
    assert MEMORY_NOT_SAMPLED not in sampled.expected
