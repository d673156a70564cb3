"""Decode timestamps from presentation times and the reorder depth an SPS declares."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.codec.test_h264 import write_sps
from wire.codec.dts import MAX_DEPTH, DtsEstimator, reorder_depth
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec

TICKS = 3000  # 30 fps at 90 kHz


def true_depth(display: list[int]) -> int:
    """H.264 max_num_reorder_frames of a decode order: the most pictures that precede one in
    decode order yet follow it in output (§E.2.1)."""
    return max(
        (sum(1 for earlier in display[:n] if earlier > shown) for n, shown in enumerate(display)),
        default=0,
    )


def decode_order(gops: list[tuple[int, bool]]) -> list[int]:
    """Display indexes in decode order for closed GOPs of ``(b_frames, pyramid)`` mini-GOPs:
    each anchor (I or P) is sent before the B-frames shown ahead of it; with ``pyramid`` the
    middle B-frame is a reference, sent before the others."""
    order: list[int] = [0]
    shown = 0
    for b_frames, pyramid in gops:
        anchor = shown + b_frames + 1
        order.append(anchor)
        bs = list(range(shown + 1, anchor))
        if pyramid and len(bs) >= 3:
            middle = bs[len(bs) // 2]
            order.append(middle)
            bs.remove(middle)
        order.extend(bs)
        shown = anchor
    return order


def run(estimator: DtsEstimator, display: list[int], start: int = 900_000) -> list[int]:
    return [estimator.dts(start + index * TICKS) for index in display]


def test_without_reordering_dts_is_pts() -> None:
    estimator = DtsEstimator(0, TICKS)
    pts = [900_000 + n * TICKS for n in range(10)]
    assert [estimator.dts(p) for p in pts] == pts


def test_one_b_frame_between_anchors() -> None:
    display = [0, 2, 1, 4, 3, 6, 5]  # I P B P B P B
    dts = run(DtsEstimator(1, TICKS), display)
    assert dts == [900_000 + (n - 1) * TICKS for n in range(len(display))]


def test_b_pyramid_of_three() -> None:
    display = decode_order([(3, True)] * 3)
    assert display == [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11]
    assert true_depth(display) == 2
    dts = run(DtsEstimator(2, TICKS), display)
    assert dts == [900_000 + (n - 2) * TICKS for n in range(len(display))]


def test_a_declared_depth_deeper_than_needed_only_moves_dts_back() -> None:
    display = [0, 2, 1, 4, 3]
    dts = run(DtsEstimator(3, TICKS), display)
    assert dts == [900_000 + (n - 3) * TICKS for n in range(len(display))]


def test_reordering_deeper_than_declared_goes_back_once_and_grows_the_depth() -> None:
    estimator = DtsEstimator(0, TICKS)  # an SPS that says nothing of B-frames
    display = [0, 2, 1, 4, 3, 6, 5]
    dts = run(estimator, display)
    back = [n for n, (a, b) in enumerate(itertools.pairwise(dts), 1) if b < a]
    assert back == [2]
    assert estimator.deeper_than_declared == 1
    assert estimator.depth == 1
    assert all(d <= 900_000 + shown * TICKS for d, shown in zip(dts, display, strict=True))
    assert dts[3:] == sorted(dts[3:])


def test_depth_grows_no_further_than_a_decoded_picture_buffer() -> None:
    estimator = DtsEstimator(0, TICKS)
    for pts in range(100 * TICKS, 0, -TICKS):  # every picture further back than the last
        assert estimator.dts(pts) == pts
    assert estimator.depth == MAX_DEPTH


def test_usage_errors() -> None:
    with pytest.raises(ValueError, match="reorder depth -1"):
        DtsEstimator(-1, TICKS)
    with pytest.raises(ValueError, match="0 ticks"):
        DtsEstimator(1, 0)


mini_gops = st.lists(st.tuples(st.integers(0, 7), st.booleans()), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(gops=mini_gops, extra=st.integers(0, 3), start=st.integers(0, 2**33))
def test_declared_depth_gives_increasing_dts_never_above_pts(
    gops: list[tuple[int, bool]], extra: int, start: int
) -> None:
    display = decode_order(gops)
    depth = true_depth(display)
    estimator = DtsEstimator(depth + extra, TICKS)
    dts = run(estimator, display, start)
    pts = [start + shown * TICKS for shown in display]
    assert all(d <= p for d, p in zip(dts, pts, strict=True))
    assert all(a < b for a, b in itertools.pairwise(dts))
    assert estimator.deeper_than_declared == 0
    # Past the start, the DTS are the PTS in output order, delayed by the declared depth.
    delay = depth + extra
    assert dts[delay:] == sorted(pts)[: max(len(pts) - delay, 0)]


@settings(max_examples=200, deadline=None)
@given(
    display=st.permutations(list(range(24))),
    depth=st.integers(0, 4),
)
def test_any_order_keeps_dts_at_or_below_pts_and_goes_back_only_when_it_says_so(
    display: list[int], depth: int
) -> None:
    """Whatever a broken camera sends: DTS never passes PTS, and every step back in DTS is one
    counted picture that came later than the depth allowed."""
    estimator = DtsEstimator(depth, TICKS)
    dts = run(estimator, display)
    pts = [900_000 + shown * TICKS for shown in display]
    assert all(d <= p for d, p in zip(dts, pts, strict=True))
    steps_back = sum(1 for a, b in itertools.pairwise(dts) if b < a)
    assert steps_back <= estimator.deeper_than_declared
    if true_depth(display) <= depth:
        assert estimator.deeper_than_declared == 0
    assert estimator.depth <= max(depth, MAX_DEPTH)


@pytest.mark.parametrize(
    ("sps", "depth"),
    [
        (write_sps(profile_idc=77, reorder=3), 3),  # the bitstream restriction says
        (write_sps(profile_idc=77), 2),  # it does not: max_num_ref_frames
        (write_sps(profile_idc=66), 0),  # Baseline has no B slices
        (write_sps(profile_idc=100, poc_type=2), 0),  # output order is decode order
    ],
)
def test_h264_depth_declared_or_inferred(sps: bytes, depth: int) -> None:
    assert reorder_depth(VideoCodec.H264, sps) == (depth, None)
    assert DtsEstimator.for_sps(VideoCodec.H264, sps, 90_000).frame_ticks == 3000


@pytest.mark.parametrize("sps", [b"\x67", b"\x67\xff\xff", b"\x68\x00", b""])
def test_an_sps_that_does_not_parse_means_no_reordering(sps: bytes) -> None:
    estimator = DtsEstimator.for_sps(VideoCodec.H264, sps, 90_000)
    assert (estimator.depth, estimator.frame_ticks) == (0, 3000)
    with pytest.raises(CodecError):
        reorder_depth(VideoCodec.H264, sps)
