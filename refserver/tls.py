"""RTMPS certificates: the configured pair, or a self-signed one generated once and kept.

The generated certificate names ``localhost``, ``127.0.0.1`` and ``::1``, so ``rtmps://127.0.0.1``
works with verification turned off (``ffmpeg -tls_verify 0``) or with the certificate itself
trusted as its own CA. It is reused while it stays valid for at least another day.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

logger = logging.getLogger(__name__)

CERT_NAME = "refserver-cert.pem"
KEY_NAME = "refserver-key.pem"
VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=1)
COMMON_NAME = "refserver self-signed"


def self_signed_certificate(state_dir: Path) -> tuple[Path, Path]:
    """The kept certificate and key in ``state_dir``, generated when absent or expiring."""
    cert_path, key_path = state_dir / CERT_NAME, state_dir / KEY_NAME
    if _still_valid(cert_path) and key_path.exists():
        return cert_path, key_path
    state_dir.mkdir(parents=True, exist_ok=True)
    cert, key = _generate()
    _write(key_path, key, 0o600)
    _write(cert_path, cert, 0o644)
    logger.info("generated a self-signed certificate", extra={"cert": str(cert_path)})
    return cert_path, key_path


class CertificateError(ValueError):
    """The certificate or key cannot be used; the message names the file and says why."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context; raises :class:`CertificateError` for unusable files.

    OpenSSL's own errors name no file ("[SSL] PEM lib (_ssl.c:3905)"), so each file is read and
    parsed first; what OpenSSL still refuses afterwards is the pair itself.
    """
    cert_data, key_data = _read(cert, "certificate"), _read(key, "key")
    try:
        x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        raise CertificateError(f"the certificate {cert} is not a PEM certificate") from None
    try:
        serialization.load_pem_private_key(key_data, password=None)
    except TypeError:  # encrypted: there is nobody to type the passphrase
        raise CertificateError(f"the key {key} is encrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(f"the key {key} is not a PEM private key") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise CertificateError(
                f"the key {key} does not belong to the certificate {cert}"
            ) from None
        raise CertificateError(
            f"OpenSSL cannot use {cert} with {key} ({error.reason or error})"
        ) from None
    return context


def _read(path: Path, kind: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        words = {
            FileNotFoundError: "no such file",
            PermissionError: "permission denied",
            IsADirectoryError: "it is a folder",
        }.get(type(error), (error.strerror or str(error)).lower())
        raise CertificateError(f"cannot read the {kind} {path}: {words}") from None


def _still_valid(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    now = datetime.datetime.now(datetime.UTC)
    return cert.not_valid_before_utc <= now and now + RENEW_BEFORE < cert.not_valid_after_utc


def _generate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write(path: Path, data: bytes, mode: int) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temp, path)
