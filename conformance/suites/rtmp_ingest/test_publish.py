"""Publishing a name: a second publisher, unpublish and republish (and what HLS makes of it),
stream keys."""

from __future__ import annotations

from conformance.case import INFO, RECOMMENDED, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtmp.follower import FollowedStream
from conformance.rtmp.judge import frame_findings, hls_problem, seen_frames
from conformance.rtmp.observation import IngestObservation
from conformance.rtmp.observe import REPUBLISH_OFFSET
from conformance.rtmp.probe import ProbeLog
from conformance.rtmp.publishing import PUBLISH_START
from conformance.spec import adobe_rtmp, rfc8216
from reports.model import Detail, SpecRef

NET_STATUS = SpecRef(
    "ActionScript 3.0 NetStatusEvent",
    "info.code",
    "https://help.adobe.com/en_US/FlashPlatform/reference/actionscript/3/flash/events/"
    "NetStatusEvent.html",
)
BAD_NAME = "NetStream.Publish.BadName"


def _codes(log: ProbeLog) -> list[tuple[str, str]]:
    return [(str(i.get("level", "")), str(i.get("code", ""))) for _, i in log.statuses()]


def _started(log: ProbeLog) -> bool:
    return any(code == PUBLISH_START for _, code in _codes(log))


@case(
    "RTMP-PUB-001",
    "A second publisher of a live name is not given it, and the first keeps publishing",
    level=REQUIRED,
    spec=[adobe_rtmp("7.2.2.6"), NET_STATUS],
)
def test_second_publisher(ingest: IngestObservation) -> None:
    first = ingest.streams.get("dup")
    second = ingest.second_publisher
    if first is None or not first.published:
        why = (first.refusal or first.error) if first is not None else "not run"
        fail(f"the first publisher of the name was not accepted: {why}")
    if second is None:
        fail("the second publisher did not run")
    details = []
    if _started(second):
        details.append(Detail(f"the second publisher got {PUBLISH_START}", first.name))
    if first.error:
        details.append(Detail(f"the first publisher's connection ended: {first.error}", first.name))
    if details:
        fail("a second publish of a live name took it over or disturbed the first", details)


@case(
    "RTMP-PUB-002",
    "The second publisher is told why: onStatus error NetStream.Publish.BadName",
    level=RECOMMENDED,
    spec=[adobe_rtmp("7.2.2.6"), NET_STATUS],
)
def test_second_publisher_told(ingest: IngestObservation) -> None:
    second = ingest.second_publisher
    if second is None or _started(second):
        not_applicable("the second publisher was not refused (see RTMP-PUB-001)")
    if second.answer_to("createStream") is None:
        fail("the second publisher did not get as far as publishing", [Detail(second.error)])
    codes = _codes(second)
    errors = [code for level, code in codes if level == "error"]
    if BAD_NAME not in errors:
        seen = ", ".join(f"{level} {code}" for level, code in codes) or "no onStatus"
        how = "closed the connection" if second.closed_by_server_at else "stayed silent"
        fail(
            f"the refusal was not an onStatus error {BAD_NAME}: the server {how}",
            [Detail(f"seen: {seen}", "second publisher")],
        )


@case(
    "RTMP-PUB-003",
    "After unpublish (FCUnpublish, deleteStream) the name can be published again at once",
    level=REQUIRED,
    spec=[adobe_rtmp("7.2.2.3"), adobe_rtmp("7.2.2.6")],
)
def test_republish_accepted(ingest: IngestObservation) -> None:
    first = ingest.streams.get("repub")
    if first is None or not first.published:
        why = (first.refusal or first.error) if first is not None else "not run"
        fail(f"the first publish was not accepted: {why}")
    if first.error:
        fail(f"the first publish ended before the suite unpublished it: {first.error}")
    again = ingest.republish
    if again is None or not again.published:
        why = (again.refusal or again.error) if again is not None else "not run"
        fail(f"publishing the name again 1 s after unpublishing it failed: {why}")


def _continuity(hls: FollowedStream) -> list[Detail]:
    """Media sequence numbers that went back while the playlist neither ended nor went away."""
    details = []
    previous: int | None = None
    ended = False
    for number, state in enumerate(hls.reloads):
        if state.status != 200 or state.media_sequence is None:
            ended = ended or state.status in (404, 410)
            continue
        if previous is not None and state.media_sequence < previous and not ended:
            details.append(
                Detail(
                    f"EXT-X-MEDIA-SEQUENCE went from {previous} to {state.media_sequence} with "
                    "no EXT-X-ENDLIST or removal of the playlist before",
                    f"reload {number}",
                )
            )
        previous = state.media_sequence
        ended = state.endlist
    return details


