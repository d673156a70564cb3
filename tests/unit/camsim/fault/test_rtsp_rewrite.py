"""What the RTSP proxy rewrites in the camera's answers: its own address becomes the proxy's,
in every form a camera writes it, and nothing else changes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from camsim.fault.rtsp import DialogRewriter
from wire.rtsp import Response, RtspReader

CAMERA = ("127.0.0.1", 8554)
PROXY = ("127.0.0.1", 40001)


def dialog(upstream: tuple[str, int] = CAMERA) -> DialogRewriter:
    proxy: Any = SimpleNamespace(upstream=upstream, address=PROXY)
    connection: Any = SimpleNamespace()
    return DialogRewriter(proxy, connection)


def answer(headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"RTSP/1.0 200 OK\r\nCSeq: 2\r\n{head}{length}\r\n".encode() + body


def parse(data: bytes) -> Response:
    reader = RtspReader()
    reader.receive_data(data)
    message = reader.next_message()
    assert isinstance(message, Response)
    return message


def test_the_camera_naming_itself_is_rewritten_everywhere() -> None:
    sdp = b"v=0\r\na=control:rtsp://127.0.0.1:8554/cam1/\r\nm=video 0 RTP/AVP 96\r\n"
    data = answer(
        [
            ("Content-Base", "rtsp://127.0.0.1:8554/cam1/"),
            ("RTP-Info", "url=rtsp://127.0.0.1:8554/cam1/trackID=0;seq=1,url=127.0.0.1:8554/a"),
        ],
        sdp,
    )
    out = parse(dialog().rewrite_down(data, 0.0))
    assert out.headers["Content-Base"] == "rtsp://127.0.0.1:40001/cam1/"
    assert out.headers["RTP-Info"] == (
        "url=rtsp://127.0.0.1:40001/cam1/trackID=0;seq=1,url=127.0.0.1:40001/a"
    )
    assert out.body == sdp.replace(b"8554", b"40001")
    assert out.headers["Content-Length"] == str(len(out.body))


def test_a_scheme_less_content_base_is_rewritten() -> None:
    out = parse(dialog().rewrite_down(answer([("Content-Base", "127.0.0.1:8554/cam1/")]), 0.0))
    assert out.headers["Content-Base"] == "127.0.0.1:40001/cam1/"


def test_other_hosts_and_longer_ports_are_left_alone() -> None:
    value = "rtsp://10.127.0.0.1:8554/x rtsp://127.0.0.1:85540/y rtsp://127.0.0.1:8554/z"
    out = parse(dialog().rewrite_down(answer([("Content-Base", value)]), 0.0))
    assert out.headers["Content-Base"] == (
        "rtsp://10.127.0.0.1:8554/x rtsp://127.0.0.1:85540/y rtsp://127.0.0.1:40001/z"
    )


def test_the_default_port_may_be_left_out() -> None:
    out = parse(
        dialog(("127.0.0.1", 554)).rewrite_down(
            answer([("Content-Base", "rtsp://127.0.0.1/cam1/")]), 0.0
        )
    )
    assert out.headers["Content-Base"] == "rtsp://127.0.0.1:40001/cam1/"


def test_a_response_split_byte_by_byte_comes_out_whole() -> None:
    data = answer([("Content-Base", "rtsp://127.0.0.1:8554/cam1/")], b"v=0\r\n")
    rewriting = dialog()
    out = b"".join(rewriting.rewrite_down(data[i : i + 1], 0.0) for i in range(len(data)))
    assert parse(out).headers["Content-Base"] == "rtsp://127.0.0.1:40001/cam1/"
