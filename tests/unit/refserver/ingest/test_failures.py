"""The per-address record of refused stream keys: delays, penalties, bans, bounded memory."""

from __future__ import annotations

from refserver.ingest.failures import MAX_DOUBLINGS, KeyFailures


def test_each_refusal_waits_twice_as_long_up_to_a_cap() -> None:
    failures = KeyFailures(delay=0.5, limit=0, window=600)
    delays = [failures.record("a", float(n) * 20) for n in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert max(delays) == 0.5 * 2**MAX_DOUBLINGS


def test_a_publish_before_the_last_answer_is_due_is_refused() -> None:
    failures = KeyFailures(delay=1.0, limit=0, window=600)
    assert failures.refusal("a", 0.0) is None
    failures.record("a", 0.0)
    assert failures.refusal("a", 0.5) == "1 refused stream keys, the last answer not yet due"
    assert failures.refusal("b", 0.5) is None
    assert failures.refusal("a", 1.0) is None


def test_the_limit_bans_for_a_window() -> None:
    failures = KeyFailures(delay=0.0, limit=3, window=60)
    for now in (0.0, 1.0):
        failures.record("a", now)
        assert not failures.banned("a", now)
    failures.record("a", 2.0)
    assert failures.banned("a", 2.0)
    assert failures.refusal("a", 30.0) == "address banned after 3 refused stream keys"
    assert failures.banned("a", 61.9)
    assert not failures.banned("a", 62.0)
    assert len(failures) == 0  # forgotten once the ban is over


def test_failures_older_than_the_window_are_forgotten() -> None:
    failures = KeyFailures(delay=1.0, limit=3, window=60)
    failures.record("a", 0.0)
    failures.record("a", 10.0)
    assert failures.record("a", 70.0) == 1.0  # a fresh window: the first delay again
    assert not failures.banned("a", 70.0)


def test_the_table_is_bounded() -> None:
    failures = KeyFailures(delay=1.0, limit=5, window=600, max_addresses=100)
    for index in range(1000):
        failures.record(f"10.0.{index // 256}.{index % 256}", 0.0)
    assert len(failures) == 100
    # The oldest went first; the newest are all there.
    assert failures.refusal("10.0.0.0", 0.1) is None
    assert failures.refusal("10.0.3.231", 0.1) is not None