@case(
    "RTMP-PUB-004",
    "HLS goes on after a republish: the new frames appear, after EXT-X-DISCONTINUITY where "
    "the playlist continues",
    level=REQUIRED,
    spec=[rfc8216("4.3.2.3"), rfc8216("6.2.1"), rfc8216("6.2.2")],
)
def test_hls_after_republish(ingest: IngestObservation, case_record: CaseRecord) -> None:
    first, again = ingest.streams.get("repub"), ingest.republish
    if not ingest.follows_hls:
        not_applicable("no --hls: where the output is is not known")
    if first is None or again is None or not again.published:
        not_applicable("the name could not be published again (see RTMP-PUB-003)")
    hls = again.hls
    problem = hls_problem(hls)
    if problem or hls is None:
        fail(f"the republished stream: {problem}")
    details = frame_findings(first.complete_gops() + again.complete_gops(), hls)
    details += _continuity(hls)
    seen = seen_frames(hls)
    before = [s for s in seen if s.frame.index < REPUBLISH_OFFSET]
    after = [s for s in seen if s.frame.index >= REPUBLISH_OFFSET]
    if before and after:
        last, following = before[-1].segment, after[0].segment
        continued = following.sequence > last.sequence
        case_record.measure("playlist", "continued" if continued else "started again")
        # The tag itself is judged here; whether EXT-X-DISCONTINUITY-SEQUENCE accounts for
        # tags that left the playlist is hls-output's HLS-RL-004.
        between = [s for s in hls.segments if last.sequence < s.sequence <= following.sequence]
        if continued and not any(s.discontinuity for s in between):
            details.append(
                Detail(
                    "the republished media (timestamps from 0 again) follows without "
                    "EXT-X-DISCONTINUITY",
                    f"segment {following.sequence} after segment {last.sequence}",
                )
            )
    if details:
        fail("the HLS output did not carry the stream across the republish", details)


@case(
    "RTMP-PUB-005",
    "What the HLS playlist says after the publisher leaves",
    level=INFO,
    spec=[rfc8216("6.2.1"), rfc8216("6.2.2")],
)
def test_hls_after_unpublish(ingest: IngestObservation, case_record: CaseRecord) -> None:
    main = ingest.streams.get("main")
    if main is None or main.hls is None or not main.stopped_at:
        not_applicable("no --hls, or the main stream was not published")
    after = [r for r in main.hls.reloads if r.at >= main.stopped_at]
    if not after:
        not_applicable("the playlist was not reloaded after the unpublish")
    waited = after[-1].at - main.stopped_at
    ended = next((r for r in after if r.endlist), None)
    removed = next((r for r in after if r.status in (404, 410)), None)
    if ended is not None:
        case_record.summary = f"EXT-X-ENDLIST {ended.at - main.stopped_at:.1f} s after"
    elif removed is not None:
        case_record.summary = f"HTTP {removed.status} {removed.at - main.stopped_at:.1f} s after"
    else:
        case_record.summary = f"still a live playlist {waited:.1f} s after (no EXT-X-ENDLIST)"
    case_record.measure("after unpublish", case_record.summary)


def _keys(ingest: IngestObservation) -> dict[str, ProbeLog]:
    if not ingest.key:
        not_applicable("no --key: the target takes publishes without a stream key")
    return ingest.keys


@case(
    "RTMP-KEY-001",
    "A publish with a wrong stream key, or none, is refused",
    level=REQUIRED,
    spec=[adobe_rtmp("7.2.2.6"), NET_STATUS],
)
def test_bad_key_refused(ingest: IngestObservation) -> None:
    keys = _keys(ingest)
    details = [
        Detail(f"got {PUBLISH_START}", label) for label, log in keys.items() if _started(log)
    ]
    if len(keys) < 2:
        details.append(Detail("the key probes did not all run"))
    if details:
        fail("a publish without the right stream key was accepted", details)


@case(
    "RTMP-KEY-002",
    "A refused key is answered with an onStatus error before the connection closes",
    level=RECOMMENDED,
    spec=[adobe_rtmp("7.2.2"), NET_STATUS],
)
def test_bad_key_told(ingest: IngestObservation, case_record: CaseRecord) -> None:
    keys = _keys(ingest)
    details = []
    for label, log in keys.items():
        if _started(log):
            continue
        errors = [code for level, code in _codes(log) if level == "error"]
        if errors:
            case_record.measure(label, errors[0])
        else:
            how = "closed the connection" if log.closed_by_server_at else "never answered"
            details.append(Detail(f"no onStatus error: the server {how}", label))
    if details:
        fail(
            "a refused stream key looked like a network failure to the encoder (no onStatus "
            "error saying why)",
            details,
        )
