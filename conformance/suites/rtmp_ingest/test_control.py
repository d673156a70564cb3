"""Protocol control: acknowledgements (RTMP 1.0 §5.4.3, §5.4.4) and ping (§7.1.7).

Which window binds the server: §5.4.4 has the *receiver* of a Window Acknowledgement Size
acknowledge after that many bytes, so a server acknowledges by the window the client announced,
and by its own only when the client announced none. Servers read it either way (a server that
announces 2.5 MB and acknowledges by it is common), and no encoder waits for acknowledgements
(FFmpeg and OBS send regardless), so the suite requires a server to acknowledge at all, within
the larger of the two windows (RTMP-ACK-001), and recommends the client's (RTMP-ACK-002).
"""

from __future__ import annotations

import itertools

from conformance.case import RECOMMENDED, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtmp.observation import AckRecord, IngestObservation
from conformance.rtmp.observe import MAX_ACK_PUSH, PING_TIMESTAMP
from conformance.spec import adobe_rtmp
from reports.model import Detail
from wire.rtmp.messages import MessageType, UserControl, UserControlType

READ_SLACK = 64 * 1024 + 256 * 1024
"""A server checks its count after each read, and a read may take this much past the window
(a plain TCP read of 64 KiB; asyncio's TLS layer hands over up to 256 KiB at once)."""


def _record(ingest: IngestObservation) -> AckRecord:
    record = ingest.ack
    if record is None or not record.published:
        why = record.log.error if record is not None else ""
        fail(f"the acknowledgement probe could not publish {why}".rstrip())
    return record


def _gaps(record: AckRecord) -> list[tuple[int, int, str]]:
    """(from, to, where) for each stretch of bytes between acknowledgements, the bytes after
    the last one included."""
    points = [(0, "the start")] + [
        (sequence, f"Acknowledgement {n} (sequence number {sequence})")
        for n, (_, sequence) in enumerate(record.acks, start=1)
    ]
    gaps = [(a, b, where) for (a, _), (b, where) in itertools.pairwise(points)]
    gaps.append((points[-1][0], record.pushed, "after the last acknowledgement"))
    return gaps


def _window_findings(record: AckRecord, window: int, slack: int) -> list[Detail]:
    details = []
    for start, end, where in _gaps(record):
        if end - start > window + slack:
            details.append(
                Detail(f"{end - start} bytes without an acknowledgement (window {window})", where)
            )
    return details


@case(
    "RTMP-ACK-001",
    "The server acknowledges what it receives, within the larger of the two windows, with "
    "sequence numbers that count the bytes received",
    level=REQUIRED,
    spec=[adobe_rtmp("5.4.3"), adobe_rtmp("5.4.4")],
)
def test_acknowledges(ingest: IngestObservation, case_record: CaseRecord) -> None:
    record = _record(ingest)
    larger = max(record.server_window or 0, record.client_window)
    case_record.measure("acknowledgements", len(record.acks))
    case_record.measure("server window", record.server_window)
    case_record.measure("bytes sent", record.pushed)
    if 2 * larger > MAX_ACK_PUSH:
        not_applicable(f"a window of {larger} bytes is more than the suite pushes to test it")
    details = []
    previous = 0
    for n, (at, sequence) in enumerate(record.acks, start=1):
        sent = record.sent_by(at)
        where = f"Acknowledgement {n}"
        if sequence > sent:
            details.append(Detail(f"sequence number {sequence}, but {sent} bytes were sent", where))
        if sequence < previous:
            details.append(Detail(f"sequence number {sequence} after {previous}", where))
        previous = sequence
    details += _window_findings(record, larger, larger // 2 + READ_SLACK)
    if details:
        fail(
            f"acknowledgements do not follow the bytes received (server window "
            f"{record.server_window}, client window {record.client_window})",
            details,
        )
    case_record.summary = f"{len(record.acks)} acknowledgements for {record.pushed} bytes"


@case(
    "RTMP-ACK-002",
    "The server acknowledges each time the window the client announced has been received",
    level=RECOMMENDED,
    spec=[adobe_rtmp("5.4.4")],
)
def test_client_window(ingest: IngestObservation, case_record: CaseRecord) -> None:
    record = _record(ingest)
    window = record.client_window
    details = _window_findings(record, window, window // 2 + READ_SLACK)
    if details:
        fail(
            f"the client announced a window of {window} bytes; the server did not acknowledge "
            f"by it (it announced {record.server_window})",
            details,
        )
    case_record.summary = f"{len(record.acks)} acknowledgements, window {window}"


@case(
    "RTMP-PING-001",
    "A PingRequest is answered with a PingResponse carrying its timestamp",
    level=RECOMMENDED,
    spec=[adobe_rtmp("7.1.7")],
)
def test_ping(ingest: IngestObservation, case_record: CaseRecord) -> None:
    log = ingest.ping
    if log is None or not log.answer_to("connect"):
        fail(f"the ping probe could not connect {log.error if log else ''}".rstrip())
    sent_at = next((t for t, what in log.sent if what.startswith("PingRequest")), None)
    if sent_at is None:
        fail("the ping probe did not get to send its PingRequest")
    answers = []
    for received in log.of_type(MessageType.USER_CONTROL):
        try:
            control = UserControl.parse(received.message.payload)
        except ValueError:
            continue
        if control.event_type == UserControlType.PING_RESPONSE:
            answers.append((received, control.value))
    matching = [r for r, value in answers if value == PING_TIMESTAMP]
    if not matching:
        seen = ", ".join(f"{value:#x}" for _, value in answers) or "no PingResponse"
        fail(
            f"PingRequest {PING_TIMESTAMP:#x} was not answered within 5 s",
            [Detail(f"seen: {seen}", "ping probe")],
        )
    delay = (matching[0].at - sent_at) * 1000
    case_record.measure("answered after", round(delay, 1), "ms")
    case_record.summary = f"answered in {delay:.1f} ms"
