"""The verdict of the ingest benchmark's rounds: each round's ratio, their median, the latency."""

from __future__ import annotations

import json

from benchmarks.refserver_vs_nginx import CPU_RATIO_TARGET, Result, Rounds, ServerResult


def result(ours_cpu: float, ours_p50: float | None, theirs_p50: float | None) -> Result:
    def server(name: str, cpu: float, p50: float | None) -> ServerResult:
        latency = {"segments": 10, "last_frame_p50": p50, "last_frame_p95": p50}
        latency |= {"last_frame_mean": p50, "first_frame_p50": p50}
        return ServerResult(name, cpu, 60.0, latency)

    return Result(
        20, 60.0, server("refserver", ours_cpu, ours_p50), server("nginx", 3.0, theirs_p50)
    )


def test_the_verdict_is_on_the_median_of_the_rounds() -> None:
    rounds = Rounds((result(5.4, 0.702, 0.700), result(4.2, 0.690, 0.695), result(4.8, None, 0.7)))
    assert rounds.cpu_ratios == [1.8, 1.4, 1.6]
    assert rounds.cpu_ratio == 1.6
    assert rounds.latency_behind == [0.002, -0.005, None]
    summary = rounds.format().splitlines()[-1]
    assert summary == (
        "CPU refserver / nginx: 1.80, 1.40, 1.60 by round, median 1.60 "
        f"(target <= {CPU_RATIO_TARGET:g}: missed); HLS latency p50 behind nginx-rtmp "
        "by round (ms): +2, -5, -"
    )
    report = json.loads(json.dumps(rounds.to_json()))
    assert report["cpu_ratio_median"] == 1.6
    assert [r["cpu_ratio"] for r in report["rounds"]] == [1.8, 1.4, 1.6]


def test_a_median_within_the_target_is_met() -> None:
    rounds = Rounds((result(4.2, 0.7, 0.7), result(4.5, 0.7, 0.7), result(6.0, 0.7, 0.7)))
    assert rounds.cpu_ratio == 1.5
    assert "(target <= 1.5: met)" in rounds.format()
