"""The ways in: Basic and Digest authentication, RTSPS and RTSP over HTTP tunnels."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest

from camsim.camera.fleet import AuthScheme, FleetConfig
from camsim.camera.tls import self_signed_certificate
from tests.integration.camera.client import RtspTestClient, read_raw_responses
from tests.integration.camera.harness import running_fleet
from wire.rtp import RtpPacket
from wire.rtsp import (
    AuthenticationRetried,
    InterleavedFrame,
    Response,
    challenges_from,
)
from wire.rtsp.tunnel import TunnelRequest, encode_tunnel_data, parse_tunnel_response

USERS = (("admin", "s3cret"),)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 30))


@pytest.mark.parametrize(
    ("scheme", "offered"),
    [
        (AuthScheme.DIGEST, ["Digest"]),
        (AuthScheme.BASIC, ["Basic"]),
        (AuthScheme.BOTH, ["Digest", "Basic"]),
    ],
)
def test_credentials_are_required_and_accepted(
    config: FleetConfig, scheme: AuthScheme, offered: list[str]
) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as anonymous:
            options = await anonymous.request("OPTIONS")
            assert options.response.status_code == 200  # OPTIONS is let through
            refused = await anonymous.request("DESCRIBE")
            assert refused.response.status_code == 401
            challenges = challenges_from(refused.response.headers)
            assert [c.scheme for c in challenges] == offered
            assert all(c.params["realm"] == "camsim" for c in challenges)
        async with RtspTestClient(url, username="admin", password="wrong") as wrong:
            assert (await wrong.request("DESCRIBE")).response.status_code == 401
        async with RtspTestClient(url, username="admin", password="s3cret") as client:
            _, _, play = await client.start_tcp()
            assert play.response.status_code == 200
            retried = [e for e in client.events if isinstance(e, AuthenticationRetried)]
            assert [e.scheme for e in retried] == [offered[0]]
            assert len(await client.rtp(0, 3)) == 3

    with running_fleet(config, users=USERS, auth_scheme=scheme) as fleet:
        run(scenario(fleet.urls[0]))


def test_rtsps_with_a_generated_certificate(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        assert url.startswith("rtsps://")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        async with RtspTestClient(url, ssl_context=context) as client:
            await client.start_tcp()
            assert len(await client.rtp(0, 5)) == 5
        # Without disabling verification the self-signed certificate is refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            async with RtspTestClient(url, ssl_context=ssl.create_default_context()):
                pass

    with running_fleet(config, tls=True) as fleet:
        run(scenario(fleet.urls[0]))


def test_rtsps_with_a_given_certificate(config: FleetConfig, tmp_path: Any) -> None:
    pair = self_signed_certificate(["127.0.0.1"], common_name="given")
    (tmp_path / "cert.pem").write_bytes(pair.certificate)
    (tmp_path / "key.pem").write_bytes(pair.private_key)

    async def scenario(url: str) -> None:
        context = ssl.create_default_context(cadata=pair.certificate.decode())
        async with RtspTestClient(url, ssl_context=context) as client:
            answer = await client.request("OPTIONS")
            assert answer.response.status_code == 200

    with running_fleet(
        config, tls=True, certificate=tmp_path / "cert.pem", private_key=tmp_path / "key.pem"
    ) as fleet:
        run(scenario(fleet.urls[0]))


def test_http_tunnel_carries_rtsp_and_rtp(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        parts = urlsplit(url)
        cookie = "Q0KQ2B1fIbtJ4w7A"
        get_reader, get_writer = await asyncio.open_connection(parts.hostname, parts.port)
        get_writer.write(TunnelRequest.get(parts.path, cookie, "camsim-test").serialize())
        head = b""
        while (parsed := parse_tunnel_response(head)) is None:
            head += await asyncio.wait_for(get_reader.read(4096), 5)
        http, rest = parsed
        assert http.status_code == 200
        assert http.headers["Content-Type"] == "application/x-rtsp-tunnelled"
        assert rest == b""

        _, post_writer = await asyncio.open_connection(parts.hostname, parts.port)
        post_writer.write(TunnelRequest.post(parts.path, cookie, "camsim-test").serialize())
        requests = [
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n",
            f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
        ]
        for request in requests:
            # Line breaks inside the base64, as ONVIF tests (and split across writes).
            encoded = encode_tunnel_data(request.encode(), line_length=20)
            post_writer.write(encoded[:7])
            await asyncio.sleep(0.01)
            post_writer.write(encoded[7:])
        describe, setup = await read_raw_responses(get_reader, 2)
        assert isinstance(describe, Response)
        assert isinstance(setup, Response)
        assert describe.status_code == 200
        assert describe.body.startswith(b"v=0")
        assert setup.status_code == 200
        session = setup.headers["Session"].split(";")[0]
        play = f"PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n\r\n"
        post_writer.write(base64.b64encode(play.encode()))
        messages = await read_raw_responses(get_reader, 6)
        answer = messages[0]
        assert isinstance(answer, Response)
        assert answer.status_code == 200
        frames = [m for m in messages[1:] if isinstance(m, InterleavedFrame)]
        assert len(frames) == 5
        assert {f.channel for f in frames} <= {0, 1}
        rtp = [RtpPacket.parse(f.payload) for f in frames if f.channel == 0]
        assert {p.payload_type for p in rtp} == {96}
        # The POST leg may close (QuickTime does per request): the tunnel stays.
        post_writer.close()
        await asyncio.sleep(0.2)
        more = await read_raw_responses(get_reader, 3)
        assert all(isinstance(m, InterleavedFrame) for m in more)
        get_writer.close()

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


@pytest.mark.parametrize(
    ("leg", "status"),
    [
        (b"GET /cam1 HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", 400),
        (b"POST /cam1 HTTP/1.0\r\nx-sessioncookie: nobody\r\n\r\n", 404),
    ],
)
def test_bad_tunnel_legs_are_refused(config: FleetConfig, leg: bytes, status: int) -> None:
    async def scenario(url: str) -> None:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(leg)
        data = b""
        while chunk := await asyncio.wait_for(reader.read(4096), 5):
            data += chunk
        parsed = parse_tunnel_response(data)
        assert parsed is not None
        assert parsed[0].status_code == status

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))
