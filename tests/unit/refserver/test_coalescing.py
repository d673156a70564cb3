"""SO_RCVLOWAT follows the peer's rate and falls back to one byte when the peer goes quiet."""

from __future__ import annotations

import asyncio
import socket

import pytest

from refserver.coalescing import ESTIMATE_EVERY, MAX_LOW_WATER, QUIET_AFTER, WINDOW, ReadCoalescing


class RecordingSocket:
    def __init__(self, *, fails: bool = False) -> None:
        self.values: list[int] = []
        self.fails = fails

    def setsockopt(self, level: int, option: int, value: int, /) -> None:
        assert (level, option) == (socket.SOL_SOCKET, socket.SO_RCVLOWAT)
        if self.fails:
            raise OSError("Bad file descriptor")
        self.values.append(value)


def feed(coalescing: ReadCoalescing, start: float, rate: int, seconds: float) -> float:
    """Reads of rate/100 bytes every 10 ms; returns the time after the last one."""
    now = start
    for _ in range(int(seconds * 100)):
        now += 0.01
        coalescing.received(rate // 100, now)
    return now


def test_low_water_is_a_window_of_the_measured_rate() -> None:
    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        sock = RecordingSocket()
        coalescing = ReadCoalescing(loop, sock)
        now = feed(coalescing, loop.time(), 250_000, ESTIMATE_EVERY + 0.05)
        feed(coalescing, now, 50_000, 2 * ESTIMATE_EVERY + 0.05)
        coalescing.close()
        return sock.values

    values = asyncio.run(scenario())
    assert len(values) == 4
    assert values[0] == pytest.approx(250_000 * WINDOW, rel=0.05)
    assert values[2] == pytest.approx(50_000 * WINDOW, rel=0.05)
    assert values[3] == 1  # closing reads every byte as it comes again


def test_a_fast_peer_is_capped() -> None:
    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        sock = RecordingSocket()
        coalescing = ReadCoalescing(loop, sock)
        feed(coalescing, loop.time(), 1_000_000_000, ESTIMATE_EVERY + 0.05)
        coalescing.close()
        return sock.values

    assert asyncio.run(scenario()) == [MAX_LOW_WATER, 1]


def test_a_quiet_peer_gets_every_byte_again() -> None:
    async def scenario() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        sock = RecordingSocket()
        coalescing = ReadCoalescing(loop, sock)
        # Real time: the quiet check runs on the loop's clock.
        for _ in range(int(ESTIMATE_EVERY / 0.05) + 2):
            coalescing.received(5_000, loop.time())
            await asyncio.sleep(0.05)
        raised = list(sock.values)
        await asyncio.sleep(QUIET_AFTER + 0.3)
        low_water = coalescing.low_water
        coalescing.close()
        return raised + sock.values[len(raised) :], low_water

    values, low_water = asyncio.run(scenario())
    assert values[0] > 1
    assert values[-1] == 1
    assert low_water == 1


def test_a_socket_that_refuses_the_option_is_left_alone() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        coalescing = ReadCoalescing(loop, RecordingSocket(fails=True))
        feed(coalescing, loop.time(), 250_000, 3 * ESTIMATE_EVERY)
        return coalescing.low_water

    assert asyncio.run(scenario()) == 1


def test_a_real_socket_takes_the_option() -> None:
    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        with left, right:
            coalescing = ReadCoalescing(loop, left)
            feed(coalescing, loop.time(), 250_000, ESTIMATE_EVERY + 0.05)
            raised = left.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT)
            coalescing.close()
            return raised, left.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT)

    raised, closed = asyncio.run(scenario())
    assert raised == pytest.approx(250_000 * WINDOW, rel=0.05)
    assert closed == 1


def test_the_mark_stays_below_what_completes_a_message() -> None:
    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        sock = RecordingSocket()
        coalescing = ReadCoalescing(loop, sock)
        now = feed(coalescing, loop.time(), 250_000, ESTIMATE_EVERY + 0.05)
        coalescing.received(2500, now, wanted=700)  # a message needs 700 more bytes
        coalescing.received(700, now + 0.001)  # it completed: back to the steady mark
        coalescing.received(2500, now + 0.002, wanted=1_000_000)  # more than the mark
        coalescing.close()
        return sock.values

    steady = 250_000 * WINDOW
    values = asyncio.run(scenario())
    assert values[0] == pytest.approx(steady, rel=0.05)
    assert values[1:] == [700, values[0], 1]
