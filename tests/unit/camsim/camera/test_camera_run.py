"""A camera's scheduler task: each burst in turn, due when the plan says, numbered without gaps."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from camsim.camera.device import Camera
from camsim.camera.plan import PacketPlan, build_plan
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.sender import InterleavedSink, RtpSender
from camsim.media.loader import MediaSample, load
from camsim.media.make import default_sample

ORIGIN = -1.2345  # the fleet starts cameras at spread-out phases: a loop time before 0


class NoTimer:
    """The scheduler's loop; the test calls :meth:`Camera.run` itself."""

    def time(self) -> float:
        return 0.0

    def call_at(self, when: float, callback: Callable[[], object], /) -> NoTimer:
        return self

    def cancel(self) -> None:
        pass


class Written:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


@pytest.fixture(scope="module")
def sample_and_plan() -> tuple[MediaSample, PacketPlan]:
    sample = load(default_sample())
    return sample, build_plan(sample)


def test_bursts_run_in_turn_due_as_planned_across_loops(
    sample_and_plan: tuple[MediaSample, PacketPlan],
) -> None:
    sample, plan = sample_and_plan
    scheduler = Scheduler(NoTimer())  # type: ignore[arg-type]
    camera = Camera("cam1", "/cam1", sample, plan, scheduler=scheduler, pacing=PacingStats(),
                    origin=ORIGIN)  # fmt: skip
    written = [Written() for _ in plan.tracks]
    senders = [
        RtpSender(
            track,
            plan.tracks[track].clock_rate,
            0x1234 + track,
            InterleavedSink(written[track], 2 * track, 2 * track + 1),
            first_sequence=0xFFF0,
            timestamp_offset=0,
            cname="cam1",
        )
        for track in range(len(plan.tracks))
    ]
    camera.subscribe(senders, 0.0)
    position = (camera._loop_number, camera._index)
    due = camera._due(position)
    runs = 2 * len(plan.bursts) + 7  # past two wraps of the plan
    for _ in range(runs):
        next_due = camera.run(due)
        position = camera._advance(position, 1)
        assert (camera._loop_number, camera._index) == position
        assert next_due == camera._due(position)  # the same float, not a near one
        assert next_due is not None
        assert next_due >= due
        due = next_due
    assert camera.counters.packets == sum(s.packet_count for s in senders)
    assert camera.counters.octets == sum(s.octet_count for s in senders)
    assert camera.counters.dropped_bursts == 0
    for track, sender in enumerate(senders):
        sequences = _sequences(bytes(written[track].data), 2 * track)
        assert len(sequences) == sender.packet_count > 0
        assert sequences == [(0xFFF0 + i) & 0xFFFF for i in range(len(sequences))]


def _sequences(data: bytes, channel: int) -> list[int]:
    sequences, offset = [], 0
    while offset < len(data):
        magic, frame_channel, length = struct.unpack_from("!BBH", data, offset)
        assert (magic, frame_channel) == (0x24, channel)
        sequences.append(struct.unpack_from("!H", data, offset + 6)[0])
        offset += 4 + length
    return sequences
