"""The HLS suite's pieces without a network: segment analysis on real segments (refserver's
writers over the test sample) and their breakages, multivariant parsing, and cases judging
hand-made recordings."""

from __future__ import annotations

from fractions import Fraction

import pytest

from conformance.case import CaseFailure
from conformance.hls.media import Track, analyse_init, analyse_segment, detect_container
from conformance.hls.multivariant import is_multivariant, parse_multivariant
from conformance.hls.observation import HlsObservation
from conformance.hls.recording import Exchange, HlsRecording, Reload, RemovalProbe
from conformance.hls.recording import SegmentRecord as Seg
from conformance.suites.hls_output import test_http, test_reloads, test_segments
from tests.conftest import SampleFactory
from tests.integration.conformance.mutant_media import (
    Source,
    corrupt_slice,
    drop_audio_tfdt,
    init_without_ftyp,
    null_packet_first,
    two_programs,
    write_segments,
)
from wire.hls import parse


@pytest.fixture(scope="module")
def source(make_test_sample: SampleFactory) -> Source:
    return Source.load(make_test_sample(gop_seconds=Fraction(1)), loops=2)


@pytest.fixture(scope="module")
def ts(source: Source) -> list[bytes]:
    return [s.data for s in write_segments(source, False)[1]]


def test_ts_segment(ts: list[bytes], source: Source) -> None:
    media = analyse_segment(ts[2])
    assert (media.container, media.error, media.decode_error) == ("ts", "", "")
    assert (media.programs, media.psi_first, media.starts_with_keyframe) == (1, True, True)
    assert media.frames_decoded == 15
    video = media.track("video")
    audio = media.track("audio")
    assert video is not None
    assert audio is not None
    assert (video.start, video.end, video.samples) == (2.0, 3.0, 15)
    assert video.codec.startswith("avc1.64")
    assert audio.codec == "mp4a.40.2"
    # Every frame's stamp, in order, continuing across segments.
    assert [s.frame_index for s in media.stamps] == list(range(30, 45))


def test_ts_breakages(ts: list[bytes]) -> None:
    assert analyse_segment(two_programs(ts[1])).programs == 2
    null_first = analyse_segment(null_packet_first(ts[1]))
    assert null_first.psi_first is False
    assert null_first.first_pids == [0x1FFF, 0x0000]
    for segment in ts:
        corrupt = analyse_segment(corrupt_slice(segment))
        assert corrupt.error == ""
        assert corrupt.starts_with_keyframe is True
        assert corrupt.decode_error.startswith(("InvalidDataError", "h264: concealing")), (
            corrupt.decode_error
        )
    garbage = analyse_segment(b"<html>not a segment</html>")
    assert garbage.container == "unknown"
    assert "neither MPEG-TS" in garbage.error


def test_cut_past_the_keyframe(source: Source) -> None:
    _, shifted = write_segments(source, False, offset_frames=1)
    media = analyse_segment(shifted[1].data)
    assert media.starts_with_keyframe is False
    assert media.decode_error == ""


def test_fmp4_segment_and_breakages(source: Source) -> None:
    init, segments = write_segments(source, True)
    info = analyse_init(init)
    assert info.boxes == ["ftyp", "moov"]
    assert info.has_mvex
    assert [t.kind for t in info.tracks.values()] == ["video", "audio"]
    assert info.tracks[2].codec == "mp4a.40.2"
    media = analyse_segment(segments[1].data, info, init)
    assert (media.container, media.error, media.decode_error) == ("fmp4", "", "")
    assert media.top_boxes == ["styp", "moof", "mdat"]
    video = media.track("video")
    assert video is not None
    assert (video.start, video.end) == (1.0, 2.0)
    assert media.starts_with_keyframe is True
    assert len(media.stamps) == 15
    assert analyse_segment(drop_audio_tfdt(segments[1].data), info, init).missing_tfdt == [2]
    assert analyse_init(init_without_ftyp(init)).boxes == ["moov"]
    assert detect_container(segments[1].data) == "fmp4"


def test_multivariant() -> None:
    text = (
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f, mp4a.40.2",RESOLUTION=640x360\n'
        "low/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\nhttp://other/high.m3u8\n"
    )
    assert is_multivariant(text)
    parsed = parse_multivariant(text, "http://127.0.0.1:8080/live/master.m3u8")
    assert parsed.independent_segments
    low, high = parsed.variants
    assert low.uri == "http://127.0.0.1:8080/live/low/index.m3u8"
    assert low.codecs == ("avc1.64001f", "mp4a.40.2")
    assert (low.bandwidth, low.resolution, low.line) == (800000, "640x360", 3)
    assert (high.uri, high.codecs) == ("http://other/high.m3u8", None)
    assert not is_multivariant("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")


