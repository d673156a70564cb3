"""The ``camera`` fixture: the target observed once; every case judges that observation."""

from __future__ import annotations

import asyncio

import pytest

from conformance.case import not_applicable
from conformance.rtsp.link import LinkError, Target, tls_context
from conformance.rtsp.observe import TRANSPORTS, CameraRun, CameraSettings
from conformance.rtsp.view import CameraView
from conformance.session import ConformanceSession, ConformOptions, TargetUnreachable

DEFAULT_SECONDS = 10.0
MIN_SECONDS = 4.0
"""Three seconds of media at least past the first keyframe, and a sender report's interval."""
DEFAULT_SESSION_WAIT = 20.0


def _number(options: ConformOptions, key: str, default: float) -> float:
    value = options.setting(key)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise TargetUnreachable(f"--set {key}={value}: not a number") from None


def settings_from(options: ConformOptions) -> CameraSettings:
    if not options.target:
        raise TargetUnreachable("the rtsp-server suite needs --target rtsp[s]://host[:port]/path")
    try:
        target = Target.parse(options.target)
    except ValueError as exc:
        raise TargetUnreachable(str(exc)) from None
    context = None
    if target.tls:
        context = tls_context(str(options.ca) if options.ca else None, options.insecure)
    transports = tuple(
        name.strip().lower()
        for name in (options.setting("transports") or ",".join(TRANSPORTS)).split(",")
        if name.strip()
    )
    unknown = set(transports) - set(TRANSPORTS)
    if unknown:
        known = ", ".join(TRANSPORTS)
        raise TargetUnreachable(f"--set transports: unknown {', '.join(sorted(unknown))} ({known})")
    return CameraSettings(
        target=target,
        context=context,
        duration=max(options.duration or DEFAULT_SECONDS, MIN_SECONDS),
        transports=transports,
        session_wait=_number(options, "session-wait", DEFAULT_SESSION_WAIT),
    )


@pytest.fixture(scope="session")
def camera(conform_options: ConformOptions, conform_session: ConformanceSession) -> CameraView:
    """The camera observed once."""
    settings = settings_from(conform_options)
    try:
        observation = asyncio.run(CameraRun(settings, conform_session.progress).run())
    except LinkError as exc:
        raise TargetUnreachable(str(exc)) from None
    environment = conform_session.environment
    if observation.options is not None and (server := observation.options.header("Server")):
        environment["server"] = server
    environment["observed"] = (
        f"{settings.duration:g} s per session over {', '.join(settings.transports)}"
    )
    conform_session.notes.extend(observation.notes)
    return CameraView(observation)


@pytest.fixture(autouse=True)
def _credentials_accepted(request: pytest.FixtureRequest) -> None:
    """With the URL's credentials refused, only the authentication cases have anything to
    judge; the others are not applicable rather than failed for want of a session."""
    if request.module.__name__.rpartition(".")[2] == "test_auth":
        return
    view = request.getfixturevalue("camera")
    assert isinstance(view, CameraView)
    if view.observation.credentials_refused:
        not_applicable("the camera refused the URL's credentials (RTSP-AUTH-003)")


@pytest.fixture(scope="session")
def mtu(conform_options: ConformOptions) -> int:
    """The path MTU RTP over UDP must fit (``--set mtu=BYTES``)."""
    return int(_number(conform_options, "mtu", 1500))
