import contextlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.registry import cpu_limit
from wire.codec.aac import (
    SAMPLING_FREQUENCIES,
    AdtsHeader,
    AudioSpecificConfig,
    SbrSignaling,
    adts_frame,
    split_adts,
)
from wire.codec.errors import CodecError

DATA = Path(__file__).parent / "data"


def load(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


def from_bits(*fields: str) -> bytes:
    """Bytes from fields written as binary digits, zero-padded to a whole byte."""
    bits = "".join(fields)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


NO_SBR = SbrSignaling(explicit=False, sbr_present=False)


@pytest.mark.parametrize(
    ("name", "index", "rate", "channel_configuration", "hex_"),
    [
        ("aac_lc_48000_stereo", 3, 48000, 2, "119056e500"),
        ("aac_lc_44100_mono", 4, 44100, 1, "120856e500"),
    ],
)
def test_ffmpeg_asc(name, index, rate, channel_configuration, hex_):
    """FFmpeg's encoder appends the sync extension that says "no SBR" (0x2B7, type 5, 0)."""
    data = load(f"{name}_asc")
    assert data.hex() == hex_
    asc = AudioSpecificConfig.parse(data)
    assert asc == AudioSpecificConfig(2, index, rate, channel_configuration, sbr=NO_SBR)
    assert (asc.object_type, asc.sample_rate, asc.channels) == (2, rate, channel_configuration)
    assert (asc.output_sample_rate, asc.samples_per_frame) == (rate, 1024)
    assert asc.codec_string == "mp4a.40.2"
    assert asc.serialize() == data


@pytest.mark.parametrize("name", ["aac_lc_48000_stereo", "aac_lc_44100_mono"])
def test_ffmpeg_adts_stream(name):
    asc = AudioSpecificConfig.parse(load(f"{name}_asc"))
    stream = load(f"{name}_adts")
    frames = list(split_adts(stream))
    assert len(frames) >= 4
    for header, raw in frames:
        assert (header.mpeg2, header.protection_absent, header.profile) == (False, True, 1)
        assert header.sampling_frequency_index == asc.sampling_frequency_index
        assert header.channel_configuration == asc.channel_configuration
        assert (header.buffer_fullness, header.number_of_raw_data_blocks_in_frame) == (0x7FF, 0)
        assert header.frame_length == 7 + len(raw)
        assert header.sample_rate == asc.sample_rate
        assert header.audio_specific_config() == AudioSpecificConfig.create(
            asc.sample_rate, asc.channel_configuration
        )
    assert b"".join(adts_frame(asc, raw) for _, raw in frames) == stream
    assert b"".join(h.serialize() + raw for h, raw in frames) == stream


def test_he_aac_explicit_signalling():
    data = bytes.fromhex("2b118800")  # AOT 5, 24 kHz stereo core, 48 kHz out, core AAC LC
    asc = AudioSpecificConfig.parse(data)
    assert asc == AudioSpecificConfig(2, 6, 24000, 2, sbr=SbrSignaling(True, True, False, 3, 48000))
    assert (asc.sample_rate, asc.output_sample_rate) == (24000, 48000)
    assert asc.codec_string == "mp4a.40.5"
    assert asc.serialize() == data


def test_he_aac_v2_explicit_signalling():
    data = bytes.fromhex("eb098800")  # AOT 29, 24 kHz mono core, 48 kHz out
    asc = AudioSpecificConfig.parse(data)
    assert asc.sbr == SbrSignaling(True, True, True, 3, 48000)
    assert (asc.object_type, asc.channel_configuration) == (2, 1)
    assert asc.codec_string == "mp4a.40.29"
    assert asc.serialize() == data


def test_backward_compatible_sbr_and_ps_signalling():
    data = from_bits(
        "00010", "0111", "0001", "000",  # AAC LC, 22050 Hz, mono, GASpecificConfig
        "01010110111", "00101", "1", "0100",  # 0x2B7, SBR, present, 44100 Hz
        "10101001000", "1",  # 0x548, PS present
    )  # fmt: skip
    asc = AudioSpecificConfig.parse(data)
    assert asc == AudioSpecificConfig(2, 7, 22050, 1, sbr=SbrSignaling(False, True, True, 4, 44100))
    assert asc.codec_string == "mp4a.40.29"
    assert asc.serialize() == data


def test_explicit_sampling_frequency():
    data = from_bits("00010", "1111", f"{7000:024b}", "0001", "000")
    asc = AudioSpecificConfig.parse(data)
    assert (asc.sampling_frequency_index, asc.sample_rate) == (15, 7000)
    assert asc.serialize() == data
    assert AudioSpecificConfig.create(7000, 1) == asc


def test_object_type_escape_keeps_the_specific_config():
    # USAC (42 = 32 + 10): the UsacConfig after channelConfiguration is carried as it is.
    data = from_bits("11111", "001010", "0011", "0010", "1011001110001111000111")
    asc = AudioSpecificConfig.parse(data)
    assert (asc.object_type, asc.sample_rate, asc.channels) == (42, 48000, 2)
    assert asc.specific_config_bits == 8 * len(data) - 19
    assert asc.codec_string == "mp4a.40.42"
    assert asc.serialize() == data


def test_a_megabyte_specific_config_is_read_and_written_in_linear_time():
    # Found by fuzzing: the specific config was read and written one bit at a time, O(n^2): a
    # 128 kB config from an RTMP sequence header or an SDP config= took 12 s each way.
    config = bytes(range(256)) * 4096
    data = from_bits("11111", "001010", "0011", "0010") + config  # USAC, 48 kHz, stereo
    with cpu_limit(2.0):
        asc = AudioSpecificConfig.parse(data)
        serialized = asc.serialize()
    assert (asc.object_type, asc.specific_config_bits) == (42, 8 * len(data) - 19)
    assert serialized == data


def test_eld_with_layout_left_to_its_config():
    data = from_bits("11111", "000111", "0100", "0000", "1")
    asc = AudioSpecificConfig.parse(data)
    assert (asc.object_type, asc.sample_rate, asc.channels) == (39, 44100, None)
    assert asc.serialize() == data


def test_ga_specific_config_fields():
    scalable = from_bits("00110", "0011", "0010", "0", "1", f"{1234:014b}", "0", "101")
    asc = AudioSpecificConfig.parse(scalable)
    assert (asc.object_type, asc.core_coder_delay, asc.layer_nr) == (6, 1234, 5)
    assert asc.serialize() == scalable
    short_frames = from_bits("00010", "0011", "0010", "1", "0", "0")
    asc = AudioSpecificConfig.parse(short_frames)
    assert (asc.frame_length_flag, asc.samples_per_frame) == (True, 960)
    assert asc.serialize() == short_frames


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated while reading audioObjectType"),
        (b"\xf8", "truncated while reading audioObjectTypeExt"),
        (b"\x12", "truncated while reading samplingFrequencyIndex"),
        (b"\x17\x80", "truncated while reading samplingFrequency"),
        (b"\x11\x90\x56\xe5", "truncated while reading sbrPresentFlag"),
        (b"\x2b\x11", "truncated while reading extensionSamplingFrequencyIndex"),
        (b"\x12\x12", "truncated while reading coreCoderDelay"),
        (b"\x16\x80", "samplingFrequencyIndex 13 is reserved"),
        (b"\x12\x00", "channelConfiguration 0 (program_config_element) is not supported"),
        (b"\x12\x40", "channelConfiguration 8 is reserved"),
        (b"\x12\x11", "extensionFlag is set for audio object type 2"),
        (
            from_bits("00101", "0011", "0010", "0011", "00101"),
            "audio object type 5 is not a core type",
        ),
        (b"\x02\x10", "audio object type 0 is not a core type"),
    ],
)
def test_asc_errors(data, message):
    with pytest.raises(CodecError, match=f"^AudioSpecificConfig: {re.escape(message)}$"):
        AudioSpecificConfig.parse(data)


