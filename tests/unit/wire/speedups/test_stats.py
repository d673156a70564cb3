"""The compiled receiver statistics (``wire.rtp._stats``) against :class:`PyReceiverStatistics`.

Both classes run the same program: a constructor, then RTP packets (in order, wrapping, lost,
duplicated, reordered, far jumps, restarts; arrivals as floats and as ints, NaN and infinities
included), sender reports, report blocks at increasing times, attribute writes and copies. After
every step the return value or the exception (type and text) must be the same, and so must every
public attribute and property; floats are compared bit for bit. Inputs outside what the C state
holds (a negative sequence number, a huge int, a bool, a jitter set to an int) make the compiled
object hand its state to the pure class: the same programs check that hand-over, and programs
without such inputs check that it never happens.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import speedups
from wire.rtp import stats as stats_module
from wire.rtp.rtcp import RtcpSenderReport
from wire.rtp.stats import MAX_DROPOUT, MAX_MISORDER, PyReceiverStatistics

ATTRIBUTES = (
    "ssrc",
    "max_seq",
    "cycles",
    "base_seq",
    "bad_seq",
    "probation",
    "received",
    "expected_prior",
    "received_prior",
    "transit",
    "jitter",
    "valid",
    "extended_max_sequence",
    "expected",
    "lost",
)
WRITABLE = ATTRIBUTES[:11]
READ_ONLY = ATTRIBUTES[11:]

Step = tuple[Any, ...]


@pytest.fixture(scope="module")
def compiled_class() -> Any:
    """The compiled ``ReceiverStatistics`` class."""
    return compiled("wire.rtp._stats").ReceiverStatistics


def exact(value: object) -> object:
    """``value`` with its type, floats bit for bit (NaN and -0.0 included), report blocks
    field by field."""
    if type(value) is float:
        return float, struct.pack("<d", value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value), tuple(exact(v) for v in dataclasses.astuple(value))
    return type(value), value


def outcome(function: Callable[..., Any], *args: Any) -> tuple[str, object]:
    """What a call returned, or the type and message of what it raised."""
    try:
        return "returned", exact(function(*args))
    except Exception as exc:  # any exception: its type and message are compared
        return "raised", (type(exc), str(exc))


def snapshot(stats: object) -> dict[str, object]:
    return {name: outcome(getattr, stats, name) for name in ATTRIBUTES}


def apply(stats: Any, step: Step) -> tuple[Any, tuple[str, object]]:
    """Run one step; the object to go on with (a copy after a copy step) and the outcome."""
    kind = step[0]
    if kind == "update":
        return stats, outcome(stats.update, *step[1:])
    if kind == "sender_report":
        _, ntp, now = step
        report = RtcpSenderReport(1, ntp, rtp_timestamp=0, packet_count=0, octet_count=0)
        return stats, outcome(stats.on_sender_report, report, now)
    if kind == "report":
        return stats, outcome(stats.report_block, step[1])
    if kind == "set":
        return stats, outcome(setattr, stats, step[1], step[2])
    assert kind == "copy"
    if step[1] == "copy":
        return copy.copy(stats), ("returned", None)
    if step[1] == "deepcopy":
        return copy.deepcopy(stats), ("returned", None)
    return pickle.loads(pickle.dumps(stats)), ("returned", None)


class _Counted(PyReceiverStatistics):
    """The pure class, counting the objects made: the compiled class's hand-overs."""

    made = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> _Counted:
        _Counted.made += 1
        return super().__new__(cls)


@contextmanager
def counting_hand_overs() -> Iterator[None]:
    """While the compiled object runs: the pure class it hands over to counts them."""
    with mock.patch.object(stats_module, "PyReceiverStatistics", _Counted):
        yield


def run_both(compiled_class: Any, ssrc: object, min_sequential: object, steps: list[Step]) -> int:
    """Run the program on both classes, comparing after every step; the number of hand-overs
    to the pure class the compiled object made."""
    _Counted.made = 0
    pure = PyReceiverStatistics(ssrc, min_sequential=min_sequential)  # type: ignore[arg-type]
    with counting_hand_overs():
        fast = compiled_class(ssrc, min_sequential=min_sequential)
    assert snapshot(fast) == snapshot(pure), "after the constructor"
    for index, step in enumerate(steps):
        pure, expected = apply(pure, step)
        with counting_hand_overs():
            fast, got = apply(fast, step)
        assert got == expected, f"step {index} {step!r}"
        assert snapshot(fast) == snapshot(pure), f"after step {index} {step!r}"
    return _Counted.made


# -- programs -------------------------------------------------------------------------------------

