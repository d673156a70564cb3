"""inspect against ``tshark -z rtp,streams`` on the million-packet capture (``-m bench``).

The target is stated for a million packets of the default sample: on shorter captures the
interpreter's start (about 0.35 s of CPU) weighs more than tshark's.
"""

from __future__ import annotations

import pytest

from benchmarks.pcap_inspect_vs_tshark import print_report, run

pytestmark = [pytest.mark.bench, pytest.mark.interop("tshark")]


def test_inspect_is_no_slower_than_tshark(capsys: pytest.CaptureFixture[str]) -> None:
    report = run(packets=1_000_000, runs=3)
    with capsys.disabled():
        print_report(report)
    camsim = report["camsim"]
    ratio = report["ratio_cpu"]
    assert isinstance(camsim, dict)
    assert isinstance(ratio, dict)
    assert camsim["cpu_packets_per_second"]["median"] >= 100_000
    assert ratio["median"] >= 1.0