def test_asc_fed_one_byte_at_a_time():
    data = load("aac_lc_48000_stereo_asc")
    plain = AudioSpecificConfig.create(48000, 2)
    assert AudioSpecificConfig.parse(data[:2]) == plain  # too short for a sync extension
    assert AudioSpecificConfig.parse(data[:3]) == plain
    for length in (0, 1, 4):
        with pytest.raises(CodecError, match=r"^AudioSpecificConfig: truncated while reading"):
            AudioSpecificConfig.parse(data[:length])
    assert AudioSpecificConfig.parse(data + b"\x00\x00\x00").serialize() == data


def test_asc_rejects_inconsistent_fields():
    with pytest.raises(CodecError, match=r"index 3 means 48000 Hz, not 44100$"):
        AudioSpecificConfig(2, 3, 44100, 2)
    with pytest.raises(CodecError, match=r"explicit signalling always means SBR$"):
        SbrSignaling(True, False)
    with pytest.raises(CodecError, match=r"PS is only signalled together with SBR$"):
        SbrSignaling(False, False, True)
    with pytest.raises(CodecError, match=r"AAC object types have no opaque config$"):
        AudioSpecificConfig(2, 3, 48000, 2, specific_config=b"\x80", specific_config_bits=1)
    with pytest.raises(CodecError, match=r"type 42 can only signal SBR explicitly$"):
        AudioSpecificConfig(42, 3, 48000, 2, sbr=SbrSignaling(False, False))
    with pytest.raises(CodecError, match=r"layerNr 1 for audio object type 2 \(only AAC"):
        AudioSpecificConfig(2, 3, 48000, 2, layer_nr=1)
    with pytest.raises(CodecError, match=r"coreCoderDelay 16384 does not fit 14 bits$"):
        AudioSpecificConfig(2, 3, 48000, 2, core_coder_delay=1 << 14)
    with pytest.raises(CodecError, match=r"does not hold exactly 3 bits, zero-padded$"):
        AudioSpecificConfig(42, 3, 48000, 2, specific_config=b"\xff", specific_config_bits=3)


