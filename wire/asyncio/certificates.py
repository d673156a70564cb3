"""Certificates for the TLS listeners (RTSPS, RTMPS) and for tests: made, written, loaded.

One builder for every certificate the project makes: self-signed ones for a server that was
given none, and a throwaway CA with a server certificate signed by it for tests that verify.
ECDSA P-256 with SHA-256, the names as subjectAltName entries (RFC 6125 section 6.4.4: clients
check those, not the CN)::

    from wire.asyncio.certificates import self_signed, server_context_for

    pair = self_signed(["localhost", "127.0.0.1", "::1"], common_name="camsim")
    context = server_context_for(pair)            # a TLS 1.2+ server context, no files left behind
    pair.write(cert_path, key_path)               # or keep them (the key 0600, written atomically)

:func:`load_certificate_pair` loads files a user gave, with errors that name the file at fault
instead of OpenSSL's "[SSL] PEM lib (_ssl.c:3905)".
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_LIFETIME = datetime.timedelta(days=365)
BACKDATE = datetime.timedelta(minutes=5)
"""Certificates start a little in the past, so a peer whose clock is slightly behind accepts."""
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


class CertificateError(ValueError):
    """A certificate or key file cannot be used; the message names the file and says why."""


@dataclass(frozen=True)
class CertificatePair:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    certificate: bytes
    private_key: bytes

    def write(self, certificate: Path, private_key: Path) -> None:
        """Write both files, each atomically; only the owner may read the key."""
        _write(private_key, self.private_key, 0o600)
        _write(certificate, self.certificate, 0o644)


def self_signed(
    hosts: Iterable[str] = LOCAL_NAMES,
    *,
    common_name: str = "localhost",
    lifetime: datetime.timedelta = DEFAULT_LIFETIME,
    ca: bool = False,
) -> CertificatePair:
    """A self-signed server certificate for ``hosts`` (names or IP addresses).

    With ``ca`` it is also marked as a CA (basicConstraints CA:TRUE, pathlen 0), which some
    clients want before they trust a self-signed certificate as its own anchor.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name)
    builder = _builder(subject, subject, key.public_key(), lifetime)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True
    ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    builder = _with_names(builder, hosts)
    return _pair(builder.sign(key, hashes.SHA256()), key)


def certificate_authority(
    common_name: str, *, lifetime: datetime.timedelta = DEFAULT_LIFETIME
) -> CertificatePair:
    """A CA certificate that may sign server certificates (and nothing below those)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        _builder(subject, subject, key.public_key(), lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _pair(certificate, key)


def issue(
    issuer: CertificatePair,
    hosts: Iterable[str] = LOCAL_NAMES,
    *,
    common_name: str = "localhost",
    lifetime: datetime.timedelta = DEFAULT_LIFETIME,
) -> CertificatePair:
    """A server certificate for ``hosts`` signed by ``issuer`` (a :func:`certificate_authority`)."""
    issuer_certificate = x509.load_pem_x509_certificate(issuer.certificate)
    issuer_key = serialization.load_pem_private_key(issuer.private_key, password=None)
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the issuer's key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name), issuer_certificate.subject, key.public_key(), lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    builder = _with_names(builder, hosts)
    return _pair(builder.sign(issuer_key, hashes.SHA256()), key)


def server_context(certificate: Path, private_key: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context from files; raises :class:`CertificateError` for unusable
    ones. Without ``private_key`` the key follows the certificate in the same file."""
    context = _new_server_context()
    load_certificate_pair(context, certificate, private_key)
    return context


def server_context_for(pair: CertificatePair) -> ssl.SSLContext:
    """A TLS 1.2+ server context from a pair in memory."""
    context = _new_server_context()
    # load_cert_chain reads files only; they live just long enough to be read.
    with tempfile.TemporaryDirectory(prefix="wire-tls-") as folder:
        certificate, private_key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        pair.write(certificate, private_key)
        context.load_cert_chain(certificate, private_key)
    return context


def load_certificate_pair(
    context: ssl.SSLContext, certificate: Path, private_key: Path | None = None
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


def still_valid(certificate: Path, *, for_at_least: datetime.timedelta) -> bool:
    """True when ``certificate`` is a readable PEM certificate valid now and for the next
    ``for_at_least``."""
    try:
        parsed = x509.load_pem_x509_certificate(certificate.read_bytes())
    except (OSError, ValueError):
        return False
    now = datetime.datetime.now(datetime.UTC)
    return parsed.not_valid_before_utc <= now and now + for_at_least < parsed.not_valid_after_utc


# -- internals ------------------------------------------------------------------------------------


def _new_server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    lifetime: datetime.timedelta,
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
    )


def _with_names(builder: x509.CertificateBuilder, hosts: Iterable[str]) -> x509.CertificateBuilder:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    if not names:
        return builder
    return builder.add_extension(x509.SubjectAlternativeName(names), critical=False)


def _pair(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertificatePair:
    return CertificatePair(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


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


def _write(path: Path, data: bytes, mode: int) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temp, path)
