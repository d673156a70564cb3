"""TLS flows seen from outside: the version chosen, the server name, the handshake's timing.

The handshake is Python's own TLS stack on both sides (memory BIOs), its records laid into TCP
segments of a capture on a port nobody uses for TLS.
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

import pytest

from camsim.pcap.inspect import inspect_capture
from camsim.pcap.synth import write_capture
from tests.integration.encoder.certs import make_server_certificate
from wire.pcapng import TcpConversation

MS = 1_000_000


def _handshake(folder: Path, maximum: ssl.TLSVersion) -> list[tuple[bool, bytes]]:
    """What the client and the server send, in order, until application data flows."""
    certificate = make_server_certificate(folder)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate.cert, certificate.key)
    client_context = ssl.create_default_context(cafile=str(certificate.ca))
    client_context.maximum_version = maximum
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(client_in, client_out, server_hostname="localhost")
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    flights: list[tuple[bool, bytes]] = []
    for _ in range(10):
        for side, bio_out, peer_in, name in (
            (client, client_out, server_in, True),
            (server, server_out, client_in, False),
        ):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            data = bio_out.read()
            if data:
                flights.append((name, data))
                peer_in.write(data)
    client.write(b"publish")
    flights.append((True, client_out.read()))
    return flights


@pytest.mark.parametrize(
    ("maximum", "name"), [(ssl.TLSVersion.TLSv1_3, "TLS 1.3"), (ssl.TLSVersion.TLSv1_2, "TLS 1.2")]
)
def test_version_name_and_timing(tmp_path: Path, maximum: ssl.TLSVersion, name: str) -> None:
    from camsim.pcap.tls import version_name

    conversation = TcpConversation(("10.0.0.2", 50000), ("10.0.0.1", 4443))
    packets = [(0, p) for p in conversation.open()]
    for index, (from_client, data) in enumerate(_handshake(tmp_path, maximum), start=1):
        packets += [(index * 10 * MS, p) for p in conversation.send(from_client, data)]
    result = inspect_capture(write_capture(tmp_path / "tls.pcapng", packets))
    (session,) = result.tls
    assert session.server_name == "localhost"
    assert session.version is not None
    assert version_name(session.version) == name
    assert max(session.offered_versions) == {"TLS 1.3": 0x0304, "TLS 1.2": 0x0303}[name]
    assert session.hello_rtt == pytest.approx(0.010)
    assert session.handshake_time is not None
    assert session.hello_rtt is not None
    assert session.handshake_time > session.hello_rtt
    assert not result.findings
