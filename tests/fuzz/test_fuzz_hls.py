"""HLS playlists from any server: parse gives a playlist or a PlaylistError; the validator gives
findings and never raises, for one playlist or a series of reloads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import (
    FUZZ_SETTINGS,
    NASTY_TOKENS,
    check_every_truncation,
    fuzz_inputs,
)
from tests.fuzz.targets import TARGETS, check, cpu_limit
from wire.hls import Reload, check_reloads

NAMES = ["hls_parse", "hls_validate", "hls_attributes"]


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data, text=True)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name) > 0


@FUZZ_SETTINGS
@given(
    bodies=st.lists(fuzz_inputs("hls_validate", text=True), min_size=1, max_size=4),
    gaps=st.lists(st.floats(0, 30), min_size=4, max_size=4),
)
def test_reloads_of_damaged_playlists_give_findings(bodies, gaps):
    reloads = [Reload(sum(gaps[: i + 1]), body) for i, body in enumerate(bodies)]
    with cpu_limit():
        findings = check_reloads(reloads)
    assert all(finding.rule for finding in findings)
    check("hls_validate", bodies[0])


TAGS = [
    "#EXT-X-VERSION:",
    "#EXT-X-TARGETDURATION:",
    "#EXT-X-MEDIA-SEQUENCE:",
    "#EXT-X-DISCONTINUITY-SEQUENCE:",
    "#EXTINF:",
    "#EXT-X-BYTERANGE:",
    "#EXT-X-PROGRAM-DATE-TIME:",
    "#EXT-X-MAP:URI=",
    "#EXT-X-MAP:BYTERANGE=",
    "#EXT-X-PART-INF:PART-TARGET=",
    "#EXT-X-PART:DURATION=",
    "#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=",
    "#EXT-X-SERVER-CONTROL:HOLD-BACK=",
    "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=",
    "#EXT-X-SKIP:SKIPPED-SEGMENTS=",
    "#EXT-X-PLAYLIST-TYPE:",
    "#EXT-X-KEY:METHOD=",
]


@pytest.mark.parametrize("name", ["hls_parse", "hls_validate"])
@FUZZ_SETTINGS
@given(
    tag=st.sampled_from(TAGS),
    value=st.sampled_from(NASTY_TOKENS) | st.text(max_size=20),
    line=st.integers(0, 40),
    seed=st.integers(0, 1),
)
def test_one_tag_with_a_nasty_value(name, tag, value, line, seed):
    """A valid playlist with one tag inserted whose value is a 5000-digit, negative, infinite,
    NUL, unicode ... number or string."""
    lines = TARGETS[name].seeds()[seed].decode().split("\n")
    lines.insert(min(line, len(lines)), tag + value)
    check(name, "\n".join(lines).encode("utf-8", "surrogatepass"))
