"""RTMPS against our own TLS ingest: verification, SNI, and the TLS handshake timing."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.cli import main
from camsim.encoder.cli import tls_context
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import StreamState
from tests.integration.encoder.certs import ServerCertificate, make_server_certificate
from tests.integration.encoder.conftest import push
from tests.integration.encoder.rtmp_server import running_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return make_server_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_server_certificate(tmp_path_factory.mktemp("other"), name="untrusted").ca


def server_context(certificate: ServerCertificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context


def test_verified_rtmps_sends_sni(certificate: ServerCertificate, plan: FlvPlan):
    with running_server(ssl_context=server_context(certificate)) as server:
        url = server.url("live/tls", scheme="rtmps", host="localhost")
        (stats,) = push([url], plan, 0.8, ssl_context=tls_context(certificate.ca, False))
    assert stats.state is StreamState.DONE, stats.error
    assert server.server_names == ["localhost"]
    assert stats.tls_handshake_ms is not None
    assert stats.tls_handshake_ms > 0
    session = server.sessions[0]
    assert session.connect is not None
    assert session.connect["tcUrl"] == f"rtmps://localhost:{server.port}/live"
    assert len(session.video) > 5


def test_ip_literal_is_verified_against_the_certificate_without_sni(
    certificate: ServerCertificate, plan: FlvPlan
):
    with running_server(ssl_context=server_context(certificate)) as server:
        url = server.url("live/tls", scheme="rtmps")
        (stats,) = push([url], plan, 0.5, ssl_context=tls_context(certificate.ca, False))
    assert stats.state is StreamState.DONE, stats.error
    assert server.server_names == [None]  # RFC 6066: no IP addresses in SNI


def test_untrusted_certificate_fails_clearly_and_is_not_retried(
    certificate: ServerCertificate, other_ca: Path, sample_path: Path
):
    with running_server(ssl_context=server_context(certificate)) as server:
        url = server.url("live/tls", scheme="rtmps", host="localhost")
        result = CliRunner().invoke(
            main,
            ["push", url, "--media", str(sample_path), "--ca", str(other_ca), "--reconnect"],
        )
    assert result.exit_code == 1
    assert result.stderr == (
        f"stream 1 ({url}): TLS certificate of localhost:{server.port} rejected: "
        "unable to get local issuer certificate\n"
    )
    assert server.sessions == []  # the TLS handshake failed before any RTMP


def test_insecure_skips_verification(
    certificate: ServerCertificate, other_ca: Path, sample_path: Path
):
    with running_server(ssl_context=server_context(certificate)) as server:
        url = server.url("live/tls", scheme="rtmps", host="localhost")
        result = CliRunner().invoke(
            main,
            ["push", url, "--media", str(sample_path), "--insecure", "--duration", "0.5", "--json"],
        )
    assert result.exit_code == 0, result.output
    (stream,) = json.loads(result.stdout)["streams"]
    assert stream["state"] == "done"
    assert stream["tls_handshake_ms"] > 0


def test_plain_rtmp_needs_no_tls_context(plan: FlvPlan):
    assert PublishOptions().ssl_context is None
    with running_server() as server:
        (stats,) = push([server.url("live/plain")], plan, 0.3)
    assert stats.state is StreamState.DONE
    assert stats.tls_handshake_ms is None
