"""``--streams 1,5,10``: the windows' plan, the option, the CPU chart's data and the verdict at
every count."""

from __future__ import annotations

import statistics
from collections import Counter

import click
import pytest

from camsim.bench.cli import StreamCounts
from camsim.bench.profiles import profile_named
from camsim.bench.report import cpu_by_stream_count
from camsim.bench.runner import BenchSettings, ProfileResult, Protocol, Window, streaming_plan
from camsim.bench.verdict import Outcome, judge


def window(protocol: Protocol, streams: int, per_stream: float, server: float | None) -> Window:
    """A window whose CPU per stream is ``per_stream`` % of a core (``server`` for the server)."""
    seconds = 10.0
    return Window(
        protocol=protocol.value,
        streams=streams,
        seconds=seconds,
        encoder_cpu_seconds=per_stream * streams * seconds / 100,
        server_cpu_seconds=None if server is None else server * streams * seconds / 100,
        payload_bytes=1000,
        wire_bytes=1000,
        frames_sent=100,
        frames_received=100,
    )


def test_every_round_runs_every_count_with_both_protocols_alternating() -> None:
    counts, warmup, repeat = (1, 5, 10), 1, 3
    plan = streaming_plan(counts, warmup, repeat)

    assert len(plan) == (warmup + repeat) * len(counts) * 2
    kept = Counter((w.streams, w.protocol) for w in plan if w.kept)
    assert kept == {(c, p): repeat for c in counts for p in Protocol}
    assert all(not w.kept for w in plan if w.round < warmup)
    for index in range(warmup + repeat):
        in_round = [w for w in plan if w.round == index]
        # Every count once per protocol, the protocols side by side at each count.
        assert [w.streams for w in in_round[::2]] == list(counts)
        for first, second in zip(in_round[::2], in_round[1::2], strict=True):
            assert first.streams == second.streams
            assert {first.protocol, second.protocol} == set(Protocol)
            assert first.protocol is (Protocol.RTMP if index % 2 == 0 else Protocol.RTMPS)
    # Rounds run one after the other: no count's windows all come before another's.
    assert [w.round for w in plan] == sorted(w.round for w in plan)


def test_one_count_plans_what_the_bench_always_ran() -> None:
    plan = streaming_plan((4,), 1, 2)
    assert [(w.round, w.streams, w.protocol.value, w.kept) for w in plan] == [
        (0, 4, "rtmp", False),
        (0, 4, "rtmps", False),
        (1, 4, "rtmps", True),
        (1, 4, "rtmp", True),
        (2, 4, "rtmp", True),
        (2, 4, "rtmps", True),
    ]


def test_settings_counts_are_sorted_and_unique() -> None:
    profiles = (profile_named("loopback"),)
    assert BenchSettings("a", "b", profiles, streams=3).counts == (3,)
    assert BenchSettings("a", "b", profiles, streams=(10, 1, 5, 1)).counts == (1, 5, 10)


def test_the_option_takes_a_list_and_refuses_what_is_not_a_count() -> None:
    option = StreamCounts()
    assert option.convert("10, 1,5,5", None, None) == (1, 5, 10)
    assert option.convert("7", None, None) == (7,)
    for bad in ("0", "1,201", "1,x", ""):
        with pytest.raises(click.BadParameter):
            option.convert(bad, None, None)


def test_the_cpu_chart_has_the_median_per_stream_at_each_count() -> None:
    result = ProfileResult(profile_named("loopback"))
    figures = {  # (count, protocol) -> encoder CPU per stream of each window
        (1, Protocol.RTMP): [4.0, 5.0, 9.0],
        (1, Protocol.RTMPS): [5.0, 6.0, 7.0],
        (5, Protocol.RTMP): [2.0, 2.5, 3.0],
        (5, Protocol.RTMPS): [2.2, 2.9, 3.1],
    }
    for (count, protocol), values in figures.items():
        for value in values:
            result.windows.append(window(protocol, count, value, server=value / 2))

    series = {s.name: s for s in cpu_by_stream_count(result)}

    assert set(series) == {"encoder rtmp", "encoder rtmps", "server rtmp", "server rtmps"}
    for protocol in Protocol:
        encoder, server = series[f"encoder {protocol.value}"], series[f"server {protocol.value}"]
        assert encoder.x == server.x == (1.0, 5.0)
        for count, got, got_server in zip((1, 5), encoder.y, server.y, strict=True):
            expected = statistics.median(figures[count, protocol])
            assert got == pytest.approx(expected)
            assert got_server == pytest.approx(expected / 2)


def test_the_cpu_chart_leaves_the_server_out_when_it_was_not_measured() -> None:
    result = ProfileResult(profile_named("loopback"))
    for protocol in Protocol:
        result.windows.append(window(protocol, 2, 3.0, server=None))
    assert [s.name for s in cpu_by_stream_count(result)] == ["encoder rtmp", "encoder rtmps"]


def test_a_cpu_cost_at_one_count_fails_the_claim_where_pooling_the_counts_cannot_tell() -> None:
    # At 1 and 5 streams RTMPS costs under 1% more per stream; at 10 streams 60% more. Pooled,
    # the counts' different baselines smear the interval across the bound: it cannot tell.
    result = ProfileResult(profile_named("loopback"))
    per_stream = {1: (12.0, 12.1), 5: (10.0, 10.05), 10: (5.0, 8.0)}
    for count, (rtmp, rtmps) in per_stream.items():
        for jitter in (-0.01, 0.0, 0.0, 0.01):
            result.windows.append(window(Protocol.RTMP, count, rtmp + jitter, None))
            result.windows.append(window(Protocol.RTMPS, count, rtmps + jitter, None))

    verdict = judge(result)

    assert verdict.encoder_cpu is not None
    pooled = verdict.encoder_cpu.relative  # what pooling the counts alone would conclude
    assert pooled.low < 3.0 < pooled.high
    assert verdict.cpu_claim is Outcome.NOT_HELD
    assert set(verdict.cpu_by_streams) == {1, 5, 10}
    assert verdict.cpu_by_streams[1].outcome is Outcome.HELD
    assert verdict.cpu_by_streams[5].outcome is Outcome.HELD
    assert verdict.cpu_by_streams[10].outcome is Outcome.NOT_HELD
    ten = verdict.cpu_by_streams[10].encoder
    assert ten is not None
    assert ten.relative.estimate == pytest.approx(60.0)
    lines = verdict.lines()
    assert any(line.strip().startswith("10 stream(s): did not hold") for line in lines)
    by_streams = verdict.to_json()["cpu_by_streams"]
    assert isinstance(by_streams, dict)
    assert set(by_streams) == {"1", "5", "10"}


def test_one_count_judges_as_before() -> None:
    result = ProfileResult(profile_named("loopback"))
    for jitter in (-0.01, 0.0, 0.01):
        result.windows.append(window(Protocol.RTMP, 3, 10.0 + jitter, None))
        result.windows.append(window(Protocol.RTMPS, 3, 10.1 + jitter, None))
    verdict = judge(result)
    assert verdict.cpu_by_streams == {}
    assert verdict.cpu_claim is Outcome.HELD
