"""RTMPS: the certificate and the TLS versions, as facts (level info)."""

from __future__ import annotations

from conformance.case import INFO, CaseRecord, case, not_applicable
from conformance.rtmp.observation import IngestObservation
from conformance.rtmp.tls import TlsFacts
from reports.model import SpecRef

RFC5280 = SpecRef("RFC 5280", "4.1", "https://www.rfc-editor.org/rfc/rfc5280#section-4.1")
RFC8996 = SpecRef("RFC 8996", "2-3", "https://www.rfc-editor.org/rfc/rfc8996")


def _facts(ingest: IngestObservation) -> TlsFacts:
    if ingest.tls is None:
        not_applicable("the target is rtmp://, not rtmps://")
    if ingest.tls.error:
        not_applicable(ingest.tls.error)
    return ingest.tls


@case("RTMP-TLS-001", "The RTMPS certificate", level=INFO, spec=[RFC5280])
def test_certificate(ingest: IngestObservation, case_record: CaseRecord) -> None:
    facts = _facts(ingest)
    for name, value in facts.certificate.items():
        case_record.measure(name, value)
    verdict = "verifies" if facts.verified else f"does not verify: {facts.verify_error}"
    case_record.measure("verification", verdict)
    subject = facts.certificate.get("subject", "?")
    case_record.summary = f"{subject}; {verdict}"


@case("RTMP-TLS-002", "The TLS versions the RTMPS endpoint accepts", level=INFO, spec=[RFC8996])
def test_versions(ingest: IngestObservation, case_record: CaseRecord) -> None:
    facts = _facts(ingest)
    for name, outcome in facts.versions.items():
        case_record.measure(name, outcome)
    case_record.measure("negotiated", facts.negotiated)
    case_record.measure("cipher", facts.cipher)
    accepted = [name for name, outcome in facts.versions.items() if outcome == "accepted"]
    case_record.summary = f"accepts {', '.join(accepted) or 'none'}; negotiated {facts.negotiated}"
