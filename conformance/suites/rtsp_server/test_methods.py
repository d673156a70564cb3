"""The RTSP methods a camera answers, and the headers of the answers."""

from __future__ import annotations

from urllib.parse import urlsplit

from conformance.case import RECOMMENDED, REQUIRED, case, fail, not_applicable
from conformance.rtsp.link import Exchange
from conformance.rtsp.observe import TCP, UDP
from conformance.rtsp.spec import rfc2326, rfc7826
from conformance.rtsp.view import CameraView
from reports.model import Detail
from wire.rtsp import Public

NEEDED_METHODS = ("DESCRIBE", "SETUP", "PLAY", "TEARDOWN")
UNSUPPORTED_TRANSPORT = 461


def _detail(exchange: Exchange, message: str) -> Detail:
    return Detail(message, exchange.describe())


def _in_session(camera: CameraView, method: str) -> list[Exchange]:
    return [e for run in camera.played for e in run.in_session if e.method == method]


@case(
    "RTSP-MSG-001",
    "Every answer carries the CSeq of the request it answers",
    level=REQUIRED,
    spec=[rfc2326("12.17"), rfc7826("18.20")],
)
def test_cseq_echo(camera: CameraView) -> None:
    wrong = [
        _detail(e, f"request CSeq {e.cseq_sent}, answer CSeq {e.cseq_answered}")
        for e in camera.observation.exchanges()
        if e.answer is not None and e.cseq_answered != str(e.cseq_sent)
    ]
    if wrong:
        fail(f"{len(wrong)} answers with another CSeq than their request's", wrong)


@case(
    "RTSP-MSG-002",
    "OPTIONS is answered 200 with a Public header listing DESCRIBE, SETUP, PLAY and TEARDOWN",
    level=REQUIRED,
    spec=[rfc2326("10.1"), rfc2326("12.28")],
)
def test_options(camera: CameraView) -> None:
    options = camera.observation.options
    assert options is not None
    if options.status != 200:
        fail(f"OPTIONS answered {options.status}, expected 200", [_detail(options, "")])
    value = options.header("Public")
    if value is None:
        fail("the OPTIONS answer has no Public header", [_detail(options, "")])
    listed = Public.parse(value)
    missing = [m for m in NEEDED_METHODS if m not in listed]
    if missing:
        fail(f"Public lacks {', '.join(missing)}", [_detail(options, f"Public: {value}")])


@case(
    "RTSP-MSG-003",
    "OPTIONS and GET_PARAMETER within a playing session are answered (keepalives)",
    level=REQUIRED,
    spec=[rfc2326("10.1"), rfc2326("10.8"), rfc7826("10.5")],
)
def test_keepalives_answered(camera: CameraView) -> None:
    asked = _in_session(camera, "OPTIONS") + _in_session(camera, "GET_PARAMETER")
    if not asked:
        not_applicable("no session reached PLAY")
    silent = [_detail(e, f"no answer within {e.timeout:g} s") for e in asked if e.answer is None]
    if silent:
        fail(f"{len(silent)} of {len(asked)} keepalive requests never answered", silent)


@case(
    "RTSP-MSG-004",
    "GET_PARAMETER within a playing session is answered 200, not an error about the session",
    level=REQUIRED,
    spec=[rfc2326("10.8"), rfc7826("13.8")],
)
def test_get_parameter(camera: CameraView) -> None:
    options = camera.observation.options
    public = options.header("Public") if options is not None else None
    if public is None or "GET_PARAMETER" not in Public.parse(public):
        not_applicable("the camera does not list GET_PARAMETER in Public")
    answered = [e for e in _in_session(camera, "GET_PARAMETER") if e.answer is not None]
    if not answered:
        not_applicable("no GET_PARAMETER was answered (RTSP-MSG-003 judges that)")
    wrong = [_detail(e, f"answered {e.status}") for e in answered if e.status != 200]
    if wrong:
        fail("GET_PARAMETER with a live session was refused", wrong)


