"""Feeding a target with camsim's encoder while a suite observes it.

``--feed rtmp://host/app/name`` (or ``rtmps://``) makes a suite publish the sample itself, the
way OBS or FFmpeg would (:mod:`camsim.encoder`), for as long as it observes the target::

    async with RtmpFeed.from_options(options) as feed:
        await feed.wait_for(lambda: playlist_is_served(url), timeout=30)
        ...observe...

A refused publish or an unreachable ingest ends the feed; :meth:`RtmpFeed.check` then raises
:class:`~conformance.session.TargetUnreachable` with the encoder's own words.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

from camsim.encoder.fleet import EncoderFleet
from camsim.encoder.flv_source import FlvPlan, PlanError
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import StreamStats
from camsim.encoder.target import PushTarget, TargetError
from camsim.media.loader import LoaderError, load
from camsim.media.make import default_sample
from conformance.session import ConformOptions, TargetUnreachable
from wire.codec.nal import VideoCodec


class RtmpFeed:
    """One RTMP/RTMPS publisher of ``media`` (the default sample when None), looped."""

    def __init__(
        self,
        url: str,
        *,
        media: Path | None = None,
        enhanced: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        try:
            self.target = PushTarget.parse(url)
        except TargetError as exc:
            raise TargetUnreachable(f"--feed {url}: {exc}") from None
        self.media = media
        self.enhanced = enhanced
        self.ssl_context = ssl_context
        self.fleet: EncoderFleet | None = None
        self._task: asyncio.Task[list[StreamStats]] | None = None

    @classmethod
    def from_options(cls, options: ConformOptions) -> RtmpFeed:
        assert options.feed is not None
        context = None
        if options.feed.lower().startswith("rtmps://"):
            context = ssl.create_default_context(
                cafile=str(options.feed_ca) if options.feed_ca is not None else None
            )
            if options.feed_insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return cls(options.feed, media=options.feed_media, ssl_context=context)

    def _plan(self) -> FlvPlan:
        try:
            path = self.media if self.media is not None else default_sample()
            sample = load(path)
            # H.265 travels only in Enhanced RTMP (hvc1), as OBS and FFmpeg send it.
            hevc = sample.video is not None and sample.video.codec is VideoCodec.H265
            return FlvPlan.build(sample, enhanced=self.enhanced or hevc)
        except (LoaderError, PlanError) as exc:
            raise TargetUnreachable(f"feed media: {exc}") from None

    async def __aenter__(self) -> RtmpFeed:
        plan = await asyncio.get_running_loop().run_in_executor(None, self._plan)
        self.fleet = EncoderFleet([self.target], plan, PublishOptions(ssl_context=self.ssl_context))
        self._task = asyncio.create_task(self.fleet.run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.fleet is not None and self._task is not None:
            self.fleet.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except TimeoutError:
                self.fleet.stop()  # the second call abandons the stream
                await asyncio.gather(self._task, return_exceptions=True)

    @property
    def stats(self) -> StreamStats | None:
        return self.fleet.stats[0] if self.fleet is not None and self.fleet.stats else None

    def check(self) -> None:
        """Raise when the feed has ended on its own (refused, unreachable)."""
        if self._task is not None and self._task.done():
            stats = self.stats
            why = stats.error if stats is not None and stats.error else "the feed stopped"
            raise TargetUnreachable(f"feed {self.target.url}: {why}")

    async def wait_for(
        self, ready: Callable[[], Awaitable[bool]], *, timeout: float, what: str
    ) -> None:
        """Poll ``ready`` every 0.25 s until it says yes, the feed fails, or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            if await ready():
                return
            if time.monotonic() >= deadline:
                raise TargetUnreachable(f"{what} did not appear within {timeout:g} s of feeding")
            await asyncio.sleep(0.25)
