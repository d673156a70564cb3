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
from cryptography.exceptions import UnsupportedAlgorithm
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


class CertificateError(ValueError):
    """A certificate or key file cannot be used; the message names the file and says why."""


def server_context(
    certificate: Path | None = None, private_key: Path | None = None, *, hosts: Iterable[str] = ()
) -> ssl.SSLContext:
    """A TLS server context from the given files, or from a fresh self-signed certificate.

    Raises :class:`CertificateError` when the files cannot be read or do not make a pair.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if certificate is not None:
        load_certificate_pair(context, certificate, private_key)
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


def load_certificate_pair(
    context: ssl.SSLContext, certificate: Path, private_key: Path | None
) -> None:
    """``context.load_cert_chain`` with errors that name the file at fault.

    OpenSSL's own errors name no file ("[SSL] PEM lib (_ssl.c:3905)"), so each file is read and
    parsed first; what OpenSSL still refuses afterwards is the pair itself. Without
    ``private_key`` the key follows the certificate in the same file.
    """
    cert_data = _read(certificate, "certificate")
    try:
        x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        raise CertificateError(f"the certificate {certificate} is not a PEM certificate") from None
    key_path = private_key if private_key is not None else certificate
    key_data = _read(private_key, "private key") if private_key is not None else cert_data
    try:
        serialization.load_pem_private_key(key_data, password=None)
    except TypeError:  # encrypted: OpenSSL would ask on the terminal, which a server cannot do
        raise CertificateError(f"the private key {key_path} is encrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(f"{key_path} holds no PEM private key") from None
    try:
        context.load_cert_chain(certificate, private_key)
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise CertificateError(
                f"the private key {key_path} does not belong to the certificate {certificate}"
            ) from None
        raise CertificateError(
            f"OpenSSL cannot use {certificate} with {key_path} ({error.reason or error})"
        ) from None


def _read(path: Path, kind: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CertificateError(f"cannot read the {kind} {path}: {_os_words(error)}") from None


def _os_words(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "it is a folder"
    return (error.strerror or str(error)).lower()
