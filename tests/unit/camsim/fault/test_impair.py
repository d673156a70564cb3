"""The impairment models: seeded, deterministic, each doing what it says, on a fake clock."""

from __future__ import annotations

import itertools

import pytest

from camsim.fault.impair import (
    GilbertElliott,
    Link,
    LinkProfile,
    parse_duration,
    parse_probability,
    parse_rate,
)

PACKETS = [bytes([i % 256]) * 200 for i in range(5000)]


def run(link: Link, packets: list[bytes] = PACKETS, spacing: float = 0.001):
    """Feed ``packets`` every ``spacing`` seconds of fake time; (index, at, data) out."""
    out = []
    for index, data in enumerate(packets):
        for at, copy in link.process(data, index * spacing):
            out.append((index, at, copy))
    return out


def delivered(link: Link) -> list[int]:
    return [index for index, _, _ in run(link)]


def test_same_seed_same_drops_in_the_same_packets() -> None:
    profile = LinkProfile(loss=0.05, duplicate=0.01, corrupt=0.01, jitter=0.01)
    first = run(Link("7/udp/0/down", profile))
    again = run(Link("7/udp/0/down", profile))
    assert first == again
    other = run(Link("8/udp/0/down", profile))
    assert [i for i, _, _ in first] != [i for i, _, _ in other]


def test_a_change_of_profile_does_not_disturb_later_choices_of_another_kind() -> None:
    # Every packet draws the same numbers whatever the profile: turning duplication on does
    # not move which packets are lost.
    lossy = Link("1", LinkProfile(loss=0.1))
    lossy_dup = Link("1", LinkProfile(loss=0.1, duplicate=0.5))
    assert sorted(set(delivered(lossy))) == sorted(set(delivered(lossy_dup)))


def test_uniform_loss_rate() -> None:
    link = Link("1", LinkProfile(loss=0.05))
    kept = len(delivered(link))
    assert 0.04 < 1 - kept / len(PACKETS) < 0.06
    assert link.stats.lost == len(PACKETS) - kept


def test_no_profile_passes_everything_at_once() -> None:
    out = run(Link("1"))
    assert [(i, at) for i, at, _ in out] == [(i, i * 0.001) for i in range(len(PACKETS))]


def test_gilbert_elliott_mean_loss_and_bursts() -> None:
    model = GilbertElliott(p=0.01, r=0.25)  # h=0, k=1: every bad-state packet is lost
    assert model.mean_loss == pytest.approx(0.01 / 0.26)
    packets = [b"x"] * 100_000
    kept = {i for i, _, _ in run(Link("3", LinkProfile(burst=model)), packets)}
    lost = [i for i in range(len(packets)) if i not in kept]
    assert abs(len(lost) / len(packets) - model.mean_loss) < 0.01
    runs, length = [], 1
    for before, after in itertools.pairwise(lost):
        if after == before + 1:
            length += 1
        else:
            runs.append(length)
            length = 1
    mean_burst = sum(runs) / len(runs)
    assert 3.0 < mean_burst < 5.0  # 1/r = 4; uniform loss at this rate would give ~1.04


def test_gilbert_elliott_parse() -> None:
    assert GilbertElliott.parse("1%,25%") == GilbertElliott(0.01, 0.25)
    assert GilbertElliott.parse("0.1,0.2,0.3,0.9") == GilbertElliott(0.1, 0.2, 0.3, 0.9)
    with pytest.raises(ValueError, match="expected p,r"):
        GilbertElliott.parse("0.1")
    with pytest.raises(ValueError, match="cannot both be 0"):
        GilbertElliott(0, 0)


def test_delay_and_jitter_stay_in_their_window() -> None:
    out = run(Link("4", LinkProfile(delay=0.05, jitter=0.01)))
    lateness = [at - index * 0.001 for index, at, _ in out]
    assert min(lateness) >= 0.04 - 1e-9
    assert max(lateness) <= 0.06 + 1e-9
    assert max(lateness) - min(lateness) > 0.015  # it does spread
    # Jitter of 10 ms on packets 1 ms apart reorders datagrams...
    times = [at for _, at, _ in out]
    assert times != sorted(times)


