"""Each single-playlist rule: a conforming playlist passes, a breaking one gives exact findings."""

from __future__ import annotations

import pytest

from wire.hls.validate import PARSE_RULE, RULES, Finding, Severity, check_playlist, only_errors

PDT = "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:{:02d}.000Z"


def live(
    count: int = 6,
    *,
    target: int = 2,
    duration: str = "2.000",
    header: str = "",
    extra: str = "",
    version: int = 3,
) -> str:
    """A conforming live playlist of ``count`` segments."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:10",
        *([header] if header else []),
    ]
    for n in range(count):
        lines += [PDT.format(2 * n), f"#EXTINF:{duration},", f"s{10 + n}.ts"]
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def test_conforming_playlist_has_no_findings():
    assert check_playlist(live()) == []


def test_every_rule_cites_its_source():
    for rule in RULES.values():
        assert "§" in rule.reference or "Apple" in rule.reference, rule.name


def finding(rule: str, message: str, line: int | None = None) -> Finding:
    return Finding(rule, RULES[rule].severity, message, line=line)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "\n" + live(),
            [finding("extm3u-first", "the first line is '#EXTM3U', not #EXTM3U", 1)],
        ),
        ("\ufeff" + live(), [finding("no-bom", "the playlist starts with a byte order mark", 1)]),
        (
            live().replace("s11.ts", "s11\x07.ts"),
            [finding("no-control-characters", "control character U+0007", 10)],
        ),
        (
            live().replace("#EXT-X-TARGETDURATION:2\n", ""),
            [finding("target-duration-present", "no #EXT-X-TARGETDURATION tag")],
        ),
        (
            live(header="#EXT-X-TARGETDURATION:2"),
            [finding("singleton-tags", "#EXT-X-TARGETDURATION appears 2 times", 5)],
        ),
        (
            live(extra="#EXT-X-DISCONTINUITY-SEQUENCE:3"),
            [
                finding(
                    "header-before-segments",
                    "#EXT-X-DISCONTINUITY-SEQUENCE after the first segment (line 6)",
                    23,
                )
            ],
        ),
        (
            live(version=2).replace("#EXTINF:2.000,\ns15", "#EXTINF:2,\ns15"),
            [
                finding(
                    "version-compatibility",
                    "a decimal-floating-point EXTINF duration needs EXT-X-VERSION 3, "
                    "the playlist declares 2",
                    line,
                )
                for line in (6, 9, 12, 15, 18)
            ],
        ),
        (
            live(header='#EXT-X-MAP:URI="init.mp4"'),
            [
                finding(
                    "version-compatibility",
                    "#EXT-X-MAP needs EXT-X-VERSION 6, the playlist declares 3",
                    5,
                )
            ],
        ),
        (
            live().replace("12:00:02.000Z", "12:00:02Z"),
            [
                finding(
                    "program-date-time-format",
                    "'2024-05-01T12:00:02Z' lacks milliseconds or a time zone "
                    "(e.g. 2024-05-01T12:00:00.000Z)",
                    8,
                )
            ],
        ),
        (
            live().replace("12:00:04.000Z", "12:00:04.000"),
            [
                finding(
                    "program-date-time-format",
                    "'2024-05-01T12:00:04.000' lacks milliseconds or a time zone "
                    "(e.g. 2024-05-01T12:00:00.000Z)",
                    11,
                )
            ],
        ),
        (
            live(duration="2.500"),
            [
                finding(
                    "extinf-within-target-duration",
                    f"segment {n} (s{n}.ts) lasts 2.5 s, more than the target duration 2 s "
                    "after rounding",
                )
                for n in range(10, 16)
            ],
        ),
        (
            live(extra="#EXT-X-ENDLIST"),
            [finding("live-no-endlist", "a live playlist carries #EXT-X-ENDLIST")],
        ),
        (
            live(header="#EXT-X-PLAYLIST-TYPE:EVENT"),
            [finding("live-no-endlist", "a live playlist carries #EXT-X-PLAYLIST-TYPE:EVENT")],
        ),
        (
            live(2),
            [
                finding(
                    "live-three-target-durations",
                    "the playlist holds 4.000 s, less than 3 target durations (6 s)",
                ),
                finding("apple-six-segments", "the playlist lists 2 segments, fewer than 6"),
            ],
        ),
        (
            live(3),
            [finding("apple-six-segments", "the playlist lists 3 segments, fewer than 6")],
        ),
        (
            live().replace(PDT.format(0) + "\n", ""),
            [
                finding(
                    "program-date-time-present",
                    "the first segment (s10.ts) has no #EXT-X-PROGRAM-DATE-TIME",
                )
            ],
        ),
        (
            live().replace("12:00:04.000Z", "11:00:04.000Z"),
            [
                finding(
                    "program-date-time-order",
                    "segment 12 starts at 2024-05-01T11:00:04.000Z, before "
                    "2024-05-01T12:00:02.000Z of an earlier segment",
                )
            ],
        ),
        (
            live(version=9, extra='#EXT-X-PART:DURATION=0.2,URI="p.mp4"'),
            [finding("part-inf-with-parts", "#EXT-X-PART without #EXT-X-PART-INF")],
        ),
        (
            live(
                version=9,
                header="#EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=0.6",
                extra='#EXT-X-PART:DURATION=0.25,URI="p.mp4"',
            ),
            [finding("part-within-part-target", "part p.mp4 lasts 0.25 s, PART-TARGET is 0.2 s")],
        ),
        (
            live(version=9, header="#EXT-X-PART-INF:PART-TARGET=0.2"),
            [
                finding(
                    "part-hold-back",
                    "#EXT-X-PART-INF without PART-HOLD-BACK in #EXT-X-SERVER-CONTROL",
                )
            ],
        ),
        (
            live(
                version=9,
                header="#EXT-X-PART-INF:PART-TARGET=0.25\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=0.4",
            ),
            [
                finding(
                    "part-hold-back",
                    "PART-HOLD-BACK 0.4 s is less than 2 times PART-TARGET (0.5 s)",
                ),
                finding(
                    "apple-part-hold-back",
                    "PART-HOLD-BACK 0.4 s is less than 3 times PART-TARGET (0.75 s)",
                ),
            ],
        ),
        (
            live(
                version=9,
                header="#EXT-X-PART-INF:PART-TARGET=0.25\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=0.5",
            ),
            [
                finding(
                    "apple-part-hold-back",
                    "PART-HOLD-BACK 0.5 s is less than 3 times PART-TARGET (0.75 s)",
                ),
            ],
        ),
        (
            live(header="#EXT-X-SERVER-CONTROL:HOLD-BACK=5.5"),
            [finding("hold-back", "HOLD-BACK 5.5 s is less than 6 s")],
        ),
    ],
)
def test_rule_finds_exactly(text, expected):
    assert check_playlist(text) == expected


def test_unparseable_playlist_gives_the_parse_finding():
    text = live().replace("#EXTINF:2.000,\ns12.ts", "#EXTINF:two,\ns12.ts")
    assert check_playlist(text) == [
        Finding(
            PARSE_RULE,
            Severity.ERROR,
            "line 12: #EXTINF duration 'two' is not a non-negative decimal number",
        )
    ]


def test_parse_finding_is_left_out_when_a_text_rule_names_the_cause():
    text = live().replace("#EXT-X-TARGETDURATION:2\n", "")
    assert [f.rule for f in check_playlist(text)] == ["target-duration-present"]


def test_invalid_utf8_is_a_parse_finding():
    assert check_playlist(b"#EXTM3U\n\xc3\x28\n") == [
        Finding(
            PARSE_RULE, Severity.ERROR, "playlist is not UTF-8: byte 8 (invalid continuation byte)"
        )
    ]


def test_vod_playlist_is_not_judged_as_live():
    text = live(2, extra="#EXT-X-ENDLIST")
    assert check_playlist(text, live=False) == []


def test_warnings_are_not_errors():
    findings = check_playlist(live(3))
    assert findings
    assert only_errors(findings) == []
    assert (
        str(findings[0])
        == "warning apple-six-segments: the playlist lists 3 segments, fewer than 6"
    )
