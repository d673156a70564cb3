"""N publishers on one event loop, sharing one plan and one pacer."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence

from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.pacer import DEFAULT_TICK, Pacer
from camsim.encoder.publisher import Backoff, StreamPublisher
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import StreamStats
from camsim.encoder.target import PushTarget

StatusCallback = Callable[[Sequence[StreamStats]], None]


class EncoderFleet:
    """Publishes ``targets`` at once until :meth:`stop`, the duration, or every stream ended.

    SIGINT and SIGTERM stop the fleet gracefully (each stream unpublishes); a second signal
    abandons the streams at once.
    """

    def __init__(
        self,
        targets: Sequence[PushTarget],
        plan: FlvPlan,
        options: PublishOptions,
        *,
        reconnect: bool = False,
        backoff: Backoff | None = None,
        tick: float = DEFAULT_TICK,
    ) -> None:
        self.targets = tuple(targets)
        self.plan = plan
        self.options = options
        self.reconnect = reconnect
        self.backoff = backoff
        self.tick = tick
        self.publishers: list[StreamPublisher] = []
        self._tasks: list[asyncio.Task[StreamStats]] = []
        self._stopping = False

    @property
    def stats(self) -> list[StreamStats]:
        return [publisher.stats for publisher in self.publishers]

    async def run(
        self,
        duration: float | None = None,
        *,
        on_status: StatusCallback | None = None,
        status_interval: float = 1.0,
    ) -> list[StreamStats]:
        """Run every stream; return their stats once all have ended."""
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, tick=self.tick)
        self.publishers = [
            StreamPublisher(
                index,
                target,
                self.plan,
                pacer,
                self.options,
                reconnect=self.reconnect,
                backoff=self.backoff,
            )
            for index, target in enumerate(self.targets, start=1)
        ]
        self._tasks = [asyncio.create_task(p.run()) for p in self.publishers]
        deadline = loop.call_later(duration, self.stop) if duration is not None else None
        reporter = (
            asyncio.create_task(self._report(on_status, status_interval)) if on_status else None
        )
        try:
            with self._signals(loop):
                await asyncio.gather(*self._tasks)
        finally:
            if deadline is not None:
                deadline.cancel()
            if reporter is not None:
                reporter.cancel()
            pacer.close()
        if on_status is not None:
            on_status(self.stats)
        return self.stats

    def stop(self) -> None:
        """Stop every stream gracefully; a second call abandons them."""
        if self._stopping:
            for task in self._tasks:
                task.cancel()
            return
        self._stopping = True
        for publisher in self.publishers:
            publisher.stop()

    async def _report(self, on_status: StatusCallback, interval: float) -> None:
        while True:
            on_status(self.stats)
            await asyncio.sleep(interval)

    @contextlib.contextmanager
    def _signals(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        installed: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or a platform without signal handlers
            installed.append(signum)
        try:
            yield
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
