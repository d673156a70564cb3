"""Which media of a camera's session description are packaged, and why each other one is not.

Every ``m=`` section left out comes with a reason an operator can act on (a metadata track, a
codec nothing here transcodes, transcoding turned off); a section whose fmtp or rtpmap does not
read is left out with the reason, never an exception that ends the pull.
"""

from __future__ import annotations

import pytest

from refserver.hls import FrameKind
from refserver.pull.tracks import presentation_from_sdp
from wire.codec.nal import VideoCodec
from wire.payload.whole import WholePayloadDepacketizer
from wire.sdp import SessionDescription

HEAD = "v=0\r\no=- 1 1 IN IP4 192.168.1.64\r\ns=cam\r\nt=0 0\r\n"
VIDEO = (
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
)
PCMU = "m=audio 0 RTP/AVP 0\r\na=control:trackID=2\r\n"
PCMA_DYNAMIC = "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 PCMA/8000\r\na=control:trackID=2\r\n"
ONVIF_METADATA = (
    "m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n"
    "a=control:trackID=3\r\n"
)
G726 = "m=audio 0 RTP/AVP 98\r\na=rtpmap:98 G726-32/8000\r\na=control:trackID=2\r\n"


def presentation(*sections: str, transcode_audio: bool = True):
    sdp = SessionDescription.parse(HEAD + "".join(sections))
    return presentation_from_sdp(sdp, transcode_audio=transcode_audio)


@pytest.mark.parametrize("audio", [PCMU, PCMA_DYNAMIC])
def test_g711_is_transcoded_and_onvif_metadata_is_left_out_with_the_reason(audio: str) -> None:
    result = presentation(VIDEO, audio, ONVIF_METADATA)
    video, sound = result.tracks
    assert (video.kind, video.codec) == (FrameKind.VIDEO, VideoCodec.H264)
    assert sound.kind is FrameKind.AUDIO
    assert isinstance(sound.depacketizer, WholePayloadDepacketizer)
    assert sound.transcoder is not None
    assert sound.audio is not None
    assert sound.audio.asc.codec_string == "mp4a.40.2"
    assert sound.clock_rate == 8000
    assert result.left_out == (
        "application vnd.onvif.metadata/90000: a metadata track, neither audio nor video",
    )


def test_transcoding_off_leaves_g711_out_and_says_so() -> None:
    result = presentation(VIDEO, PCMU, transcode_audio=False)
    assert [t.kind for t in result.tracks] == [FrameKind.VIDEO]
    assert result.left_out == (
        "audio PCMU/8000: transcoding to AAC is off (transcode_audio = false)",
    )


def test_an_unknown_audio_codec_and_a_second_video_are_left_out() -> None:
    result = presentation(VIDEO, G726, VIDEO.replace("trackID=1", "trackID=4"))
    assert [t.kind for t in result.tracks] == [FrameKind.VIDEO]
    assert result.left_out == (
        "audio G726-32/8000: no transcoder for it (AAC is packaged, G.711 and Opus transcoded)",
        "video H264/90000: only the first video is packaged",
    )


def test_opus_on_another_clock_is_left_out() -> None:
    opus = "m=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/16000/2\r\na=control:trackID=2\r\n"
    result = presentation(VIDEO, opus)
    assert result.left_out == (
        "audio opus/16000: Opus runs on a 48000 Hz RTP clock (RFC 7587), not 16000",
    )


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        (
            "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
            f"a=fmtp:97 mode=AAC-hbr;config=1190;sizelength={'9' * 5000}\r\n",
            f"MPEG4-GENERIC sizelength={'9' * 40!r} is not a number of bits",
        ),
        (
            "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/0/2\r\n"
            "a=fmtp:97 mode=AAC-hbr;config=1190\r\n",
            "MPEG4-GENERIC with an RTP clock rate of 0",
        ),
        (
            "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
            "a=fmtp:97 mode=AAC-hbr;config=zz\r\n",
            "MPEG4-GENERIC config='zz' does not read: non-hexadecimal number found in "
            "fromhex() arg at position 0",
        ),
    ],
)
def test_an_aac_section_that_does_not_read_is_left_out_not_raised(
    section: str, reason: str
) -> None:
    result = presentation(VIDEO, section)
    assert [t.kind for t in result.tracks] == [FrameKind.VIDEO]
    [left_out] = result.left_out
    assert left_out.endswith(f": {reason}")


def test_nothing_at_all_is_explained() -> None:
    result = presentation(ONVIF_METADATA, "m=video 0 RTP/AVP 26\r\n")
    assert result.tracks == ()
    assert result.left_out == (
        "application vnd.onvif.metadata/90000: a metadata track, neither audio nor video",
        "video JPEG/90000: only H.264 and H.265 video is packaged",
    )