def test_jitter_never_reorders_a_byte_stream() -> None:
    link = Link("4", LinkProfile(delay=0.05, jitter=0.01), in_order=True)
    times = [at for _, at, _ in run(link)]
    assert times == sorted(times)
    assert min(t - i * 0.001 for i, t in enumerate(times)) >= 0.04 - 1e-9


def test_reorder_holds_chosen_packets_back() -> None:
    link = Link("5", LinkProfile(reorder=0.1, reorder_hold=0.005))
    out = run(link)
    held = [i for i, at, _ in out if at > i * 0.001]
    assert link.stats.reordered == len(held)
    assert 0.07 < len(held) / len(PACKETS) < 0.13
    order = [i for i, _, _ in sorted(out, key=lambda item: (item[1], item[0]))]
    assert order != sorted(order)
    assert sorted(order) == list(range(len(PACKETS)))  # nothing lost, nothing added


def test_duplication() -> None:
    link = Link("6", LinkProfile(duplicate=0.1))
    out = run(link)
    assert len(out) == len(PACKETS) + link.stats.duplicated
    assert 0.08 < link.stats.duplicated / len(PACKETS) < 0.12
    indices = [i for i, _, _ in out]
    assert len(set(indices)) == len(PACKETS)


def test_corruption_flips_exactly_one_bit() -> None:
    link = Link("7", LinkProfile(corrupt=0.2))
    changed = 0
    for index, _, data in run(link):
        original = PACKETS[index]
        flipped = sum(bin(a ^ b).count("1") for a, b in zip(original, data, strict=True))
        assert flipped in (0, 1)
        changed += flipped
    assert changed == link.stats.corrupted
    assert 0.17 < changed / len(PACKETS) < 0.23


def test_token_bucket_holds_the_rate_and_drops_past_its_queue() -> None:
    # 2000 packets of 200 bytes in 2 s is 1.6 Mbit/s offered into 800 kbit/s.
    profile = LinkProfile(rate=800_000, burst_bytes=2000, queue_limit=20_000)
    link = Link("8", profile)
    out = run(link, PACKETS[:2000])
    sent = sum(len(data) for _, _, data in out)
    span = out[-1][1] - out[0][1]
    assert sent * 8 / span == pytest.approx(800_000, rel=0.05)
    assert link.stats.queue_dropped > 0
    # The queue is bounded: no packet waits more than queue_limit at the rate (plus one).
    assert max(at - i * 0.001 for i, at, _ in out) <= (20_000 + 200) * 8 / 800_000 + 1e-9


def test_token_bucket_on_a_stream_queues_instead_of_dropping() -> None:
    link = Link("9", LinkProfile(rate=800_000, burst_bytes=2000, queue_limit=2000), in_order=True)
    out = run(link, PACKETS[:500])
    assert len(out) == 500
    assert out[-1][1] == pytest.approx((500 * 200 - 2000) * 8 / 800_000, rel=0.01)


def test_blocked_drops_everything() -> None:
    link = Link("10", LinkProfile(blocked=True))
    assert run(link, PACKETS[:100]) == []
    assert link.stats.blocked == 100


@pytest.mark.parametrize(
    ("text", "value"), [("5%", 0.05), ("0.05", 0.05), ("100%", 1.0), (" 0 ", 0.0)]
)
def test_parse_probability(text: str, value: float) -> None:
    assert parse_probability(text) == pytest.approx(value)


def test_parse_probability_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"probability in \[0, 1\]"):
        parse_probability("150%")


def test_parse_duration_and_rate() -> None:
    assert parse_duration("50ms") == pytest.approx(0.05)
    assert parse_duration("200us") == pytest.approx(0.0002)
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("2") == 2.0
    assert parse_rate("800k") == 800_000
    assert parse_rate("2Mbit") == 2_000_000
    with pytest.raises(ValueError, match="must be >= 0"):
        parse_duration("-1ms")
    with pytest.raises(ValueError, match="must be > 0"):
        parse_rate("0")


def test_profile_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="loss must be a probability"):
        LinkProfile(loss=2)
    with pytest.raises(ValueError, match="delay must be >= 0"):
        LinkProfile(delay=-1)
