from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.message import InterleavedFrame, Request, Response
from wire.rtsp.reader import ReaderLimits, RtspReader
from wire.rtsp.status import StatusCode

PLAY = b"PLAY rtsp://h/s/ RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n"
SET_PARAMETER = (
    b"SET_PARAMETER rtsp://h/s/ RTSP/1.0\r\nCSeq: 6\r\nContent-Length: 12\r\n\r\nbarparam: 1\n"
)
RTP = b"$\x00\x00\x0c\x80\x60\x00\x01\x00\x00\x00\x00\xde\xad\xbe\xef"
RTCP = b"$\x01\x00\x08\x80\xc9\x00\x01\xde\xad\xbe\xef"
OK = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n"
STREAM = RTP + PLAY + RTCP + SET_PARAMETER + RTP + OK


def drain(reader: RtspReader) -> list[Any]:
    messages = []
    while (message := reader.next_message()) is not None:
        messages.append(message)
    return messages


def test_messages_and_frames_mixed() -> None:
    reader = RtspReader()
    reader.receive_data(STREAM)
    messages = drain(reader)
    assert [type(m) for m in messages] == [
        InterleavedFrame,
        Request,
        InterleavedFrame,
        Request,
        InterleavedFrame,
        Response,
    ]
    assert messages[0] == InterleavedFrame(0, RTP[4:])
    assert messages[2] == InterleavedFrame(1, RTCP[4:])
    assert messages[3].body == b"barparam: 1\n"
    assert b"".join(m.serialize() for m in messages) == STREAM
    assert not reader.has_partial


def test_one_byte_at_a_time() -> None:
    parts = [RTP, PLAY, RTCP, SET_PARAMETER, RTP, OK]
    boundaries = {sum(len(p) for p in parts[:n]) for n in range(1, len(parts) + 1)}
    reader = RtspReader()
    messages = []
    for i in range(len(STREAM)):
        reader.receive_data(STREAM[i : i + 1])
        messages.extend(drain(reader))
        assert reader.has_partial == (i + 1 not in boundaries)
    assert b"".join(m.serialize() for m in messages) == STREAM


def test_trailing_partial_data_waits() -> None:
    reader = RtspReader()
    reader.receive_data(PLAY + SET_PARAMETER[:30])
    assert drain(reader)[0].serialize() == PLAY
    assert reader.has_partial
    reader.receive_data(SET_PARAMETER[30:])
    assert drain(reader)[0].serialize() == SET_PARAMETER


def test_empty_lines_between_messages_are_skipped() -> None:
    reader = RtspReader()
    reader.receive_data(b"\r\n" + PLAY + b"\r\n\n" + OK)
    assert [m.serialize() for m in drain(reader)] == [PLAY, OK]


def test_empty_interleaved_frame() -> None:
    reader = RtspReader()
    reader.receive_data(b"$\x02\x00\x00")
    assert drain(reader) == [InterleavedFrame(2, b"")]


def test_malformed_message_is_skipped_with_its_body() -> None:
    reader = RtspReader()
    bad = b"SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nbroken\r\nContent-Length: 4\r\n\r\n$$$$"
    reader.receive_data(bad + PLAY)
    with pytest.raises(RemoteProtocolError, match="malformed header line 'broken'") as info:
        reader.next_message()
    assert (info.value.cseq, info.value.fatal, info.value.status_code) == (3, False, 400)
    assert [m.serialize() for m in drain(reader)] == [PLAY]


def test_malformed_message_skipped_when_its_body_arrives_later() -> None:
    reader = RtspReader()
    reader.receive_data(b"X * RTSP/1.0\r\nCSeq: 3\r\nbroken\r\nContent-Length: 4\r\n\r\n$$")
    with pytest.raises(RemoteProtocolError):
        reader.next_message()
    assert reader.next_message() is None
    assert reader.has_partial
    reader.receive_data(b"$$" + OK)
    assert [m.serialize() for m in drain(reader)] == [OK]


