"""The one certificate builder: self-signed and CA-signed server certificates, proven by TLS
handshakes in memory (no sockets), and the loader's errors that name the file at fault."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from wire.asyncio.certificates import (
    CertificateError,
    CertificatePair,
    certificate_authority,
    issue,
    self_signed,
    server_context,
    server_context_for,
    still_valid,
)


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str) -> None:
    """A whole TLS handshake through memory BIOs; raises what the client's verification
    raises."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(to_server, to_client, server_side=True)
    client_bios = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = client.wrap_bio(*client_bios, server_hostname=server_hostname)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        to_server.write(client_bios[1].read())
        client_bios[0].write(to_client.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not complete")


def names(pair: CertificatePair) -> x509.SubjectAlternativeName:
    certificate = x509.load_pem_x509_certificate(pair.certificate)
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_a_self_signed_certificate_names_its_hosts_and_verifies_as_its_own_anchor() -> None:
    pair = self_signed(["localhost", "127.0.0.1", "::1", "localhost"], common_name="camsim")
    assert names(pair).get_values_for_type(x509.DNSName) == ["localhost"]
    assert names(pair).get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    certificate = x509.load_pem_x509_certificate(pair.certificate)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False
    client = ssl.create_default_context(cadata=pair.certificate.decode())
    handshake(server_context_for(pair), client, "localhost")
    handshake(server_context_for(pair), client, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(server_context_for(pair), client, "example.com")


def test_a_self_signed_ca_is_limited_to_itself() -> None:
    certificate = x509.load_pem_x509_certificate(self_signed(ca=True).certificate)
    basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (basic.ca, basic.path_length) == (True, 0)


def test_a_certificate_issued_by_a_test_ca_verifies_against_that_ca_only() -> None:
    ca = certificate_authority("camsim test CA", lifetime=datetime.timedelta(days=1))
    server = issue(ca, ["localhost", "127.0.0.1"])
    trusting = ssl.create_default_context(cadata=ca.certificate.decode())
    handshake(server_context_for(server), trusting, "127.0.0.1")
    other = certificate_authority("untrusted CA")
    stranger = ssl.create_default_context(cadata=other.certificate.decode())
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        handshake(server_context_for(server), stranger, "127.0.0.1")
    leaf = x509.load_pem_x509_certificate(server.certificate)
    issuer = x509.load_pem_x509_certificate(ca.certificate)
    assert leaf.issuer == issuer.subject
    authority = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    subject_key = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert authority.key_identifier == subject_key.digest


def test_written_pairs_keep_the_key_private_and_load(tmp_path: Path) -> None:
    pair = self_signed()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    pair.write(cert, key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (cert.read_bytes(), key.read_bytes()) == (pair.certificate, pair.private_key)
    assert server_context(cert, key).minimum_version is ssl.TLSVersion.TLSv1_2
    both = tmp_path / "both.pem"
    both.write_bytes(pair.certificate + pair.private_key)
    server_context(both)  # the key may follow the certificate in one file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both.pem", "cert.pem", "key.pem"]


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    pair, other = self_signed(), self_signed()
    cert, key, other_key = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "other.pem"
    pair.write(cert, key)
    other_key.write_bytes(other.private_key)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (tmp_path / "no.pem", key, f"cannot read the certificate {tmp_path / 'no.pem'}: no such"),
        (cert, tmp_path, f"cannot read the private key {tmp_path}: it is a folder"),
        (garbage, key, f"the certificate {garbage} is not a PEM certificate"),
        (cert, garbage, f"{garbage} holds no PEM private key"),
        (cert, other_key, f"the private key {other_key} does not belong to the certificate {cert}"),
    ]
    for certificate, private_key, message in cases:
        with pytest.raises(CertificateError) as refused:
            server_context(certificate, private_key)
        assert str(refused.value).startswith(message)


def test_still_valid_looks_ahead(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    self_signed(lifetime=datetime.timedelta(days=2)).write(cert, tmp_path / "key.pem")
    assert still_valid(cert, for_at_least=datetime.timedelta(days=1))
    assert not still_valid(cert, for_at_least=datetime.timedelta(days=3))
    assert not still_valid(tmp_path / "missing.pem", for_at_least=datetime.timedelta(0))
