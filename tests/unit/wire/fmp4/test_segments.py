from __future__ import annotations

import struct
from fractions import Fraction

import pytest

from camsim.media.loader import load
from tests.conftest import SampleFactory
from tests.fuzz.registry import cpu_limit
from tests.unit.wire.codec.test_h264 import write_sps
from wire.codec.aac import AudioSpecificConfig
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import (
    H264_NAL_PPS,
    H264_NAL_SPS,
    H265_NAL_PPS,
    H265_NAL_SPS,
    H265_NAL_VPS,
    VideoCodec,
    join_length_prefixed,
)
from wire.fmp4 import (
    AudioTrack,
    Box,
    Fmp4Error,
    Sample,
    Tfdt,
    TrackFragment,
    Trun,
    TrunEntry,
    VideoTrack,
    init_segment,
    media_segment,
    walk,
)
from wire.fmp4.fragment import SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC
from wire.fmp4.parse import MAX_TRUN_SAMPLES

VISUAL_SAMPLE_ENTRY_SIZE = 78  # the fields of §12.1.3.2 ahead of the codec configuration box
AUDIO_SAMPLE_ENTRY_SIZE = 28


def sample_entry(trak: Box) -> Box:
    stsd = trak.child("mdia").child("minf").child("stbl").child("stsd")
    _, _, rest = stsd.full_header()
    assert rest[:4] == b"\x00\x00\x00\x01"
    (entry,) = walk(rest[4:])
    return entry


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_init_segment_parsed_back(make_test_sample: SampleFactory, codec: VideoCodec):
    sample = load(make_test_sample(codec=codec, duration=Fraction(2)))
    assert sample.video is not None
    assert sample.audio is not None
    video = VideoTrack(codec, sample.video.parameter_sets)
    audio = AudioTrack(AudioSpecificConfig.parse(sample.audio.asc))
    ftyp, moov = walk(init_segment((video, audio)))
    assert ftyp == Box("ftyp", b"iso6" + bytes(4) + b"iso6cmfcmp41")
    assert [b.kind for b in moov.children()] == ["mvhd", "trak", "trak", "mvex"]
    video_trak, audio_trak = (b for b in moov.children() if b.kind == "trak")

    _, flags, tkhd = video_trak.child("tkhd").full_header()
    assert flags == 3
    assert struct.unpack(">I", tkhd[8:12]) == (1,)
    assert struct.unpack(">II", tkhd[-8:]) == (320 << 16, 240 << 16)
    mdhd = video_trak.child("mdia").child("mdhd").full_header()[2]
    assert struct.unpack(">I", mdhd[8:12]) == (90000,)
    assert video_trak.child("mdia").child("hdlr").payload[8:12] == b"vide"
    stbl = video_trak.child("mdia").child("minf").child("stbl")
    assert [b.kind for b in stbl.children()] == ["stsd", "stts", "stsc", "stsz", "stco"]

    entry = sample_entry(video_trak)
    assert entry.kind == ("avc1" if codec is VideoCodec.H264 else "hvc1")
    assert struct.unpack(">HH", entry.payload[24:28]) == (320, 240)
    (config,) = walk(entry.payload[VISUAL_SAMPLE_ENTRY_SIZE:])
    sets = video.sets_of
    if codec is VideoCodec.H264:
        record = AvcDecoderConfigurationRecord.build(sets(H264_NAL_SPS), sets(H264_NAL_PPS))
        assert config == Box("avcC", record.serialize())
    else:
        hevc = HevcDecoderConfigurationRecord.build(
            sets(H265_NAL_VPS), sets(H265_NAL_SPS), sets(H265_NAL_PPS)
        )
        assert config == Box("hvcC", hevc.serialize())

    entry = sample_entry(audio_trak)
    assert entry.kind == "mp4a"
    channels, bits, _, rate = struct.unpack(">HHII", entry.payload[16:28])
    assert (channels, bits, rate >> 16) == (audio.asc.channel_configuration, 16, 48000)
    (esds,) = walk(entry.payload[AUDIO_SAMPLE_ENTRY_SIZE:])
    assert esds.payload.endswith(
        bytes([5, len(sample.audio.asc)]) + sample.audio.asc + b"\x06\x01\x02"
    )
    mdhd = audio_trak.child("mdia").child("mdhd").full_header()[2]
    assert struct.unpack(">I", mdhd[8:12]) == (audio.asc.sample_rate,)
    trexs = moov.child("mvex").children()
    assert [struct.unpack(">II", t.full_header()[2][:8]) for t in trexs] == [(1, 1), (2, 1)]


PPS = b"\x68\xce\x38\x80"


@pytest.mark.parametrize(
    ("width_in_mbs", "height_in_map_units", "size"),
    [(4096, 68, "65536x1088"), (5001, 68, "80016x1088"), (120, 4096, "1920x65536")],
)
def test_init_segment_refuses_a_picture_wider_than_a_sample_entry(
    width_in_mbs: int, height_in_map_units: int, size: str
):
    # Found by fuzzing: an SPS may declare any width (pic_width_in_mbs_minus1 is ue(v)), and
    # packing it into tkhd's 16.16 width raised struct.error instead of Fmp4Error.
    sps = write_sps(width_in_mbs=width_in_mbs, height_in_map_units=height_in_map_units)
    track = VideoTrack(VideoCodec.H264, (sps, PPS))
    with pytest.raises(Fmp4Error, match=rf"^h264 picture of {size} does not fit a sample entry"):
        init_segment((track,))
    largest = write_sps(width_in_mbs=4095, height_in_map_units=4095)
    assert init_segment((VideoTrack(VideoCodec.H264, (largest, PPS)),))