def test_malformed_start_line_is_recoverable() -> None:
    reader = RtspReader()
    reader.receive_data(b"HELLO\r\nCSeq: 2\r\n\r\n" + PLAY)
    with pytest.raises(RemoteProtocolError, match="malformed start line 'HELLO'") as info:
        reader.next_message()
    assert info.value.cseq == 2
    assert not info.value.fatal
    assert [m.serialize() for m in drain(reader)] == [PLAY]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x16\x03\x01\x02\x00", "expected '\\$' or a start line, got byte 0x16"),
        (RTP + b"\x80\x60", "expected '\\$' or a start line, got byte 0x80"),
        (b"PLAY \x01\x02 RTSP", "expected a start line, got control byte 0x01"),
    ],
)
def test_garbage_is_fatal_and_stays_fatal(data, message) -> None:
    reader = RtspReader()
    reader.receive_data(data)
    with pytest.raises(RemoteProtocolError, match=message) as info:
        drain(reader)
    assert info.value.fatal
    reader.receive_data(PLAY)
    with pytest.raises(RemoteProtocolError, match=message):
        reader.next_message()


def test_control_byte_in_a_start_line_arriving_piecemeal() -> None:
    reader = RtspReader()
    for piece in (b"PLA", b"Y rtsp://h/"):
        reader.receive_data(piece)
        assert reader.next_message() is None
    reader.receive_data(b"\x02 RTSP/1.0\r\n")
    with pytest.raises(RemoteProtocolError, match="got control byte 0x02") as info:
        reader.next_message()
    assert info.value.fatal


def test_control_bytes_in_header_values_are_not_the_start_lines_problem() -> None:
    reader = RtspReader()
    reader.receive_data(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n")
    assert reader.next_message() is None
    reader.receive_data(b"X-Odd: a\x01b\r\n\r\n")
    message = reader.next_message()
    assert isinstance(message, Request)
    assert message.headers["X-Odd"] == "a\x01b"


def test_start_line_too_long_is_414() -> None:
    reader = RtspReader(ReaderLimits(max_head_bytes=64))
    reader.receive_data(b"DESCRIBE rtsp://h/" + b"a" * 64)
    with pytest.raises(RemoteProtocolError, match="start line exceeds 64 bytes") as info:
        reader.next_message()
    assert info.value.status_code == StatusCode.REQUEST_URI_TOO_LARGE
    assert info.value.fatal


@pytest.mark.parametrize("complete", [False, True])
def test_header_block_too_large(complete) -> None:
    reader = RtspReader(ReaderLimits(max_head_bytes=64))
    reader.receive_data(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: " + b"a" * 64)
    if complete:
        reader.receive_data(b"\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="header block exceeds 64 bytes") as info:
        reader.next_message()
    assert info.value.status_code == StatusCode.BAD_REQUEST
    assert info.value.fatal


def test_too_many_headers_is_recoverable() -> None:
    reader = RtspReader(ReaderLimits(max_headers=2))
    reader.receive_data(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nA: 1\r\nB: 2\r\n\r\n" + PLAY)
    with pytest.raises(RemoteProtocolError, match="3 header fields exceed the limit of 2"):
        reader.next_message()
    assert [m.serialize() for m in drain(reader)] == [PLAY]


def test_body_too_large_is_413() -> None:
    reader = RtspReader(ReaderLimits(max_body_bytes=8))
    reader.receive_data(b"ANNOUNCE * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 9\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="body of 9 bytes exceeds the limit of 8") as e:
        reader.next_message()
    assert (e.value.status_code, e.value.fatal, e.value.cseq) == (413, True, 4)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=40))
def test_any_bytes_give_messages_or_the_documented_error(data, chunk) -> None:
    reader = RtspReader(ReaderLimits(max_head_bytes=128, max_headers=8, max_body_bytes=64))
    for start in range(0, len(data), chunk):
        reader.receive_data(data[start : start + chunk])
        while True:
            try:
                message = reader.next_message()
            except RemoteProtocolError as error:
                if error.fatal:
                    return
                continue
            if message is None:
                break
            assert isinstance(message, Request | Response | InterleavedFrame)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(InterleavedFrame, st.integers(0, 255), st.binary(max_size=40)),
            st.sampled_from([PLAY, SET_PARAMETER, OK]),
        ),
        max_size=8,
    ),
    st.integers(min_value=1, max_value=17),
)
def test_any_mix_round_trips_in_any_chunking(items, chunk) -> None:
    stream = b"".join(i.serialize() if isinstance(i, InterleavedFrame) else i for i in items)
    reader = RtspReader()
    out = []
    for start in range(0, len(stream), chunk):
        reader.receive_data(stream[start : start + chunk])
        out.extend(drain(reader))
    assert b"".join(m.serialize() for m in out) == stream
