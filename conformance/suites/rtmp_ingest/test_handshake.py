"""The handshake (RTMP 1.0 §5.2) in both of its forms: the specification's simple handshake and
the complex one Flash Player 9 introduced, which FFmpeg and OBS send."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, case, fail
from conformance.rtmp.observation import IngestObservation
from conformance.rtmp.probe import ProbeLog
from conformance.spec import adobe_rtmp
from reports.model import Detail, SpecRef
from wire.rtmp.handshake import (
    FMS_KEY_TEXT_SIZE,
    GENUINE_FMS_KEY,
    HANDSHAKE_SIZE,
    RTMP_VERSION,
    find_digest,
    verify_signed_response,
)

COMPLEX_SPEC = SpecRef(
    "FFmpeg rtmpproto.c / rtmpdigest.c",
    "the Flash Player 9 handshake (HMAC-SHA256 digests in C1/S1, signed C2/S2)",
    "https://github.com/FFmpeg/FFmpeg/blob/master/libavformat/rtmpproto.c",
)


def _connect_answered(log: ProbeLog) -> bool:
    """connect got a ``_result`` (what it says is RTMP-CMD-001's to judge)."""
    answer = log.answer_to("connect")
    return answer is not None and answer.command is not None and answer.command.name == "_result"


def _handshake_failure(log: ProbeLog) -> str:
    record = log.handshake
    if record is None:
        return log.error or "the probe could not connect"
    return record.error or log.error or ""


@case(
    "RTMP-HS-001",
    "The simple handshake completes: S0 is version 3, S1 and S2 follow, connect is answered",
    level=REQUIRED,
    spec=[adobe_rtmp("5.2.2"), adobe_rtmp("5.2.3")],
)
def test_simple_handshake(ingest: IngestObservation) -> None:
    log = ingest.handshakes["simple"]
    record = log.handshake
    if record is None or record.s0 is None:
        fail(f"no S0 came back for a simple C0/C1: {_handshake_failure(log)}")
    if record.s0 != RTMP_VERSION:
        fail(
            f"S0 carries version {record.s0}, expected {RTMP_VERSION}",
            [Detail(f"S0 = {record.s0:#04x}", "first byte from the server")],
        )
    if not record.complete:
        fail(f"S1 and S2 did not both arrive: {record.error}")
    if not _connect_answered(log):
        fail(
            "after a simple handshake, connect got no _result: "
            + (_handshake_failure(log) or "no answer")
        )


@case(
    "RTMP-HS-002",
    "S2 echoes C1: its time field and random bytes are C1's",
    level=REQUIRED,
    spec=[adobe_rtmp("5.2.4")],
)
def test_s2_echoes_c1(ingest: IngestObservation) -> None:
    record = ingest.handshakes["simple"].handshake
    if record is None or not record.complete:
        fail("the simple handshake did not complete, so S2 cannot be judged")
    details = []
    if record.s2[:4] != record.c1[:4]:
        details.append(
            Detail(
                f"time field {record.s2[:4].hex()}, C1 sent {record.c1[:4].hex()}",
                "S2 bytes 0-3",
            )
        )
    differing = [i for i in range(8, HANDSHAKE_SIZE) if record.s2[i] != record.c1[i]]
    if differing:
        details.append(
            Detail(
                f"{len(differing)} of {HANDSHAKE_SIZE - 8} random bytes differ from C1's, "
                f"the first at offset {differing[0]}",
                "S2 bytes 8-1535",
            )
        )
    if details:
        fail("S2 does not echo C1 (§5.2.4: time and random echo MUST be the peer's)", details)


@case(
    "RTMP-HS-003",
    "The server waits for C1 before S2, and for C2 before anything else",
    level=REQUIRED,
    spec=[adobe_rtmp("5.2.1")],
)
def test_handshake_order(ingest: IngestObservation) -> None:
    log = ingest.handshakes["held"]
    record = log.handshake
    if record is None or record.before_c1 is None:
        fail(f"the handshake could not be held at C1: {_handshake_failure(log)}")
    details = []
    if record.before_c1 > 1 + HANDSHAKE_SIZE:
        details.append(
            Detail(
                f"{record.before_c1} bytes arrived while only C0 was sent: S2 (or more) "
                f"before C1, where S0 and S1 ({1 + HANDSHAKE_SIZE} bytes) at most may come",
                "C1 held back 0.5 s",
            )
        )
    if not record.complete:
        fail(f"S0, S1 and S2 did not arrive after C1: {record.error}", details)
    if record.before_c2:
        details.append(
            Detail(
                f"{record.before_c2} bytes after S2 before C2 was sent, starting "
                f"{record.early[:16].hex()}",
                "C2 held back 0.5 s",
            )
        )
    if details:
        fail("the server did not wait for the client's handshake packets", details)


@case(
    "RTMP-HS-004",
    "A complex (Flash Player 9) C1, as FFmpeg sends it, completes the handshake and connects",
    level=REQUIRED,
    spec=[adobe_rtmp("5.2"), COMPLEX_SPEC],
)
def test_complex_handshake_accepted(ingest: IngestObservation) -> None:
    log = ingest.handshakes["complex"]
    record = log.handshake
    if record is None or not record.complete:
        fail(f"the handshake did not complete: {_handshake_failure(log)}")
    if not _connect_answered(log):
        fail("after a complex handshake, connect got no _result")


@case(
    "RTMP-HS-005",
    "A complex C1 gets a complex answer: S1 with a valid digest, S2 signed over C1's digest",
    level=RECOMMENDED,
    spec=[COMPLEX_SPEC],
)
def test_complex_handshake_answered(ingest: IngestObservation) -> None:
    record = ingest.handshakes["complex"].handshake
    if record is None or not record.complete:
        fail("the complex handshake did not complete, so its answer cannot be judged")
    if record.s1[4:8] == bytes(4):
        fail(
            "S1 has a zero version field: the server answered with the simple handshake",
            [Detail("S1 bytes 4-7 are 00000000", "S1")],
        )
    if find_digest(record.s1, GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE]) is None:
        fail(
            "S1 claims a version but carries no valid Flash Media Server digest at either "
            "schema's position",
            [Detail(f"version field {record.s1[4:8].hex()}", "S1")],
        )
    if not verify_signed_response(record.s2, record.c1_digest, GENUINE_FMS_KEY):
        fail(
            "S2 is not signed with the key derived from C1's digest",
            [Detail("the last 32 bytes of S2 are not the expected HMAC", "S2")],
        )