def test_init_segment_needs_a_track():
    with pytest.raises(Fmp4Error, match=r"^init segment: needs at least one track$"):
        init_segment(())


def test_media_segment_trun_and_tfdt():
    pictures = [
        # (dts, pts, keyframe, nal units): I P B B in decode order, 3000-tick frames
        (9000, 12000, True, (b"\x65\x88", b"\x06\x05")),
        (12000, 21000, False, (b"\x41\x9a\x01",)),
        (15000, 15000, False, (b"\x01\x9e",)),
        (18000, 18000, False, (b"\x01\x9f\x00\x00",)),
    ]
    video = TrackFragment(
        1,
        9000,
        tuple(
            Sample(join_length_prefixed(nalus), 3000, sync=key, composition_offset=pts - dts)
            for dts, pts, key, nalus in pictures
        ),
    )
    audio = TrackFragment(
        2,
        4800,
        (Sample(b"\x21" * 5, 1024), Sample(b"\x21" * 7, 1024)),
        with_sample_flags=False,
        with_composition_offsets=False,
    )
    segment = media_segment(7, (video, audio))
    styp, moof, mdat = walk(segment)
    assert styp == Box("styp", b"msdh" + bytes(4) + b"msdhcmfs")
    assert moof.child("mfhd").full_header() == (0, 0, b"\x00\x00\x00\x07")
    video_traf, audio_traf = (b for b in moof.children() if b.kind == "traf")
    assert video_traf.child("tfhd").full_header() == (0, 0x020000, b"\x00\x00\x00\x01")
    assert video_traf.child("tfdt").full_header()[0] == 1
    assert Tfdt.parse(video_traf.child("tfdt")) == Tfdt(9000)
    assert Tfdt.parse(audio_traf.child("tfdt")) == Tfdt(4800)

    trun = Trun.parse(video_traf.child("trun"))
    assert (trun.version, trun.flags) == (1, 0x000F01)
    assert [e.duration for e in trun.entries] == [3000] * 4
    assert [e.size for e in trun.entries] == [12, 7, 6, 8]
    assert [e.flags for e in trun.entries] == [SAMPLE_FLAGS_SYNC] + [SAMPLE_FLAGS_NON_SYNC] * 3
    assert [e.composition_offset for e in trun.entries] == [3000, 9000, 0, 0]
    assert SAMPLE_FLAGS_SYNC == 0x02000000
    assert SAMPLE_FLAGS_NON_SYNC == 0x01010000

    audio_trun = Trun.parse(audio_traf.child("trun"))
    assert audio_trun.flags == 0x000301
    assert [(e.duration, e.size, e.flags) for e in audio_trun.entries] == [
        (1024, 5, None),
        (1024, 7, None),
    ]
    # data_offset counts from the moof's first byte (default-base-is-moof, §8.8.7.1).
    moof_start = segment.index(b"moof") - 4
    assert trun.data_offset is not None
    assert audio_trun.data_offset is not None
    video_data = b"".join(join_length_prefixed(p[3]) for p in pictures)
    start = moof_start + trun.data_offset
    assert segment[start : start + len(video_data)] == video_data
    start = moof_start + audio_trun.data_offset
    assert segment[start:] == b"\x21" * 12
    assert mdat.payload == video_data + b"\x21" * 12


def test_media_segment_rejects_negative_decode_time():
    fragment = TrackFragment(1, -1, (Sample(b"x", 1),))
    with pytest.raises(Fmp4Error, match=r"^track 1: negative decode time -1$"):
        media_segment(1, (fragment,))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00\x0f", "box trun: 3 bytes, no FullBox header"),
        (bytes.fromhex("01000f01 00000001"), "trun: 4 bytes, header needs 8"),
        (
            bytes.fromhex("01000f01 00000001 00000000 0000"),
            "trun: 1 samples of 16 bytes, 2 bytes present",
        ),
    ],
)
def test_trun_truncations(payload: bytes, message: str):
    with pytest.raises(Fmp4Error) as info:
        Trun.parse(Box("trun", payload))
    assert str(info.value) == message


def test_tfdt_version_0_and_truncation():
    assert Tfdt.parse(Box("tfdt", bytes(4) + b"\x00\x00\x01\x00")) == Tfdt(256)
    with pytest.raises(Fmp4Error, match=r"^tfdt version 1: 4 bytes, expected 8$"):
        Tfdt.parse(Box("tfdt", b"\x01\x00\x00\x00" + bytes(4)))


def _trun(flags: int, count: int, rest: bytes = b"") -> Box:
    return Box("trun", struct.pack(">II", flags, count) + rest)


def test_trun_of_default_samples_is_read_without_an_entry_per_byte():
    # A trun with no per-sample field is 12 bytes whatever its sample_count: every sample takes
    # the tfhd/trex defaults.
    trun = Trun.parse(_trun(0x000001, 1000, b"\x00\x00\x00\x10"))
    assert (trun.data_offset, len(trun.entries)) == (16, 1000)
    assert set(trun.entries) == {TrunEntry(None, None, None, None)}


def test_trun_sample_count_from_the_network_is_bounded():
    # Found by fuzzing: sample_count 0xFFFFFFFF with no per-sample field made four billion
    # entries from 12 bytes (hours of CPU, tens of GB).
    with cpu_limit(2.0), pytest.raises(Fmp4Error, match=r"^trun: 4294967295 samples, more than"):
        Trun.parse(_trun(0, 0xFFFFFFFF))
    with cpu_limit(2.0), pytest.raises(Fmp4Error, match=r"^trun: 1048577 samples, more than"):
        Trun.parse(_trun(0, MAX_TRUN_SAMPLES + 1))
    assert len(Trun.parse(_trun(0, MAX_TRUN_SAMPLES)).entries) == MAX_TRUN_SAMPLES