# Cases judging hand-made recordings.


def _exchange(
    url: str, at: float, body: str = "", status: int = 200, headers: dict[str, str] | None = None
) -> Exchange:
    return Exchange(url, at, at + 0.01, 1e9 + at, status, headers or {}, body.encode())


def _playlist(first: int, count: int = 3) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for n in range(first, first + count):
        lines += ["#EXTINF:2.000,", f"s{n}.ts"]
    return "\n".join(lines) + "\n"


def _recording(*bodies: str, headers: dict[str, str] | None = None) -> HlsRecording:
    recording = HlsRecording("http://127.0.0.1:9/live/index.m3u8")
    for index, body in enumerate(bodies):
        exchange = _exchange(recording.target, 2.0 * index, body, headers=headers)
        recording.reloads.append(Reload(index, exchange, parse(body)))
    return recording


def test_removed_segment_probe_judged() -> None:
    recording = _recording(_playlist(0), _playlist(1))
    with pytest.raises(pytest.skip.Exception, match="no segment was removed"):
        test_reloads.test_removed_segments_available(HlsObservation(recording))
    probe = RemovalProbe("http://127.0.0.1:9/live/s0.ts", 0, 1, required=8.0, elapsed_bound=5.2)
    probe.exchange = _exchange(probe.uri, 5.0, status=404)
    recording.removal_probes.append(probe)
    with pytest.raises(CaseFailure) as failure:
        test_reloads.test_removed_segments_available(HlsObservation(recording))
    assert "answered HTTP 404 at most 5.20 s after its removal" in failure.value.message
    assert "8.00 s" in failure.value.message
    assert failure.value.details[0].where == "segment 0 (s0.ts), removed by reload 1"
    probe.exchange = _exchange(probe.uri, 5.0, status=200)
    test_reloads.test_removed_segments_available(HlsObservation(recording))


def test_playlist_cache_lifetime_against_half_a_target_duration() -> None:
    class Record:
        def measure(self, *args: object) -> None:
            pass

    fine = _recording(_playlist(0), headers={"cache-control": "max-age=1"})
    test_http.test_playlist_cache_lifetime(HlsObservation(fine), Record())  # type: ignore[arg-type]
    cached = _recording(_playlist(0), headers={"cache-control": "public, max-age=5"})
    with pytest.raises(CaseFailure, match="for 5 s, more than half the target duration"):
        test_http.test_playlist_cache_lifetime(HlsObservation(cached), Record())  # type: ignore[arg-type]


def _segment(sequence: int, start: float, end: float) -> Seg:
    from conformance.hls.media import SegmentMedia

    media = SegmentMedia("ts", 1000, tracks=[Track("video", "avc1", start, end, start, 30, 1 / 15)])
    return Seg(f"http://h/s{sequence}.ts", sequence, 2.0, 0, False, sequence, 0.0, 0.0, media=media)


def test_timestamp_continuity_allows_a_dropped_frame_not_a_jump() -> None:
    recording = _recording(_playlist(0))
    recording.segments = {s.uri: s for s in (_segment(0, 0.0, 2.0), _segment(1, 2.0 + 1 / 15, 4.0))}
    test_segments.test_timestamps_continuous(HlsObservation(recording))
    recording.segments = {s.uri: s for s in (_segment(0, 0.0, 2.0), _segment(1, 12.0, 14.0))}
    with pytest.raises(CaseFailure, match=r"a gap of 10\.000 s without EXT-X-DISCONTINUITY"):
        test_segments.test_timestamps_continuous(HlsObservation(recording))


def test_a_cached_playlist_moves_the_removal_earlier() -> None:
    """A playlist a cache has held for Age seconds may be that much older than its request:
    the removal probe counts from then (RFC 9111 §5.1)."""
    from conformance.hls.recorder import _age

    assert _age(_exchange("u", 0.0, headers={"age": "3"})) == 3.0
    assert _age(_exchange("u", 0.0)) == 0.0
    assert _age(_exchange("u", 0.0, headers={"age": "soon"})) == 0.0
