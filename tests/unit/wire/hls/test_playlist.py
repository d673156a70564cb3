from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.hls import (
    ByteRange,
    InitSection,
    MediaPlaylist,
    MediaSegment,
    PartialSegment,
    PlaylistError,
    PlaylistType,
    PreloadHint,
    PreloadHintType,
    ServerControl,
    parse,
    render,
)
from wire.hls.attributes import format_decimal

# What nginx-rtmp 1.2 writes: VERSION before MEDIA-SEQUENCE, integers-as-floats, no PDT.
NGINX_RTMP = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:12
#EXT-X-TARGETDURATION:5

#EXT-X-DISCONTINUITY
#EXTINF:4.967,
stream-12.ts
#EXTINF:5.0,
stream-13.ts
"""

# What ffmpeg's hls muxer writes with program_date_time and CRLF line endings.
FFMPEG = (
    "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MEDIA-SEQUENCE:0\r\n"
    "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000+0000\r\n#EXTINF:2.000000,\r\nindex0.ts\r\n"
    "#EXTINF:1.966667,\r\nindex1.ts\r\n#EXT-X-ENDLIST\r\n"
)

LL_HLS = """#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=6.000,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PART:DURATION=0.200,URI="part3.0.mp4",INDEPENDENT=YES
#EXTINF:2.000,
seg3.mp4
#EXT-X-PART:DURATION=0.200,URI="part4.0.mp4",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part4.1.mp4"
"""


def test_parse_nginx_rtmp():
    playlist = parse(NGINX_RTMP)
    assert playlist == MediaPlaylist(
        target_duration=5,
        version=3,
        media_sequence=12,
        segments=(
            MediaSegment("stream-12.ts", 4.967, discontinuity=True),
            MediaSegment("stream-13.ts", 5.0),
        ),
    )
    assert playlist.duration == pytest.approx(9.967)
    assert playlist.next_media_sequence == 14
    assert list(playlist.numbered())[1] == (13, playlist.segments[1])


def test_parse_ffmpeg_crlf_and_basic_zone():
    playlist = parse(FFMPEG.encode())
    assert playlist.endlist
    assert not playlist.is_live
    assert playlist.segments[0].program_date_time == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert playlist.segments[1] == MediaSegment("index1.ts", 1.966667)


def test_parse_ll_hls():
    playlist = parse(LL_HLS)
    assert playlist.part_target == 0.2
    assert playlist.server_control == ServerControl(
        can_block_reload=True, hold_back=6.0, part_hold_back=0.6
    )
    init = InitSection("init.mp4")
    assert playlist.segments == (
        MediaSegment(
            "seg3.mp4",
            2.0,
            init_section=init,
            parts=(PartialSegment("part3.0.mp4", 0.2, independent=True),),
        ),
    )
    assert playlist.trailing_parts == (PartialSegment("part4.0.mp4", 0.2, independent=True),)
    assert playlist.preload_hints == (PreloadHint(PreloadHintType.PART, "part4.1.mp4"),)
    assert render(playlist) == LL_HLS


def test_render_exact_text():
    playlist = MediaPlaylist(
        target_duration=2,
        version=3,
        media_sequence=7,
        discontinuity_sequence=1,
        independent_segments=True,
        segments=(
            MediaSegment(
                "a.ts",
                2.0,
                program_date_time=datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
            ),
            MediaSegment("b.ts", 1.9333, discontinuity=True, byterange=ByteRange(100, 5)),
        ),
    )
    assert render(playlist) == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.123Z\n#EXTINF:2.000,\na.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:1.9333,\n#EXT-X-BYTERANGE:100@5\nb.ts\n"
    )


def test_required_version():
    segment = MediaSegment("a.ts", 2.0)
    assert MediaPlaylist(2, (segment,)).required_version() == 3
    ranged = MediaSegment("a.ts", 2.0, byterange=ByteRange(10))
    assert MediaPlaylist(2, (ranged,)).required_version() == 4
    mapped = MediaSegment("a.mp4", 2.0, init_section=InitSection("i.mp4"))
    assert MediaPlaylist(2, (mapped,)).required_version() == 6
    assert MediaPlaylist(2, (mapped,), i_frames_only=True).required_version() == 5


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2.000"), (1.9333, "1.9333"), (0.1 + 0.2, "0.30000000000000004"), (1e-05, "0.00001")],
)
def test_format_decimal(value, text):
    assert format_decimal(value) == text
    assert float(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: expected #EXTM3U, got an empty playlist"),
        ("#EXTINF:2,\na.ts\n", "line 1: expected #EXTM3U, got '#EXTINF:2,'"),
        ("#EXTM3U\n#EXTINF:2,\na.ts\n", "no #EXT-X-TARGETDURATION tag"),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n",
            "line 2: #EXT-X-TARGETDURATION value '2.5' is not a decimal-integer",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n",
            "line 3: URI 'a.ts' without a preceding #EXTINF",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n",
            "#EXTINF at the end of the playlist without a URI",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\na.ts\n",
            "line 3: #EXTINF duration 'abc' is not a non-negative decimal number",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
            "line 2: #EXT-X-STREAM-INF is a master playlist tag, not a media playlist one",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:LIVE\n",
            "line 3: #EXT-X-PLAYLIST-TYPE 'LIVE' is not EVENT or VOD",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n",
            "line 3: #EXT-X-PROGRAM-DATE-TIME 'yesterday' is not an ISO 8601 date-time",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=init.mp4\n",
            "line 3: #EXT-X-MAP: attribute URI must be a quoted-string",
        ),
        (
            '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="a",URI="b"\n',
            "line 3: #EXT-X-MAP: attribute URI appears more than once",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:DURATION=0.2\n",
            "line 3: #EXT-X-PART: missing required attribute URI",
        ),
        (
            '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init.mp4\n',
            "line 3: #EXT-X-MAP: attribute URI has an unterminated quoted-string",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n",
            "line 3: #EXT-X-SKIP: playlist delta updates are not supported",
        ),
        (b"#EXTM3U\n\xff\n", "playlist is not UTF-8: byte 8 (invalid start byte)"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(PlaylistError) as info:
        parse(text)
    assert str(info.value) == message


def test_parse_tolerates_bom_comments_unknown_tags_and_missing_comma():
    text = (
        "\ufeff#EXTM3U\n# a comment\n#EXT-X-TARGETDURATION:2\n#EXT-X-FUTURE-TAG:X=1\n"
        "#EXT-X-KEY:METHOD=NONE\n#EXTINF:2\na.ts\n#EXT-X-MEDIA-SEQUENCE:4\n"
    )
    playlist = parse(text)
    assert playlist.segments == (MediaSegment("a.ts", 2.0),)
    assert playlist.media_sequence == 4


_uris = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12).map(
    lambda s: s + ".ts"
)
_durations = st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False)
_byteranges = st.builds(ByteRange, st.integers(0, 10**9), st.none() | st.integers(0, 10**9))
_date_times = (
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
    .map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
    .flatmap(
        lambda d: st.sampled_from(
            [d.replace(tzinfo=UTC), d.replace(tzinfo=timezone(timedelta(hours=-5))), d]
        )
    )
)
_parts = st.builds(
    PartialSegment, _uris, _durations, st.booleans(), st.none() | _byteranges, st.booleans()
)


@st.composite
def _playlists(draw: st.DrawFn) -> MediaPlaylist:
    init = draw(st.none() | st.builds(InitSection, _uris, st.none() | _byteranges))
    segments = draw(
        st.lists(
            st.builds(
                MediaSegment,
                uri=_uris,
                duration=_durations,
                # Trailing blanks are not kept: the parser strips line ends.
                title=st.text(st.characters(codec="ascii", min_codepoint=32), max_size=8).map(
                    str.rstrip
                ),
                discontinuity=st.booleans(),
                program_date_time=st.none() | _date_times,
                init_section=st.just(init),
                byterange=st.none() | _byteranges,
                gap=st.booleans(),
                parts=st.lists(_parts, max_size=2).map(tuple),
            ),
            max_size=5,
        ).map(tuple)
    )
    return MediaPlaylist(
        target_duration=draw(st.integers(0, 100)),
        segments=segments,
        version=draw(st.none() | st.integers(1, 12)),
        media_sequence=draw(st.integers(0, 2**40)),
        discontinuity_sequence=draw(st.integers(0, 2**20)),
        playlist_type=draw(st.none() | st.sampled_from(PlaylistType)),
        independent_segments=draw(st.booleans()),
        i_frames_only=draw(st.booleans()),
        endlist=draw(st.booleans()),
        part_target=draw(st.none() | _durations),
        server_control=draw(
            st.none()
            | st.builds(
                ServerControl,
                st.booleans(),
                st.none() | _durations,
                st.booleans(),
                st.none() | _durations,
                st.none() | _durations,
            )
        ),
        trailing_parts=draw(st.lists(_parts, max_size=2).map(tuple)),
        preload_hints=draw(
            st.lists(
                st.builds(
                    PreloadHint,
                    st.sampled_from(PreloadHintType),
                    _uris,
                    st.none() | st.integers(0, 10**6),
                    st.none() | st.integers(0, 10**6),
                ),
                max_size=2,
            ).map(tuple)
        ),
    )


@settings(max_examples=100)
@given(_playlists())
def test_render_parse_round_trip(playlist):
    text = render(playlist)
    assert parse(text) == playlist
    assert render(parse(text)) == text


@settings(max_examples=300)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_input_parses_or_raises_playlist_error(data):
    with contextlib.suppress(PlaylistError):
        parse(data)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "#EXTM3U",
                "#EXT-X-TARGETDURATION:2",
                "#EXTINF:2,",
                "#EXTINF:x",
                "a.ts",
                "#EXT-X-MAP:",
                '#EXT-X-MAP:URI="i.mp4",BYTERANGE="1@x"',
                '#EXT-X-PART:DURATION=1,URI="p"',
                "#EXT-X-PRELOAD-HINT:TYPE=PART",
                "#EXT-X-SERVER-CONTROL:HOLD-BACK=x",
                "#EXT-X-PART-INF:PART-TARGET=",
                "#EXT-X-BYTERANGE:1@",
                "#EXT-X-PROGRAM-DATE-TIME:2024",
                "#EXT-X-MEDIA-SEQUENCE:-1",
                "#EXT-X-VERSION:",
                "#EXT-X-DISCONTINUITY",
                "",
            ]
        ),
        max_size=12,
    )
)
def test_tag_soup_parses_or_raises_playlist_error(lines):
    with contextlib.suppress(PlaylistError):
        parse("\n".join(lines))