# Sequence steps around every A.1 boundary: in order, gaps below and at MAX_DROPOUT, duplicates,
# reordering down to MAX_MISORDER, large jumps and their second packet.
SEQ_STEPS = st.sampled_from(
    [1] * 12
    + [0, -1, -2, 2, 3, 10, 500, MAX_DROPOUT - 1, MAX_DROPOUT, MAX_DROPOUT + 1, 32768]
    + [-MAX_MISORDER - 1, -MAX_MISORDER, -MAX_MISORDER + 1, 1 << 15]
) | st.integers(-200, 3100)
ODD_INTS = st.sampled_from([-1, -(1 << 16), 1 << 16, 1 << 32, 1 << 61, -(1 << 61), 1 << 70])
ODD_VALUES = ODD_INTS | st.sampled_from([True, False, 1.5, None, "7"])
SPECIAL_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1e300, -1e300])


@st.composite
def programs(draw: st.DrawFn, odd: bool) -> tuple[int, object, list[Step]]:
    """A constructor's arguments and a program; with ``odd``, inputs outside the C domain too."""
    ssrc = draw(st.integers(0, 0xFFFF_FFFF))
    min_sequential: object = draw(st.integers(0, 3))
    if odd and draw(st.integers(0, 9)) == 0:
        min_sequential = draw(ODD_VALUES | st.integers(-2, -1))
    seq = draw(st.integers(0, 0xFFFF) | st.integers(0xFFF0, 0xFFFF))
    timestamp = draw(st.integers(0, 0xFFFF_FFFF) | st.integers(0xFFFF_0000, 0xFFFF_FFFF))
    arrival = draw(st.floats(-1e6, 1e12))
    now = draw(st.floats(0, 1e6))
    steps: list[Step] = []
    kinds = ["packet"] * 12 + ["restart", "sender_report", "report", "report", "set", "copy"]
    if odd:
        kinds += ["odd"]
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.sampled_from(kinds))
        if kind in ("packet", "restart", "odd"):
            if kind == "restart":
                seq = draw(st.integers(0, 0xFFFF))
                timestamp = draw(st.integers(0, 0xFFFF_FFFF))
            else:
                seq = (seq + draw(SEQ_STEPS)) & 0xFFFF
                timestamp = (timestamp + draw(st.sampled_from([3000, 3000, 0, 1500, -3000]))) % (
                    1 << 32
                )
            arrival += 3000
            sent: object = arrival + draw(st.sampled_from([0.0, 0.0, 0.25, -40.5, 700.0]))
            if draw(st.integers(0, 4)) == 0:
                sent = round(arrival) + draw(st.integers(-50, 50))  # an int arrival
            step: Step = ("update", seq, timestamp, sent)
            if kind == "odd":
                position = draw(st.integers(1, 3))
                value = draw(ODD_VALUES | SPECIAL_FLOATS if position == 3 else ODD_VALUES)
                step = (*step[:position], value, *step[position + 1 :])
            elif draw(st.integers(0, 29)) == 0:
                # NaN and infinities are floats: the C path takes them.
                step = ("update", seq, timestamp, draw(SPECIAL_FLOATS))
            steps.append(step)
        elif kind == "sender_report":
            now += draw(st.floats(0, 10))
            when: object = draw(st.sampled_from([now, int(now)]))
            steps.append(("sender_report", draw(st.integers(0, (1 << 64) - 1)), when))
        elif kind == "report":
            now += draw(st.floats(0, 10))
            steps.append(("report", now))
        elif kind == "set":
            name = draw(st.sampled_from(WRITABLE))
            value = draw(st.integers(-0xFFFF, 0x1_FFFF) | st.integers(-(1 << 60), 1 << 60))
            if name == "jitter":
                value = draw(st.floats(0, 1e6))
            elif name == "transit":
                value = draw(st.none() | st.floats(-1e9, 1e9) | st.integers(-(1 << 40), 1 << 40))
            if odd and draw(st.integers(0, 2)) == 0:
                value = draw(ODD_VALUES | SPECIAL_FLOATS | st.just(7))
            steps.append(("set", name, value))
        else:
            steps.append(("copy", draw(st.sampled_from(["copy", "deepcopy", "pickle"]))))
    return ssrc, min_sequential, steps


@settings(max_examples=600, deadline=None)
@given(programs(odd=False))
def test_programs_give_the_same_results_and_state(
    compiled_class: Any, program: tuple[int, object, list[Step]]
) -> None:
    assert run_both(compiled_class, *program) == 0, "RTP-shaped inputs stay on the C path"


@settings(max_examples=400, deadline=None)
@given(programs(odd=True))
def test_programs_with_any_inputs_give_the_same_results_and_state(
    compiled_class: Any, program: tuple[int, object, list[Step]]
) -> None:
    run_both(compiled_class, *program)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, 3),
    st.lists(
        st.tuples(
            st.integers(0, 0xFFFF) | st.integers(-5, 5).map(lambda d: (100 + d) & 0xFFFF),
            st.integers(0, 0xFFFF_FFFF),
            st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(1 << 60), 1 << 60),
        ),
        max_size=40,
    ),
)
def test_arbitrary_packets_give_the_same_results_and_state(
    compiled_class: Any, min_sequential: int, packets: list[tuple[int, int, float]]
) -> None:
    """Unrelated numbers: probation restarts, bad_seq, duplicates, any float arrival."""
    steps: list[Step] = [("update", *packet) for packet in packets] + [("report", 1.0)]
    assert run_both(compiled_class, 7, min_sequential, steps) == 0


