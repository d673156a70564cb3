"""The NetConnection and NetStream commands encoders send, and the answers they wait for
(RTMP 1.0 §7.2): FFmpeg's sequence and OBS's (librtmp's)."""

from __future__ import annotations

from conformance.case import INFO, RECOMMENDED, REQUIRED, CaseRecord, case, fail
from conformance.rtmp.observation import IngestObservation
from conformance.rtmp.probe import ProbeLog, Received, status_info
from conformance.rtmp.publishing import PUBLISH_START, SEQUENCES
from conformance.spec import adobe_rtmp
from reports.model import Detail
from wire.rtmp.messages import MessageType, as_stream_id

CONNECT_SUCCESS = "NetConnection.Connect.Success"


def _answer(log: ProbeLog, method: str) -> Received | None:
    return log.answer_to(method)


def _sequence_logs(ingest: IngestObservation) -> list[tuple[str, ProbeLog]]:
    return [(SEQUENCES[key].name, log) for key, log in ingest.sequences.items()]


@case(
    "RTMP-CMD-001",
    "connect is answered _result (transaction 1) with NetConnection.Connect.Success",
    level=REQUIRED,
    spec=[adobe_rtmp("7.2.1.1")],
)
def test_connect_result(ingest: IngestObservation) -> None:
    details = []
    for who, log in _sequence_logs(ingest):
        answer = _answer(log, "connect")
        if answer is None or answer.command is None:
            why = log.error or (
                "the server closed the connection" if log.closed_by_server_at else ""
            )
            details.append(Detail(f"no answer to connect {why}".rstrip(), f"{who} sequence"))
            continue
        info = status_info(answer)
        if answer.command.name != "_result":
            details.append(Detail(f"answered {answer.command.name}", f"{who} sequence"))
        elif info is None:
            details.append(Detail("_result without an information object", f"{who} sequence"))
        elif info.get("code") != CONNECT_SUCCESS or info.get("level") != "status":
            details.append(
                Detail(
                    f"information object level {info.get('level')!r}, code {info.get('code')!r}",
                    f"{who} sequence",
                )
            )
    if details:
        fail(f"connect was not answered _result with {CONNECT_SUCCESS}", details)


@case(
    "RTMP-CMD-002",
    "Window Acknowledgement Size and Set Peer Bandwidth come before the connect _result",
    level=RECOMMENDED,
    spec=[adobe_rtmp("7.2.1.1"), adobe_rtmp("5.4.4"), adobe_rtmp("5.4.5")],
)
def test_connect_control_messages(ingest: IngestObservation, case_record: CaseRecord) -> None:
    log = ingest.sequences["ffmpeg"]
    answer = _answer(log, "connect")
    if answer is None:
        fail("connect was not answered, so what precedes the answer cannot be judged")
    before = log.received[: log.index_of(answer)]
    kinds = {r.type_id for r in before}
    names = {MessageType.WINDOW_ACK_SIZE: "Window Acknowledgement Size"}
    names[MessageType.SET_PEER_BANDWIDTH] = "Set Peer Bandwidth"
    missing = [name for kind, name in names.items() if kind not in kinds]
    case_record.summary = "before _result: " + ", ".join(
        MessageType(r.type_id).name.replace("_", " ").lower()
        for r in before
        if r.type_id in set(MessageType)
    )
    if missing:
        fail(
            f"no {' and no '.join(missing)} before the connect _result, where the message "
            "flow of §7.2.1.1 has them",
            [Detail(case_record.summary or "nothing before _result", "FFmpeg sequence")],
        )


