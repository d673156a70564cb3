"""TCP reassembly: order, retransmission, overlap, holes, sequence wrap."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from camsim.pcap.packet import TCP_FIN, TCP_SYN
from camsim.pcap.tcp import Hole, TcpDirection


class Sink:
    def __init__(self) -> None:
        self.stream = bytearray()
        self.numbers: list[int] = []
        self.holes: list[Hole] = []

    def data(self, chunk: bytes, number: int, time: float) -> None:
        self.stream += chunk
        self.numbers.append(number)

    def hole(self, hole: Hole) -> None:
        self.holes.append(hole)


def _direction() -> tuple[TcpDirection, Sink]:
    sink = Sink()
    return TcpDirection(sink), sink


ISN = 1000


def _segments(data: bytes, sizes: list[int], isn: int = ISN) -> list[tuple[int, bytes]]:
    segments, pos = [], 0
    for size in sizes:
        if pos >= len(data):
            break
        segments.append(((isn + 1 + pos) & 0xFFFFFFFF, data[pos : pos + size]))
        pos += size
    if pos < len(data):
        segments.append(((isn + 1 + pos) & 0xFFFFFFFF, data[pos:]))
    return segments


def test_in_order_with_syn() -> None:
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    for number, (seq, data) in enumerate(_segments(b"hello world", [5, 6]), start=2):
        direction.segment(seq, 0, data, number, 0.1)
    assert bytes(sink.stream) == b"hello world"
    assert sink.numbers == [2, 3]
    assert direction.complete


def test_out_of_order_retransmitted_and_overlapping() -> None:
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    direction.segment(ISN + 7, 0, b"world", 2, 0.1)  # early
    direction.segment(ISN + 1, 0, b"hello ", 3, 0.2)  # fills the gap; "world" follows
    direction.segment(ISN + 1, 0, b"hello ", 4, 0.3)  # retransmission
    direction.segment(ISN + 10, 0, b"ld!!", 5, 0.4)  # overlaps "ld", adds "!!"
    assert bytes(sink.stream) == b"hello world!!"
    assert sink.numbers == [3, 2, 5]
    counters = direction.counters
    assert (counters.out_of_order, counters.retransmissions, counters.overlaps) == (1, 1, 1)


def test_a_hole_the_peer_acknowledged_is_declared_at_once() -> None:
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    direction.segment(ISN + 1, 0, b"aaaa", 2, 0.1)
    # "bbbb" (ISN+5) is never captured; the receiver acknowledges it and "cccc".
    direction.acked(ISN + 13)
    direction.segment(ISN + 9, 0, b"cccc", 4, 0.3)
    assert bytes(sink.stream) == b"aaaacccc"
    assert sink.holes == [Hole(offset=4, size=4, after_packet=2, before_packet=4)]


def test_a_hole_is_declared_when_the_acknowledgement_comes_after_the_data() -> None:
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    direction.segment(ISN + 1, 0, b"aaaa", 2, 0.1)
    direction.segment(ISN + 9, 0, b"cccc", 4, 0.3)
    assert bytes(sink.stream) == b"aaaa"
    direction.acked(ISN + 5)  # only "aaaa": "bbbb" may still be retransmitted
    assert bytes(sink.stream) == b"aaaa"
    direction.acked(ISN + 13)
    assert bytes(sink.stream) == b"aaaacccc"
    assert sink.holes == [Hole(offset=4, size=4, after_packet=2, before_packet=4)]


def test_a_hole_is_declared_at_the_end() -> None:
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    direction.segment(ISN + 1, 0, b"aaaa", 2, 0.1)
    direction.segment(ISN + 9, TCP_FIN, b"cccc", 4, 0.3)
    assert bytes(sink.stream) == b"aaaa"
    direction.finish()
    assert bytes(sink.stream) == b"aaaacccc"
    assert sink.holes == [Hole(offset=4, size=4, after_packet=2, before_packet=4)]


def test_a_lost_tail_shows_in_the_acknowledgement() -> None:
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    direction.segment(ISN + 1, 0, b"aaaa", 2, 0.1)
    direction.acked(ISN + 1 + 10)  # 6 more bytes reached the peer, none captured
    direction.finish()
    assert sink.holes == [Hole(offset=4, size=6, after_packet=2, before_packet=0)]


def test_the_pending_bound_forces_a_hole() -> None:
    sink = Sink()
    direction = TcpDirection(sink, max_pending_bytes=10)
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    direction.segment(ISN + 101, 0, b"x" * 8, 2, 0.1)
    assert not sink.holes
    direction.segment(ISN + 109, 0, b"y" * 8, 3, 0.2)
    assert [h.size for h in sink.holes] == [100]
    assert bytes(sink.stream) == b"x" * 8 + b"y" * 8


def test_no_syn_starts_at_the_first_data() -> None:
    direction, sink = _direction()
    direction.segment(5000, 0, b"RTSP/1.0 200 OK\r\n", 1, 0.0)
    direction.segment(5017, 0, b"CSeq: 1\r\n\r\n", 2, 0.0)
    assert bytes(sink.stream) == b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n"


def test_sequence_numbers_wrap() -> None:
    direction, sink = _direction()
    isn = 0xFFFFFFF0
    direction.segment(isn, TCP_SYN, b"", 1, 0.0)
    data = bytes(range(64))
    segments = _segments(data, [10, 10, 10, 10, 10, 14], isn=isn)
    random.Random(3).shuffle(segments)
    for number, (seq, piece) in enumerate(segments, start=2):
        direction.segment(seq, 0, piece, number, 0.0)
    assert bytes(sink.stream) == data


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=3000),
    sizes=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    isn=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_segmentation_order_and_retransmission_gives_the_stream_back(
    data: bytes, sizes: list[int], seed: int, isn: int
) -> None:
    rng = random.Random(seed)
    segments = _segments(data, sizes, isn=isn)
    sent = segments + rng.sample(segments, k=rng.randint(0, len(segments)))  # retransmissions
    # A retransmission may carry the bytes of two segments at once (repacketization).
    if len(segments) > 1 and rng.random() < 0.5:
        i = rng.randrange(len(segments) - 1)
        sent.append((segments[i][0], segments[i][1] + segments[i + 1][1]))
    rng.shuffle(sent)
    direction, sink = _direction()
    direction.segment(isn, TCP_SYN, b"", 1, 0.0)
    for number, (seq, piece) in enumerate(sent, start=2):
        direction.segment(seq, 0, piece, number, 0.0)
    direction.finish()
    assert bytes(sink.stream) == data
    assert not sink.holes


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=20, max_size=3000),
    sizes=st.lists(st.integers(min_value=1, max_value=300), min_size=2, max_size=30),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_segments_never_captured_become_holes_of_exactly_their_size(
    data: bytes, sizes: list[int], seed: int
) -> None:
    rng = random.Random(seed)
    segments = _segments(data, sizes)
    lost = {i for i in range(len(segments)) if rng.random() < 0.3}
    direction, sink = _direction()
    direction.segment(ISN, TCP_SYN, b"", 1, 0.0)
    for number, (seq, piece) in enumerate(segments, start=2):
        if number - 2 not in lost:
            direction.segment(seq, 0, piece, number, 0.0)
    direction.acked((ISN + 1 + len(data)) & 0xFFFFFFFF)  # the receiver got everything
    direction.finish()
    expected = b"".join(piece for i, (_, piece) in enumerate(segments) if i not in lost)
    assert bytes(sink.stream) == expected
    assert sum(h.size for h in sink.holes) == sum(len(segments[i][1]) for i in lost)
    assert direction.counters.missing_bytes == len(data) - len(expected)
