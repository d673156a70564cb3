"""The ``ingest`` fixture: every scenario run once against the target, for the cases to judge."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan, PlanError
from camsim.media.loader import LoaderError, load
from camsim.media.make import SampleError, cached_sample, default_sample
from camsim.media.spec import SampleSpec
from conformance.rtmp.observation import IngestObservation
from conformance.rtmp.observe import IngestRun, IngestSettings, endpoint_context
from conformance.rtmp.probe import Endpoint
from conformance.rtmp.publishing import gop_seconds
from conformance.session import ConformanceSession, ConformOptions, TargetUnreachable
from wire.codec.nal import VideoCodec

HEVC_SPEC = SampleSpec(
    codec=VideoCodec.H265,
    width=640,
    height=360,
    gop_seconds=Fraction(1),
    bitrate=800_000,
    duration=Fraction(4),
)
"""The Enhanced RTMP stream's sample unless ``--set hevc-media=FILE``: small, made once and
cached like the default sample."""
DEFAULT_MAIN_SECONDS = 20.0
MIN_MAIN_GOPS = 4


def _plan(path: Path, *, enhanced: bool = False) -> FlvPlan:
    return FlvPlan.build(load(path), enhanced=enhanced)


def _main_plan(options: ConformOptions) -> FlvPlan:
    try:
        path = options.feed_media if options.feed_media is not None else default_sample()
        return _plan(path)
    except (LoaderError, PlanError, SampleError) as exc:
        raise TargetUnreachable(f"the sample to publish: {exc}") from None


def _hevc_plan(options: ConformOptions) -> tuple[FlvPlan | None, str]:
    given = options.setting("hevc-media")
    try:
        path = Path(given) if given else cached_sample(HEVC_SPEC)
        return _plan(path, enhanced=True), ""
    except (LoaderError, PlanError, SampleError, OSError) as exc:
        return None, str(exc)


def settings_from(options: ConformOptions) -> IngestSettings:
    if not options.target:
        raise TargetUnreachable("the rtmp-ingest suite needs --target rtmp[s]://host[:port]/app")
    try:
        tls = options.target.lower().startswith("rtmps://")
        context = endpoint_context(tls, options.ca, options.insecure)
        endpoint = Endpoint.parse(options.target, context)
    except ValueError as exc:
        raise TargetUnreachable(str(exc)) from None
    if options.hls and "{name}" not in options.hls:
        raise TargetUnreachable(f"--hls {options.hls}: no {{name}} for the stream name in it")
    plan = _main_plan(options)
    hevc_plan, hevc_note = _hevc_plan(options)
    gop = gop_seconds(plan)
    main_seconds = max(options.duration or DEFAULT_MAIN_SECONDS, MIN_MAIN_GOPS * gop)
    return IngestSettings(
        endpoint=endpoint,
        plan=plan,
        hevc_plan=hevc_plan,
        hevc_note=hevc_note,
        hls=options.hls,
        key=options.key,
        key_param=options.setting("key-param", "key") or "key",
        main_seconds=main_seconds,
        ca=options.ca,
    )


@pytest.fixture(scope="session")
def ingest(
    conform_options: ConformOptions, conform_session: ConformanceSession
) -> IngestObservation:
    """The target observed once; every case judges this observation."""
    conform_session.progress("preparing the samples")
    settings = settings_from(conform_options)
    observation = asyncio.run(IngestRun(settings, conform_session.progress).run())
    environment = conform_session.environment
    environment["published"] = (
        f"{len(observation.streams)} streams as {settings.endpoint.tc_url}/camsim-*, "
        f"main stream {settings.main_seconds:g} s"
    )
    if settings.hls:
        environment["hls"] = settings.hls
    conform_session.notes.extend(observation.notes)
    return observation
