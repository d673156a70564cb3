"""Facts about an RTMPS endpoint's TLS: its certificate, and which TLS versions it accepts.

Reported, never judged (the cases are of level info): a certificate is fetched without
verification so that it can be described even when it would not verify, and verified apart,
against the system's trust store or ``--ca``, so the report says why it would be refused.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

TIMEOUT = 10.0
VERSIONS = (
    ("TLS 1.0", ssl.TLSVersion.TLSv1),
    ("TLS 1.1", ssl.TLSVersion.TLSv1_1),
    ("TLS 1.2", ssl.TLSVersion.TLSv1_2),
    ("TLS 1.3", ssl.TLSVersion.TLSv1_3),
)


@dataclass
class TlsFacts:
    certificate: dict[str, str] = field(default_factory=dict)
    verified: bool | None = None
    verify_error: str = ""
    negotiated: str = ""
    cipher: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    """Version name to "accepted", "refused: ..." or "not offered by this client: ..."."""
    error: str = ""


async def _handshake(
    host: str, port: int, context: ssl.SSLContext, server_hostname: str | None
) -> ssl.SSLObject:
    async with asyncio.timeout(TIMEOUT):
        _, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=server_hostname
        )
    try:
        tls = writer.get_extra_info("ssl_object")
        assert isinstance(tls, ssl.SSLObject)
        return tls
    finally:
        writer.close()
        try:
            async with asyncio.timeout(2):
                await writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            pass


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _describe(der: bytes) -> dict[str, str]:
    cert = x509.load_der_x509_certificate(der)
    facts = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "self-signed": "yes" if cert.subject == cert.issuer else "no",
        "not before": cert.not_valid_before_utc.isoformat(),
        "not after": cert.not_valid_after_utc.isoformat(),
        "key": f"{type(cert.public_key()).__name__.removeprefix('_')}",
        "signature": cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "?",
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":"),
    }
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    facts["days left"] = str(remaining.days)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        facts["subject alt names"] = ", ".join(
            [*names.get_values_for_type(x509.DNSName)]
            + [str(a) for a in names.get_values_for_type(x509.IPAddress)]
        )
    except x509.ExtensionNotFound:
        facts["subject alt names"] = "(none)"
    return facts


async def tls_facts(host: str, port: int, *, ca: Path | None = None) -> TlsFacts:
    """Describe the endpoint's certificate and try each TLS version once."""
    facts = TlsFacts()
    # SNI for names only (RFC 6066 §3 forbids IP literals), as camsim's encoder sends it.
    sni = None if _is_ip(host) else host
    try:
        tls = await _handshake(host, port, _unverified(), sni)
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        facts.error = f"TLS handshake failed: {exc}"
        return facts
    der = tls.getpeercert(binary_form=True)
    facts.negotiated = tls.version() or ""
    cipher = tls.cipher()
    facts.cipher = cipher[0] if cipher else ""
    if der:
        facts.certificate = _describe(der)
    verifying = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    try:
        await _handshake(host, port, verifying, host)
        facts.verified = True
    except ssl.SSLCertVerificationError as exc:
        facts.verified = False
        facts.verify_error = exc.verify_message or str(exc)
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        facts.verified = False
        facts.verify_error = str(exc)
    for name, version in VERSIONS:
        context = _unverified()
        try:
            context.minimum_version = context.maximum_version = version
            if version < ssl.TLSVersion.TLSv1_2:
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as exc:
            facts.versions[name] = f"not offered by this client: {exc}"
            continue
        try:
            await _handshake(host, port, context, sni)
            facts.versions[name] = "accepted"
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            if reason in ("NO_PROTOCOLS_AVAILABLE", "UNSUPPORTED_PROTOCOL") and _local(exc):
                facts.versions[name] = f"not offered by this client: {reason}"
            else:
                facts.versions[name] = f"refused ({reason})"
        except (OSError, TimeoutError) as exc:
            facts.versions[name] = f"refused ({exc})"
    return facts


def _local(exc: ssl.SSLError) -> bool:
    """The local OpenSSL would not speak the version (its policy), as opposed to a server
    alert."""
    return "alert" not in str(exc).lower()


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
