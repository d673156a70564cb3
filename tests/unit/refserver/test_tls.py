"""The self-signed RTMPS certificate: generated once, kept, usable."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509

from refserver.tls import self_signed_certificate, server_context


def test_generated_once_and_kept(tmp_path: Path):
    cert, key = self_signed_certificate(tmp_path / "state")
    first = cert.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert self_signed_certificate(tmp_path / "state") == (cert, key)
    assert cert.read_bytes() == first
    names = x509.load_pem_x509_certificate(first).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    server_context(cert, key)


def test_unreadable_certificate_is_replaced(tmp_path: Path):
    cert, _ = self_signed_certificate(tmp_path)
    cert.write_text("not a certificate")
    again, _ = self_signed_certificate(tmp_path)
    assert again == cert
    assert again.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