ADTS_WITH_CRC = from_bits(
    "111111111111", "1", "00", "0",  # syncword, MPEG-2, layer, protection present
    "01", "0011", "1", "010", "1", "0", "1", "0",  # LC, 48 kHz, private, stereo, flags
    f"{9 + 3:013b}", f"{0x123:011b}", "00",  # frame length, fullness, one block
    f"{0xBEEF:016b}",  # crc_check
) + b"abc"  # fmt: skip


def test_adts_with_crc():
    header = AdtsHeader.parse(ADTS_WITH_CRC)
    assert (header.mpeg2, header.protection_absent, header.crc_check) == (True, False, 0xBEEF)
    assert (header.private_bit, header.original_copy, header.home) == (True, True, False)
    assert (header.copyright_identification_bit, header.copyright_identification_start) == (
        True,
        False,
    )
    assert (header.header_length, header.frame_length, header.buffer_fullness) == (9, 12, 0x123)
    assert header.serialize() == ADTS_WITH_CRC[:9]
    assert list(split_adts(ADTS_WITH_CRC * 2)) == [(header, b"abc")] * 2


@pytest.mark.parametrize(
    ("length", "message"),
    [
        (0, "truncated while reading syncword"),
        (2, "truncated while reading profile_ObjectType"),
        (3, "truncated while reading channel_configuration"),
        (4, "truncated while reading aac_frame_length"),
        (5, "truncated while reading aac_frame_length"),
        (6, "truncated while reading adts_buffer_fullness"),
        (7, "truncated while reading crc_check"),
        (8, "truncated while reading crc_check"),
    ],
)
def test_adts_truncation_messages(length, message):
    with pytest.raises(CodecError, match=rf"^ADTS: {message}$"):
        AdtsHeader.parse(ADTS_WITH_CRC[:length])


def test_adts_errors():
    with pytest.raises(CodecError, match=r"^ADTS: syncword 0xFF7, expected 0xFFF$"):
        AdtsHeader.parse(b"\xff\x71" + ADTS_WITH_CRC[2:])
    with pytest.raises(CodecError, match=r"^ADTS: layer 2, expected 0$"):
        AdtsHeader.parse(b"\xff\xfc" + ADTS_WITH_CRC[2:])
    with pytest.raises(CodecError, match=r"^ADTS: sampling_frequency_index 13 is reserved$"):
        AdtsHeader.parse(ADTS_WITH_CRC[:2] + b"\x74" + ADTS_WITH_CRC[3:])
    header = AdtsHeader.build(AudioSpecificConfig.create(48000, 2), 0).serialize()
    assert header == from_bits(
        "1" * 12, "0001", "01", "0011", "0010", "0000", f"{7:013b}", "1" * 11, "00"
    )
    short = from_bits("1" * 12, "0001", "01", "0011", "0010", "0000", f"{6:013b}", "1" * 11, "00")
    with pytest.raises(CodecError, match=r"^ADTS: aac_frame_length 6 is outside 7\.\.8191$"):
        AdtsHeader.parse(short)
    with pytest.raises(CodecError, match=r"^ADTS: frame of 12 bytes at offset 12 overruns"):
        list(split_adts(ADTS_WITH_CRC + ADTS_WITH_CRC[:11]))