@case(
    "RTMP-CMD-003",
    "FFmpeg's and OBS's publish sequences get a createStream _result and "
    "NetStream.Publish.Start on the new stream",
    level=REQUIRED,
    spec=[adobe_rtmp("7.2.1.3"), adobe_rtmp("7.2.2.6")],
)
def test_publish_sequences(ingest: IngestObservation) -> None:
    details = []
    for who, log in _sequence_logs(ingest):
        where = f"{who} sequence"
        create = _answer(log, "createStream")
        if create is None or create.command is None:
            last = _answer(log, "connect")
            why = "connect was not accepted" if last is None else "no answer to createStream"
            details.append(Detail(why, where))
            continue
        if create.command.name != "_result":
            info = status_info(create)
            code = info.get("code") if info else ""
            details.append(Detail(f"createStream answered {create.command.name} {code}", where))
            continue
        arguments = create.command.arguments
        stream_id = as_stream_id(arguments[0]) if arguments else None
        if stream_id is None or stream_id == 0:
            details.append(
                Detail(
                    f"createStream _result carries {arguments[:1]!r}: not a stream id (message "
                    "stream 0 is the NetConnection's, §5.4 and §7.1)",
                    where,
                )
            )
            continue
        statuses = [
            (r, info) for r, info in log.statuses() if str(info.get("code", "")).startswith("Net")
        ]
        start = next((r for r, info in statuses if info.get("code") == PUBLISH_START), None)
        if start is None:
            seen = ", ".join(str(info.get("code")) for _, info in statuses) or "no onStatus"
            details.append(Detail(f"publish was answered: {seen}", where))
        elif start.message.stream_id != stream_id:
            details.append(
                Detail(
                    f"{PUBLISH_START} came on message stream {start.message.stream_id}, "
                    f"the stream published is {stream_id}",
                    where,
                )
            )
    if details:
        fail("an encoder's publish sequence did not get the answers it waits for", details)


@case(
    "RTMP-CMD-004",
    "onStatus has transaction id 0, a null command object and an info object with level, "
    "code and description",
    level=REQUIRED,
    spec=[adobe_rtmp("7.2.2")],
)
def test_on_status_form(ingest: IngestObservation) -> None:
    details = []
    checked = 0
    for who, log in _sequence_logs(ingest):
        for received in log.commands("onStatus"):
            command = received.command
            assert command is not None
            checked += 1
            where = f"{who} sequence, message {log.index_of(received) + 1}"
            if command.transaction_id != 0:
                details.append(Detail(f"transaction id {command.transaction_id:g}", where))
            if command.command_object is not None:
                details.append(Detail(f"command object {command.command_object!r}", where))
            info = command.arguments[0] if command.arguments else None
            if not isinstance(info, dict):
                details.append(Detail(f"info object {info!r}", where))
                continue
            absent = [
                k for k in ("level", "code", "description") if not isinstance(info.get(k), str)
            ]
            if absent:
                details.append(Detail(f"info object without {', '.join(absent)}", where))
    if not checked:
        fail("no onStatus was received, so its form cannot be judged")
    if details:
        fail("onStatus is not of the form §7.2.2 gives", details)


@case(
    "RTMP-CMD-005",
    "What the server answers besides (releaseStream, FCPublish, its version)",
    level=INFO,
    spec=[adobe_rtmp("7.2.1.1")],
)
def test_answers_besides(ingest: IngestObservation, case_record: CaseRecord) -> None:
    log = ingest.sequences["ffmpeg"]
    for method in ("releaseStream", "FCPublish"):
        answer = _answer(log, method)
        name = answer.command.name if answer is not None and answer.command else "nothing"
        case_record.measure(f"{method} answered", name)
    others = sorted({r.command.name for r in log.received if r.command is not None})
    case_record.measure("commands received", ", ".join(others))
    connect = _answer(log, "connect")
    properties = connect.command.command_object if connect and connect.command else None
    if isinstance(properties, dict):
        for key in ("fmsVer", "capabilities", "mode", "fourCcList"):
            if key in properties:
                case_record.measure(f"connect {key}", str(properties[key]))
    case_record.summary = "; ".join(f"{m.name}: {m.value}" for m in case_record.measurements[:3])
