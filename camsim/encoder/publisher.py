"""One stream for its whole life: connection attempts, reconnects with capped backoff, outcome."""

from __future__ import annotations

import asyncio
import dataclasses
import random

from camsim.encoder.errors import PublishRefused, PushError
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.pacer import Pacer
from camsim.encoder.session import MediaClock, PublishOptions, PublishSession
from camsim.encoder.stats import StreamState, StreamStats
from camsim.encoder.target import PushTarget
from wire.backoff import Backoff as Backoff  # the shared one, re-exported for the fleet and CLI


class Publisher:
    """Publishes one stream until :meth:`stop`, a fatal error, or (without reconnect) any
    error. Every attempt after the first counts as a reconnect."""

    def __init__(
        self,
        index: int,
        target: PushTarget,
        plan: FlvPlan,
        pacer: Pacer,
        options: PublishOptions,
        *,
        reconnect: bool = False,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self.pacer = pacer
        self.options = options
        self.reconnect = reconnect
        # Attempt k waits a random time in [d/2, d], d = min(cap, initial * 2**k), so a fleet
        # that lost its server does not come back in lockstep.
        self.backoff = backoff or Backoff()
        if rng is not None:
            self.backoff = dataclasses.replace(self.backoff, random=rng.random)
        self.stats = StreamStats(index, target.url)
        self.clock = MediaClock(plan, options.start_timestamp)
        self._session: PublishSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped_while_publishing = False

    async def run(self) -> StreamStats:
        """Run until stopped or failed; the outcome is in the returned stats."""
        self._task = asyncio.current_task()
        try:
            await self._attempts()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            self._settle_stopped()
        return self.stats

    def stop(self) -> None:
        """Stop publishing: unpublish and close gracefully when connected, else give up."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped_while_publishing = self.stats.state is StreamState.PUBLISHING
        session = self._session
        if session is not None and session.established:
            session.stop()
        elif self._task is not None:
            self._task.cancel()

    async def _attempts(self) -> None:
        stats = self.stats
        failures = 0
        while not self._stopping:
            stats.state = StreamState.RECONNECTING if stats.reconnects else StreamState.CONNECTING
            stats.reset_timings()
            session = self._session = PublishSession(
                self.target, self.clock, self.pacer, self.options, stats
            )
            try:
                await session.run()
            except PushError as exc:
                stats.error = str(exc)
                if isinstance(exc, PublishRefused):
                    stats.status_code, stats.status_description = exc.code, exc.description
                if exc.fatal or not self.reconnect or self._stopping:
                    stats.state = StreamState.FAILED
                    return
            else:
                break
            finally:
                self._session = None
            failures = 0 if session.published else failures + 1
            stats.state = StreamState.RECONNECTING
            await asyncio.sleep(self.backoff.delay(failures))
            stats.reconnects += 1
        self._settle_stopped()

    def _settle_stopped(self) -> None:
        stats = self.stats
        if self._stopped_while_publishing:
            stats.state = StreamState.DONE
        else:
            stats.state = StreamState.FAILED
            stats.error = stats.error or "stopped before the publish started"
