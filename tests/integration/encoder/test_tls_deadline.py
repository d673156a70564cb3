"""A server that accepts TCP and never answers the ClientHello: the push fails as a TLS
handshake that timed out, by its own deadline, whatever asyncio's handshake timer says."""

from __future__ import annotations

import socket
import time

from camsim.encoder.cli import tls_context
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.stats import StreamState
from tests.integration.encoder.conftest import push


def test_a_silent_tls_server_times_out_in_the_tls_handshake(plan: FlvPlan) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, reads nothing
        port = listener.getsockname()[1]
        started = time.monotonic()
        (stats,) = push(
            [f"rtmps://127.0.0.1:{port}/live/x"],
            plan,
            5,
            timeout=0.5,
            ssl_context=tls_context(None, False),
        )
        elapsed = time.monotonic() - started
    assert stats.state is StreamState.FAILED
    assert stats.error == f"TLS handshake with 127.0.0.1:{port} timed out after 0.5 s"
    assert stats.tcp_connect_ms is not None
    assert stats.tls_handshake_ms is None
    assert 0.5 <= elapsed < 5