def test_adts_build_rejects_what_adts_cannot_say():
    with pytest.raises(CodecError, match=r"^ADTS: sample rate 7000 has no frequency index$"):
        adts_frame(AudioSpecificConfig.create(7000, 2), b"x")
    with pytest.raises(CodecError, match=r"^ADTS: audio object type 6 does not fit profile$"):
        adts_frame(AudioSpecificConfig.create(48000, 2, object_type=6), b"x")
    with pytest.raises(CodecError, match=r"^ADTS: channelConfiguration 11 exceeds 7$"):
        adts_frame(AudioSpecificConfig.create(48000, 11), b"x")
    with pytest.raises(CodecError, match=r"^ADTS: aac_frame_length 8192 is outside 7\.\.8191$"):
        adts_frame(AudioSpecificConfig.create(48000, 2), bytes(8185))


def test_adts_for_he_aac_carries_the_core():
    asc = AudioSpecificConfig.parse(bytes.fromhex("2b118800"))
    header = AdtsHeader.parse(adts_frame(asc, b"\x00" * 10))
    assert (header.profile, header.sample_rate, header.channel_configuration) == (1, 24000, 2)


frequencies = st.one_of(
    st.integers(0, 12).map(lambda i: (i, SAMPLING_FREQUENCIES[i])),
    st.integers(1, 2**24 - 1).map(lambda rate: (15, rate)),
)


@st.composite
def sbr_signalings(draw):
    explicit = draw(st.booleans())
    sbr_present = explicit or draw(st.booleans())
    if not sbr_present:
        return SbrSignaling(False, False)
    ps_present = draw(st.booleans() if explicit else st.sampled_from([None, False, True]))
    return SbrSignaling(explicit, True, ps_present, *draw(frequencies))


@st.composite
def configs(draw):
    sbr = draw(st.none() | sbr_signalings())
    index, rate = draw(frequencies)
    if draw(st.booleans()):
        object_type = draw(st.sampled_from([1, 2, 3, 4, 6, 7]))
        return AudioSpecificConfig(
            object_type,
            index,
            rate,
            draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14])),
            draw(st.booleans()),
            draw(st.none() | st.integers(0, 2**14 - 1)),
            draw(st.integers(0, 7)) if object_type == 6 else 0,
            sbr,
        )
    object_type = draw(st.integers(8, 95).filter(lambda t: t not in (29, 31)))
    bits = draw(st.integers(0, 40))
    value = draw(st.integers(0, 2**bits - 1))
    pad = -bits % 8
    return AudioSpecificConfig(
        object_type,
        index,
        rate,
        draw(st.integers(0, 15)),
        sbr=sbr if sbr is not None and sbr.explicit else None,
        specific_config=(value << pad).to_bytes((bits + pad) // 8, "big"),
        specific_config_bits=bits,
    )


@settings(max_examples=300)
@given(configs())
def test_asc_round_trip(asc):
    data = asc.serialize()
    parsed = AudioSpecificConfig.parse(data)
    assert parsed.serialize() == data
    if asc.object_type in (1, 2, 3, 4, 6, 7):
        assert parsed == asc
    else:
        # An opaque config takes every bit left, the padding of the last byte included.
        assert replace(parsed, specific_config=b"", specific_config_bits=0) == replace(
            asc, specific_config=b"", specific_config_bits=0
        )
        pad = parsed.specific_config_bits - asc.specific_config_bits
        assert 0 <= pad < 8


@settings(max_examples=300)
@given(st.binary(max_size=12))
def test_asc_parse_any_bytes(data):
    try:
        asc = AudioSpecificConfig.parse(data)
    except CodecError:
        return
    assert AudioSpecificConfig.parse(asc.serialize()) == asc


adts_headers = st.builds(
    AdtsHeader,
    st.booleans(),
    st.just(True),
    st.integers(0, 3),
    st.integers(0, 12),
    st.booleans(),
    st.integers(0, 7),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(7, 8191),
    st.integers(0, 2047),
    st.integers(0, 3),
)


@settings(max_examples=200)
@given(adts_headers, st.integers(0, 0xFFFF) | st.none())
def test_adts_round_trip(header, crc):
    if crc is not None:
        frame_length = max(header.frame_length, 9)
        header = replace(header, protection_absent=False, crc_check=crc, frame_length=frame_length)
    data = header.serialize()
    assert len(data) == header.header_length
    assert AdtsHeader.parse(data) == header


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_adts_parse_any_bytes(data):
    with contextlib.suppress(CodecError):
        AdtsHeader.parse(data)
    with contextlib.suppress(CodecError):
        list(split_adts(data))