# -- targeted -------------------------------------------------------------------------------------


def updates(seqs: list[int]) -> list[Step]:
    return [("update", seq, seq * 3000 & 0xFFFF_FFFF, seq * 3000.0) for seq in seqs]


def test_sequence_wrap_counts_a_cycle(compiled_class: Any) -> None:
    run_both(compiled_class, 7, 2, [*updates([65533, 65534, 65535, 0, 1]), ("report", 0.0)])
    stats = compiled_class(7)
    for step in updates([65533, 65534, 65535, 0, 1]):
        stats.update(*step[1:])
    assert (stats.cycles, stats.extended_max_sequence, stats.lost) == (65536, 65537, 0)


def test_restart_after_two_sequential_packets(compiled_class: Any) -> None:
    steps = updates([999, 1000, 1001, 30000, 30001, 30002])
    assert run_both(compiled_class, 7, 2, steps) == 0
    stats = compiled_class(7)
    assert [stats.update(*step[1:]) for step in steps] == [False, True, True, False, True, True]
    assert (stats.base_seq, stats.max_seq, stats.received, stats.lost) == (30001, 30002, 2, 0)


def test_jitter_on_a_timestamp_wrap(compiled_class: Any) -> None:
    steps: list[Step] = [
        ("update", 1, 0xFFFFF000, 123456.0),
        ("update", 2, 0x00000B80, 123456.0 + 7040 + 50),  # 7040 ticks later, 50 late
        ("update", 3, 0x00000B80 + 3000, 123456.0 + 7040 + 3000 + 10.5),
    ]
    assert run_both(compiled_class, 7, 0, steps) == 0
    stats = compiled_class(7, min_sequential=0)
    stats.update(*steps[0][1:])
    stats.update(*steps[1][1:])
    assert stats.jitter == 50 / 16


def test_int_arrivals_keep_an_int_transit(compiled_class: Any) -> None:
    """Python keeps ``arrival - timestamp`` exact for int arrivals; so does the C state."""
    stats = compiled_class(7, min_sequential=0)
    stats.update(1, 3000, 4000)
    assert (type(stats.transit), stats.transit) == (int, 1000)
    stats.update(2, 6000, 7100.0)
    assert (type(stats.transit), stats.transit) == (float, 1100.0)
    steps = [("update", 1, 3000, 4000), ("update", 2, 6000, 7100.0), ("update", 3, 9000, 9950)]
    assert run_both(compiled_class, 7, 0, steps) == 0


def test_a_nan_jitter_fails_the_report_the_same_way(compiled_class: Any) -> None:
    steps: list[Step] = [("update", 1, 0, 0.0), ("update", 2, 0, math.nan), ("update", 3, 0, 1.0)]
    steps.append(("report", 1.0))
    assert run_both(compiled_class, 7, 0, steps) == 0
    stats = compiled_class(7, min_sequential=0)
    for step in steps[:-1]:
        stats.update(*step[1:])
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
        stats.report_block(1.0)


@pytest.mark.parametrize(
    ("seq", "timestamp", "arrival"),
    [
        (-1, 0, 0.0),
        (1 << 16, 0, 0.0),
        (1 << 70, 0, 0.0),
        (True, 0, 0.0),
        (5.0, 0, 0.0),
        (1, -1, 0.0),
        (1, 1 << 32, 0.0),
        (1, 0, 1 << 61),
        (1, 0, None),
        (None, 0, 0.0),
    ],
)
def test_inputs_outside_the_c_domain_hand_over_to_the_pure_class(
    compiled_class: Any, seq: object, timestamp: object, arrival: object
) -> None:
    steps = [*updates([10, 11, 12]), ("update", seq, timestamp, arrival), *updates([13, 14])]
    assert run_both(compiled_class, 7, 2, [*steps, ("report", 2.0)]) == 1


def test_writes_outside_the_c_domain_hand_over_to_the_pure_class(compiled_class: Any) -> None:
    steps = [*updates([10, 11, 12]), ("set", "jitter", 3), *updates([13, 14])]
    assert run_both(compiled_class, 7, 2, [*steps, ("report", 2.0)]) == 1
    steps = [*updates([10, 11, 12]), ("set", "max_seq", 1 << 61), *updates([13, 14])]
    assert run_both(compiled_class, 7, 2, steps) == 1


@pytest.mark.parametrize("name", READ_ONLY)
def test_read_only_properties_stay_read_only(compiled_class: Any, name: str) -> None:
    for stats in (PyReceiverStatistics(7), compiled_class(7)):
        with pytest.raises(AttributeError):
            setattr(stats, name, 1)


def test_receiver_statistics_is_the_compiled_class_unless_disabled(compiled_class: Any) -> None:
    expected = PyReceiverStatistics if speedups.disabled() else compiled_class
    assert stats_module.ReceiverStatistics is expected
    assert isinstance(compiled_class(7), compiled_class)
