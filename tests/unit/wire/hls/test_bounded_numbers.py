"""Numbers in a playlist are bounded before they are converted: a decimal-integer is at most
2^64-1 (RFC 8216 §4.2) and a duration's whole part likewise, so neither ``int()`` (past 4300
digits) nor ``float()`` (infinite, then ``round`` fails) can escape the parser or a rule."""

from __future__ import annotations

import pytest

from wire.hls.errors import PlaylistError
from wire.hls.parse import parse
from wire.hls.validate import check_playlist

HUGE = "9" * 5000
SHOWN = f"{HUGE[:24]!r}... (5000 characters)"


def playlist(*lines: str) -> str:
    return "\n".join(["#EXTM3U", *lines]) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            playlist(f"#EXT-X-TARGETDURATION:{HUGE}", "#EXTINF:2,", "a.ts"),
            f"line 2: #EXT-X-TARGETDURATION value {SHOWN} is not a decimal-integer",
        ),
        (
            playlist("#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:18446744073709551616"),
            "line 3: #EXT-X-MEDIA-SEQUENCE value '18446744073709551616' is not a decimal-integer",
        ),
        (
            playlist("#EXT-X-TARGETDURATION:2", f"#EXTINF:{'9' * 400}.0,", "a.ts"),
            f"line 3: #EXTINF duration {'9' * 24!r}... (402 characters) is not a non-negative "
            "decimal number",
        ),
        (
            playlist("#EXT-X-TARGETDURATION:2", f"#EXT-X-BYTERANGE:{HUGE}@0", "#EXTINF:2,", "a"),
            f"line 3: #EXT-X-BYTERANGE {HUGE[:24]!r}... (5002 characters) is not <n>[@<o>]",
        ),
        (
            playlist("#EXT-X-TARGETDURATION:2", f"#EXT-X-SERVER-CONTROL:HOLD-BACK={'9' * 400}"),
            f"line 3: #EXT-X-SERVER-CONTROL: HOLD-BACK={'9' * 24!r}... (400 characters) is not "
            "a decimal-floating-point",
        ),
    ],
)
def test_numbers_out_of_range_are_playlist_errors(text: str, message: str) -> None:
    with pytest.raises(PlaylistError) as info:
        parse(text)
    assert str(info.value) == message


def test_the_largest_decimal_integer_reads() -> None:
    text = playlist("#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:18446744073709551615")
    assert parse(text).media_sequence == 2**64 - 1


def test_an_endless_duration_is_a_finding_not_an_overflow() -> None:
    findings = check_playlist(playlist("#EXT-X-TARGETDURATION:2", f"#EXTINF:{'9' * 400},", "a"))
    assert [f.rule for f in findings if f.severity.name == "ERROR"] == ["playlist-syntax"]


def test_an_endless_version_is_a_finding_not_a_value_error() -> None:
    findings = check_playlist(
        playlist(f"#EXT-X-VERSION:{HUGE}", "#EXT-X-TARGETDURATION:2", "#EXTINF:2,", "a.ts")
    )
    assert f"EXT-X-VERSION {SHOWN} is not an integer" in [f.message for f in findings]
