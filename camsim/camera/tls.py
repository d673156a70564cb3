"""RTSPS: TLS on the control connection (media interleaved inside it), with a self-signed
certificate made with ``cryptography`` when the user brings none."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERTIFICATE_LIFETIME = datetime.timedelta(days=365)


@dataclass(frozen=True)
class CertificatePair:
    """A PEM certificate and its PEM private key."""

    certificate: bytes
    private_key: bytes


def self_signed_certificate(hosts: Iterable[str], common_name: str = "camsim") -> CertificatePair:
    """An ECDSA P-256 certificate valid for ``hosts`` (names or IP addresses) for a year."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    return CertificatePair(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def server_context(
    certificate: Path | None = None, private_key: Path | None = None, *, hosts: Iterable[str] = ()
) -> ssl.SSLContext:
    """A TLS server context from the given files, or from a fresh self-signed certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if certificate is not None:
        context.load_cert_chain(certificate, private_key)
        return context
    pair = self_signed_certificate(["localhost", "127.0.0.1", "::1", *hosts])
    # load_cert_chain reads files only; they live just long enough to be read.
    with tempfile.TemporaryDirectory(prefix="camsim-tls-") as folder:
        cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_path.write_bytes(pair.certificate)
        key_path.touch(mode=0o600)
        key_path.write_bytes(pair.private_key)
        context.load_cert_chain(cert_path, key_path)
    return context
