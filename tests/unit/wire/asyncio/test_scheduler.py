"""The one deadline scheduler, on a fake clock: order, slack, a floor between wake-ups, one
timer whatever the number of tasks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tests.unit.wire.asyncio.fakes import FakeLoop
from wire.asyncio.scheduler import DeadlineScheduler

Log = list[tuple[str, float, float]]


@dataclass(eq=False)
class Ticker:
    """Runs ``count`` times, ``period`` apart; logs (name, due, clock) at each run."""

    name: str
    period: float
    count: int
    log: Log
    loop: FakeLoop

    def run(self, due: float) -> float | None:
        self.log.append((self.name, round(due, 6), round(self.loop.time(), 6)))
        self.count -= 1
        return due + self.period if self.count else None


def test_tasks_run_in_due_order_with_their_due_time() -> None:
    loop, log = FakeLoop(now=10.0), Log()
    scheduler = DeadlineScheduler(loop)
    scheduler.schedule(Ticker("a", 0.030, 3, log, loop), 10.010)
    scheduler.schedule(Ticker("b", 0.030, 3, log, loop), 10.025)
    cancelled = Ticker("c", 0.010, 5, log, loop)
    scheduler.schedule(cancelled, 10.010)
    scheduler.cancel(cancelled)
    assert len(scheduler) == 2
    assert cancelled not in scheduler
    loop.advance(11.0)
    assert log == [
        ("a", 10.01, 10.01),
        ("b", 10.025, 10.025),
        ("a", 10.04, 10.04),
        ("b", 10.055, 10.055),
        ("a", 10.07, 10.07),
        ("b", 10.085, 10.085),
    ]
    assert len(scheduler) == 0
    assert scheduler.next_wake is None


def test_one_timer_serves_every_task() -> None:
    loop, log = FakeLoop(), Log()
    scheduler = DeadlineScheduler(loop)
    for index in range(100):
        scheduler.schedule(Ticker(f"t{index}", 1.0, 2, log, loop), 5.0 + index / 1000)
    assert len(loop.pending()) == 1
    loop.advance(10.0)
    assert len(log) == 200
    # A later schedule leaves the armed timer alone; an earlier one replaces it.
    scheduler.schedule(Ticker("late", 1.0, 1, log, loop), 20.0)
    first = loop.pending()
    scheduler.schedule(Ticker("later", 1.0, 1, log, loop), 30.0)
    assert loop.pending() == first
    scheduler.schedule(Ticker("early", 1.0, 1, log, loop), 15.0)
    assert [h.when() for h in loop.pending()] == [15.0]


def test_slack_runs_tasks_due_soon_in_the_same_wake_up_early() -> None:
    loop, log = FakeLoop(), Log()
    scheduler = DeadlineScheduler(loop, slack=0.002)
    scheduler.schedule(Ticker("video", 0.0334, 2, log, loop), 1.000)
    scheduler.schedule(Ticker("audio", 0.0213, 1, log, loop), 1.0015)
    scheduler.schedule(Ticker("other", 1.0, 1, log, loop), 1.0030)
    loop.advance(1.0)
    # audio (0.5 ms later) went with video, early, and was told its own due time.
    assert log == [("video", 1.0, 1.0), ("audio", 1.0015, 1.0)]
    loop.advance(2.0)
    assert log[2:] == [("other", 1.003, 1.003), ("video", 1.0334, 1.0334)]


def test_a_task_due_again_within_the_slack_runs_again_in_the_same_wake_up() -> None:
    loop, log = FakeLoop(), Log()
    scheduler = DeadlineScheduler(loop, slack=0.002)
    scheduler.schedule(Ticker("bursts", 0.0005, 3, log, loop), 1.0)
    loop.advance(1.0)
    assert log == [("bursts", 1.0, 1.0), ("bursts", 1.0005, 1.0), ("bursts", 1.001, 1.0)]
    assert len(loop.armed) == 1


def test_min_interval_spaces_wake_ups() -> None:
    loop, log = FakeLoop(), Log()
    scheduler = DeadlineScheduler(loop, min_interval=0.010)
    scheduler.schedule(Ticker("a", 0.004, 4, log, loop), 1.000)
    loop.advance(1.05)
    # Due every 4 ms, woken at most every 10 ms: what fell due meanwhile runs in the next
    # wake-up, late, and none is skipped.
    assert log == [
        ("a", 1.0, 1.0),
        ("a", 1.004, 1.01),
        ("a", 1.008, 1.01),
        ("a", 1.012, 1.02),
    ]
    assert [round(h.when(), 6) for h in loop.armed] == [1.0, 1.01, 1.02]


def test_a_task_that_reschedules_itself_while_running_is_taken_at_its_word() -> None:
    loop = FakeLoop()
    scheduler = DeadlineScheduler(loop)

    class Moving:
        runs = 0

        def run(self, due: float) -> float | None:
            self.runs += 1
            scheduler.schedule(self, due + 5.0)
            return due + 1.0  # overruled by the schedule above

    moving = Moving()
    scheduler.schedule(moving, 1.0)
    loop.advance(5.9)
    assert moving.runs == 1
    assert len(scheduler) == 1
    loop.advance(6.0)
    assert moving.runs == 2


def test_close_stops_the_timer_and_forgets_everything() -> None:
    loop, log = FakeLoop(), Log()
    scheduler = DeadlineScheduler(loop)
    scheduler.schedule(Ticker("a", 1.0, 5, log, loop), 1.0)
    scheduler.close()
    assert loop.pending() == []
    assert len(scheduler) == 0
    loop.advance(10.0)
    assert log == []
    scheduler.schedule(Ticker("b", 1.0, 1, log, loop), 11.0)  # usable again
    loop.advance(11.0)
    assert log == [("b", 11.0, 11.0)]


def test_negative_knobs_are_refused() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        DeadlineScheduler(FakeLoop(), slack=-0.001)


def test_on_a_real_event_loop() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        runs: list[str] = []

        class Once:
            def __init__(self, name: str) -> None:
                self.name = name

            def run(self, due: float) -> float | None:
                runs.append(self.name)
                return None

        scheduler = DeadlineScheduler(loop)
        start = loop.time()
        scheduler.schedule(Once("second"), start + 0.02)
        scheduler.schedule(Once("first"), start + 0.01)
        await asyncio.sleep(0.1)
        scheduler.close()
        return runs

    assert asyncio.run(scenario()) == ["first", "second"]