@case(
    "RTSP-MSG-005",
    "SETUP is answered with a Session header whose timeout, when given, is a number",
    level=REQUIRED,
    spec=[rfc2326("12.37"), rfc7826("18.49")],
)
def test_session_header(camera: CameraView) -> None:
    problems = []
    setups = 0
    for run in camera.observation.runs.values():
        for track in run.tracks:
            setup = track.setup
            if setup is None or setup.status != 200 or setup.answer is None:
                continue
            setups += 1
            session = setup.answer.session
            if session is None:
                problems.append(_detail(setup, "no Session header"))
            elif session.problems:
                problems.append(_detail(setup, "; ".join(session.problems)))
    if not setups:
        not_applicable("no SETUP was answered 200")
    if problems:
        fail("SETUP answers without a usable Session header", problems)


@case(
    "RTSP-MSG-006",
    "PAUSE is answered 200 and the media stops",
    level=REQUIRED,
    spec=[rfc2326("10.6"), rfc7826("13.6")],
)
def test_pause(camera: CameraView) -> None:
    problems = []
    for run in camera.played:
        if run.pause is None:
            continue
        if run.pause.status != 200:
            problems.append(_detail(run.pause, f"{run.name}: answered {run.pause.status}"))
        elif run.after_pause:
            problems.append(
                _detail(run.pause, f"{run.name}: {run.after_pause} RTP packets after the answer")
            )
    if problems:
        fail("PAUSE did not pause", problems)


@case(
    "RTSP-MSG-007",
    "TEARDOWN is answered 200",
    level=REQUIRED,
    spec=[rfc2326("10.7"), rfc7826("13.7")],
)
def test_teardown(camera: CameraView) -> None:
    teardowns = [r.teardown for r in camera.played if r.teardown is not None]
    if not teardowns:
        not_applicable("no session reached TEARDOWN")
    wrong = [_detail(e, f"answered {e.status}") for e in teardowns if e.status != 200]
    if wrong:
        fail("TEARDOWN of a live session failed", wrong)


@case(
    "RTSP-MSG-008",
    "PLAY without a session is refused with 454 or 455",
    level=RECOMMENDED,
    spec=[rfc2326("11.3.6"), rfc7826("13.4")],
)
def test_play_without_session(camera: CameraView) -> None:
    play = camera.observation.play_without_session
    assert play is not None
    if play.status not in (454, 455, 459):
        fail(f"PLAY without SETUP answered {play.status}", [_detail(play, "")])


@case(
    "RTSP-MSG-009",
    "Content-Base (or Content-Location) of the DESCRIBE answer is an absolute rtsp URL",
    level=REQUIRED,
    spec=[rfc2326("12.11"), rfc2326("C.1.1"), rfc7826("18.12")],
)
def test_content_base(camera: CameraView) -> None:
    describe = camera.observation.describe
    assert describe is not None
    for name in ("Content-Base", "Content-Location"):
        value = describe.header(name)
        if value is None:
            continue
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("rtsp", "rtsps", "rtspu") or not parts.netloc:
            fail(f"{name} is not an absolute rtsp URL: {value!r}", [_detail(describe, "")])
        return
    not_applicable("no Content-Base or Content-Location: controls resolve against the URL")


@case(
    "RTSP-MSG-010",
    "Every track's control URL resolves: its SETUP is answered 200 (or 461 for a transport "
    "the camera does not offer)",
    level=REQUIRED,
    spec=[rfc2326("C.1.1"), rfc2326("10.4")],
)
def test_setup_every_track(camera: CameraView) -> None:
    problems = []
    for run in camera.observation.runs.values():
        for track in run.tracks:
            setup = track.setup
            if setup is not None and setup.status not in (200, UNSUPPORTED_TRANSPORT):
                problems.append(_detail(setup, f"{run.name}: answered {setup.status}"))
        if run.error and not run.tracks and run.name in (UDP, TCP):
            problems.append(Detail(run.error, run.name))
    if problems:
        fail("SETUP of a track failed", problems)
