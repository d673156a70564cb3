"""The bench finds a cost that is put there: a TLS terminator that adds 50 ms to its handshake
shows as 50 ± 10 ms more set-up than the same terminator without the delay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from camsim.bench.profiles import profile_named
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, tls_context
from camsim.bench.servers import LocalRefserver
from camsim.bench.verdict import judge
from camsim.encoder.cli import load_plan
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.session import PublishOptions
from tests.conftest import SampleFactory
from tests.integration.bench.terminator import DelayingTerminator
from wire.asyncio.certificates import self_signed, server_context_for

INJECTED_MS = 50.0
TOLERANCE_MS = 10.0


@pytest.fixture(scope="module")
def refserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRefserver]:
    with LocalRefserver(tmp_path_factory.mktemp("refserver")) as server:
        yield server


@pytest.fixture(scope="module")
def plan(make_test_sample: SampleFactory) -> FlvPlan:
    return load_plan(make_test_sample(), enhanced=False)


def bench_through_terminator(
    refserver: LocalRefserver, plan: FlvPlan, delay: float, repeat: int = 7
) -> ProfileResult:
    """Set-up trials: RTMP straight to refserver, RTMPS through the terminator to its RTMP."""

    async def run() -> ProfileResult:
        context = server_context_for(self_signed())
        # No TLS 1.3 session tickets: an asyncio TLS server that sends them stalls the first
        # exchange after the handshake by a delayed ACK (~40 ms) in about half the connections,
        # a cost of its own that would hide the one injected here.
        context.num_tickets = 0
        terminator = DelayingTerminator(("127.0.0.1", refserver.ports["rtmp"]), context, delay)
        await terminator.start()
        try:
            settings = BenchSettings(
                refserver.rtmp_url,
                f"rtmps://127.0.0.1:{terminator.port}/live/tls{{n}}",
                (profile_named("loopback"),),
                repeat=repeat,
                warmup=1,
                options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
                streaming=False,
            )
            (result,) = await Bench(settings, plan).run()
            return result
        finally:
            await terminator.close()

    return asyncio.run(run())


def test_a_50_ms_handshake_delay_shows_as_50_ms_of_setup(
    refserver: LocalRefserver, plan: FlvPlan
) -> None:
    plain = judge(bench_through_terminator(refserver, plan, delay=0.0))
    delayed_result = bench_through_terminator(refserver, plan, delay=INJECTED_MS / 1000)
    delayed = judge(delayed_result)
    assert plain.setup is not None
    assert delayed.setup is not None
    assert not delayed_result.setup_failures["rtmps"]
    assert len(delayed_result.setup["rtmps"]) == 7
    assert delayed.setup.measurable
    found = delayed.setup.estimate - plain.setup.estimate
    print(f"injected {INJECTED_MS} ms, found {found:.1f} ms")
    assert abs(found - INJECTED_MS) <= TOLERANCE_MS, (found, plain.setup, delayed.setup)
    # ...and the bench puts it where it was added: in the TLS handshake.
    tls_plain, tls_delayed = plain.phases["tls_handshake_ms"], delayed.phases["tls_handshake_ms"]
    assert tls_plain is not None
    assert tls_delayed is not None
    assert abs(tls_delayed.estimate - tls_plain.estimate - INJECTED_MS) <= TOLERANCE_MS
