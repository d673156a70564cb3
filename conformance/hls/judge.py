"""Small helpers the HLS cases share to turn observations into verdicts."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.case import fail, not_applicable
from conformance.hls.observation import HlsObservation
from reports.model import Detail


def check_rules(hls: HlsObservation, *rules: str, summary: str = "") -> None:
    """Fail with every finding of the validator's ``rules``; the message counts them."""
    details = hls.findings(*rules)
    if details:
        fail(
            f"{summary or 'broken'}: {len(details)} finding{'s' * (len(details) > 1)}, first "
            f"at {details[0].where or 'the start'}: {details[0].message}",
            details,
        )


def fail_with(details: Sequence[Detail], summary: str) -> None:
    """Fail when there are ``details``: ``summary`` and the first of them."""
    if details:
        first = details[0]
        where = f" ({first.where})" if first.where else ""
        more = f"; {len(details) - 1} more" if len(details) > 1 else ""
        fail(f"{summary}: {first.message}{where}{more}", details)


def need_playlists(hls: HlsObservation, count: int = 1) -> None:
    """Cases over parsed playlists need some; a target without any is judged elsewhere."""
    if len(hls.playlists) < count:
        not_applicable(f"fewer than {count} reload(s) could be parsed (see HLS-PL-003)")
