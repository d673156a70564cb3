import base64
import contextlib
import re
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.codec.bits import BitWriter, escape_rbsp
from wire.codec.errors import CodecError
from wire.codec.h264 import (
    AvcDecoderConfigurationRecord,
    AvcHighProfileExtension,
    H264Pps,
    H264Sps,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


def outcome(parse: Callable[[bytes], object], data: bytes) -> object:
    """What a parser makes of the data: its result, or the message of its CodecError."""
    try:
        return parse(data)
    except CodecError as exc:
        return str(exc)


def write_sps(
    *,
    profile_idc: int = 100,
    constraint_flags: int = 0,
    level_idc: int = 40,
    sps_id: int = 0,
    chroma_format_idc: int = 1,
    separate_colour_plane: bool = False,
    bit_depth_luma: int = 8,
    bit_depth_chroma: int = 8,
    scaling_lists: dict[int, list[int]] | None = None,
    poc_type: int = 0,
    poc_cycle: tuple[int, ...] = (),
    width_in_mbs: int = 120,
    height_in_map_units: int = 68,
    frame_mbs_only: bool = True,
    crop: tuple[int, int, int, int] | None = None,
    timing: tuple[int, int] | None = None,
    full_vui: bool = False,
    hrd: bool = False,
    reorder: int | None = None,
) -> bytes:
    """An SPS NAL unit written field by field (H.264 §7.3.2.1.1), independent of the parser.

    ``scaling_lists`` maps a list index to the delta_scale values written for it, as they are.
    """
    w = BitWriter()
    w.u(8, profile_idc)
    w.u(8, constraint_flags)
    w.u(8, level_idc)
    w.ue(sps_id)
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        w.ue(chroma_format_idc)
        if chroma_format_idc == 3:
            w.flag(separate_colour_plane)
        w.ue(bit_depth_luma - 8)
        w.ue(bit_depth_chroma - 8)
        w.flag(False)  # qpprime_y_zero_transform_bypass_flag
        w.flag(scaling_lists is not None)
        if scaling_lists is not None:
            for i in range(12 if chroma_format_idc == 3 else 8):
                w.flag(i in scaling_lists)
                for delta in scaling_lists.get(i, []):
                    w.se(delta)
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(poc_type)
    if poc_type == 0:
        w.ue(2)
    elif poc_type == 1:
        w.flag(False)
        w.se(-3)
        w.se(5)
        w.ue(len(poc_cycle))
        for offset in poc_cycle:
            w.se(offset)
    w.ue(2)  # max_num_ref_frames
    w.flag(False)  # gaps_in_frame_num_value_allowed_flag
    w.ue(width_in_mbs - 1)
    w.ue(height_in_map_units - 1)
    w.flag(frame_mbs_only)
    if not frame_mbs_only:
        w.flag(True)  # mb_adaptive_frame_field_flag
    w.flag(True)  # direct_8x8_inference_flag
    w.flag(crop is not None)
    for offset in crop or ():
        w.ue(offset)
    vui = timing is not None or full_vui or hrd or reorder is not None
    w.flag(vui)
    if vui:
        w.flag(full_vui)  # aspect_ratio_info_present_flag
        if full_vui:
            w.u(8, 255)
            w.u(16, 4)
            w.u(16, 3)
        w.flag(full_vui)  # overscan_info_present_flag
        if full_vui:
            w.flag(True)
        w.flag(full_vui)  # video_signal_type_present_flag
        if full_vui:
            w.u(3, 5)
            w.flag(False)
            w.flag(True)
            w.u(24, 0x010101)
        w.flag(full_vui)  # chroma_loc_info_present_flag
        if full_vui:
            w.ue(1)
            w.ue(1)
        w.flag(timing is not None)
        if timing is not None:
            w.u(32, timing[0])
            w.u(32, timing[1])
            w.flag(True)
        for _ in ("nal", "vcl"):
            w.flag(hrd)  # nal_ and vcl_hrd_parameters_present_flag
            if hrd:
                w.ue(1)  # cpb_cnt_minus1
                w.u(4, 2)  # bit_rate_scale
                w.u(4, 3)  # cpb_size_scale
                for value in (1000, 3000):
                    w.ue(value)  # bit_rate_value_minus1
                    w.ue(2 * value)  # cpb_size_value_minus1
                    w.flag(value == 1000)  # cbr_flag
                w.u(5, 23)  # initial_cpb_removal_delay_length_minus1
                w.u(5, 23)  # cpb_removal_delay_length_minus1
                w.u(5, 23)  # dpb_output_delay_length_minus1
                w.u(5, 24)  # time_offset_length
        if hrd:
            w.flag(False)  # low_delay_hrd_flag
        w.flag(hrd)  # pic_struct_present_flag
        w.flag(reorder is not None)  # bitstream_restriction_flag
        if reorder is not None:
            w.flag(True)  # motion_vectors_over_pic_boundaries_flag
            w.ue(2)  # max_bytes_per_pic_denom
            w.ue(1)  # max_bits_per_mb_denom
            w.ue(16)  # log2_max_mv_length_horizontal
            w.ue(15)  # log2_max_mv_length_vertical
            w.ue(reorder)  # max_num_reorder_frames
            w.ue(min(reorder + 2, 16))  # max_dec_frame_buffering
    w.rbsp_trailing_bits()
    return b"\x67" + escape_rbsp(w.to_bytes())


# name: (profile_idc, constraint byte, level_idc, width, height, profile name, codec string,
#        chroma_format_idc, frame_mbs_only, frame_crop_bottom_offset)
FIXTURES = {
    "h264_baseline_320x240_avcc": (
        66, 0xC0, 13, 320, 240, "Constrained Baseline", "avc1.42c00d", 1, True, 0,
    ),
    "h264_main_640x360_avcc": (77, 0x40, 30, 640, 360, "Main", "avc1.4d401e", 1, True, 4),
    "h264_high_1280x720_avcc": (100, 0, 31, 1280, 720, "High", "avc1.64001f", 1, True, 0),
    "h264_high_1920x1080_avcc": (100, 0, 40, 1920, 1080, "High", "avc1.640028", 1, True, 4),
    "h264_high_interlaced_720x576_avcc": (
        100, 0, 30, 720, 576, "High", "avc1.64001e", 1, False, 0,
    ),
    "h264_high422_1920x1080_avcc": (
        122, 0, 40, 1920, 1080, "High 4:2:2", "avc1.7a0028", 2, True, 8,
    ),
    "h264_high444_352x288_avcc": (
        244, 0, 13, 352, 288, "High 4:4:4 Predictive", "avc1.f4000d", 3, True, 0,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_x264_sps(name):
    profile, constraints, level, width, height, profile_name, codec, chroma, progressive, crop = (
        FIXTURES[name]
    )
    record = AvcDecoderConfigurationRecord.parse(load(name))
    sps = H264Sps.parse(record.sps[0])
    assert (sps.profile_idc, sps.constraint_flags, sps.level_idc) == (profile, constraints, level)
    assert (sps.width, sps.height) == (width, height)
    assert sps.profile_name == profile_name
    assert sps.codec_string == codec == record.codec_string
    assert sps.chroma_format_idc == chroma
    assert sps.frame_mbs_only is progressive
    assert sps.frame_crop_bottom_offset == crop
    assert (sps.bit_depth_luma, sps.bit_depth_chroma) == (8, 8)
    assert (sps.num_units_in_tick, sps.time_scale) == (1, 50)
    # x264 marks the frame rate fixed only for progressive coding.
    assert sps.fixed_frame_rate is progressive
    assert sps.fps == 25


def test_interlaced_sps_counts_map_units_as_macroblock_pairs():
    sps = H264Sps.parse(AvcDecoderConfigurationRecord.parse(load(
        "h264_high_interlaced_720x576_avcc")).sps[0])  # fmt: skip
    assert sps.pic_height_in_map_units == 18
    assert sps.frame_height_in_mbs == 36


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_x264_pps(name):
    record = AvcDecoderConfigurationRecord.parse(load(name))
    pps = H264Pps.parse(record.pps[0])
    assert (pps.pic_parameter_set_id, pps.seq_parameter_set_id) == (0, 0)
    # Baseline has no CABAC; x264 uses it for every other profile.
    assert pps.entropy_coding_mode is (FIXTURES[name][0] != 66)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_avcc_from_ffmpeg(name):
    data = load(name)
    record = AvcDecoderConfigurationRecord.parse(data)
    assert record.length_size == 4
    assert (len(record.sps), len(record.pps)) == (1, 1)
    profile, constraints, level, *_, chroma, _, _ = FIXTURES[name]
    assert (record.profile_idc, record.profile_compatibility, record.level_idc) == (
        profile,
        constraints,
        level,
    )
    if profile in (66, 77):
        assert record.high_profile is None
    else:
        assert record.high_profile == AvcHighProfileExtension(chroma, 8, 8, ())
    assert record.serialize() == data


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_avcc_build_matches_ffmpeg_byte_for_byte(name):
    data = load(name)
    parsed = AvcDecoderConfigurationRecord.parse(data)
    built = AvcDecoderConfigurationRecord.build(parsed.sps, parsed.pps)
    assert built == parsed
    assert built.serialize() == data
    assert AvcDecoderConfigurationRecord.parse(built.serialize()).serialize() == data


def test_avcc_build_options():
    parsed = AvcDecoderConfigurationRecord.parse(load("h264_high_1920x1080_avcc"))
    ext = bytes([0x6D, 0x00, 0x00])
    built = AvcDecoderConfigurationRecord.build(
        parsed.sps, parsed.pps, length_size=2, sps_ext_list=[ext]
    )
    data = built.serialize()
    assert data[4] == 0xFD
    assert data.endswith(b"\xfd\xf8\xf8\x01\x00\x03" + ext)
    assert AvcDecoderConfigurationRecord.parse(data) == built
    assert built.high_profile is not None
    assert built.high_profile.sps_ext == (ext,)


def test_avcc_build_rejects():
    main = AvcDecoderConfigurationRecord.parse(load("h264_main_640x360_avcc"))
    with pytest.raises(CodecError, match=r"^avcC: at least one SPS is needed$"):
        AvcDecoderConfigurationRecord.build([], main.pps)
    with pytest.raises(CodecError, match=r"^PPS: NAL unit type 7 is not 8$"):
        AvcDecoderConfigurationRecord.build(main.sps, main.sps)
    with pytest.raises(CodecError, match=r"^avcC: profile 77 has no SPS extension list$"):
        AvcDecoderConfigurationRecord.build(main.sps, main.pps, sps_ext_list=[b"\x6d"])
    with pytest.raises(CodecError, match=r"^avcC: length size 3 is not 1, 2 or 4$"):
        AvcDecoderConfigurationRecord.build(main.sps, main.pps, length_size=3)
    high = AvcDecoderConfigurationRecord.parse(load("h264_high_1280x720_avcc"))
    with pytest.raises(CodecError, match=r"^avcC: 68 is not an SPS extension$"):
        AvcDecoderConfigurationRecord.build(high.sps, high.pps, sps_ext_list=high.pps)
    with pytest.raises(CodecError, match=r"^avcC: empty is not an SPS extension$"):
        AvcDecoderConfigurationRecord.build(high.sps, high.pps, sps_ext_list=[b""])
    with pytest.raises(CodecError, match=r"^avcC: 32 SPS NAL units, at most 31 fit$"):
        AvcDecoderConfigurationRecord.build(main.sps * 32, main.pps)


def test_avcc_without_high_profile_extension_round_trips():
    """Older writers stop after the PPS list even for High; the record keeps that shape."""
    data = load("h264_high_1280x720_avcc")
    trimmed = data[:-4]
    record = AvcDecoderConfigurationRecord.parse(trimmed)
    assert record.high_profile is None
    assert record.serialize() == trimmed


def test_avcc_rejects_bad_header():
    data = load("h264_main_640x360_avcc")
    with pytest.raises(CodecError, match=r"^avcC: configurationVersion 0, expected 1$"):
        AvcDecoderConfigurationRecord.parse(b"\x00" + data[1:])
    with pytest.raises(CodecError, match=r"^avcC: lengthSizeMinusOne 2 is not allowed"):
        AvcDecoderConfigurationRecord.parse(data[:4] + b"\xfe" + data[5:])


def test_avcc_ignores_trailing_data():
    for name in FIXTURES:
        data = load(name)
        assert AvcDecoderConfigurationRecord.parse(data + b"\x00\xffjunk").serialize() == data


@pytest.mark.parametrize(
    ("length", "field"),
    [
        (0, "configurationVersion"),
        (1, "AVCProfileIndication"),
        (2, "profile_compatibility"),
        (3, "AVCLevelIndication"),
        (4, "lengthSizeMinusOne"),
        (5, "numOfSequenceParameterSets"),
        (6, "sequenceParameterSetLength"),
        (7, "sequenceParameterSetLength"),
        (8, "sequenceParameterSetNALUnit"),
        (33, "sequenceParameterSetNALUnit"),
        (34, "numOfPictureParameterSets"),
        (35, "pictureParameterSetLength"),
        (37, "pictureParameterSetNALUnit"),
        (42, "pictureParameterSetNALUnit"),
        (44, "bit_depth_luma_minus8"),
        (45, "bit_depth_chroma_minus8"),
        (46, "numOfSequenceParameterSetExt"),
    ],
)
def test_avcc_truncation_messages(length, field):
    data = load("h264_high_1920x1080_avcc")
    assert len(data) == 6 + 2 + 26 + 1 + 2 + 6 + 4  # SPS of 26 bytes, PPS of 6, extension
    with pytest.raises(CodecError, match=rf"^avcC: truncated while reading {field}$"):
        AvcDecoderConfigurationRecord.parse(data[:length])


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_avcc_fed_one_byte_at_a_time(name):
    data = load(name)
    full = AvcDecoderConfigurationRecord.parse(data)
    end_of_pps = 6 + 2 + len(full.sps[0]) + 1 + 2 + len(full.pps[0])
    for length in range(len(data)):
        prefix = data[:length]
        if length == end_of_pps:
            assert AvcDecoderConfigurationRecord.parse(prefix).high_profile is None
            continue
        with pytest.raises(CodecError, match=r"^avcC: truncated while reading \w+$"):
            AvcDecoderConfigurationRecord.parse(prefix)


def test_sps_truncation_messages():
    sps = AvcDecoderConfigurationRecord.parse(load("h264_high_1920x1080_avcc")).sps[0]
    expected = {
        0: "SPS: empty NAL unit",
        1: "SPS: truncated while reading profile_idc",
        2: "SPS: truncated while reading constraint_set_flags",
        3: "SPS: truncated while reading level_idc",
        4: "SPS: truncated while reading seq_parameter_set_id",
    }
    for length, message in expected.items():
        with pytest.raises(CodecError, match=rf"^{message}$"):
            H264Sps.parse(sps[:length])


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_sps_fed_one_byte_at_a_time(name):
    nal = AvcDecoderConfigurationRecord.parse(load(name)).sps[0]
    full = H264Sps.parse(nal)
    parsed_from = None
    for length in range(1, len(nal)):
        result = outcome(H264Sps.parse, nal[:length])
        if isinstance(result, str):
            assert result.startswith("SPS: truncated while reading ")
            assert parsed_from is None, "a longer prefix failed after a shorter one parsed"
        else:
            # Cut in the bitstream restriction: everything but the reorder depth is known.
            assert isinstance(result, H264Sps)
            assert result.max_num_reorder_frames in (None, full.max_num_reorder_frames)
            assert replace(result, max_num_reorder_frames=full.max_num_reorder_frames) == full
            parsed_from = parsed_from or length
    assert outcome(H264Sps.parse, nal) == full
    # The fields kept end with the VUI timing, 9 bytes of which x264 puts near the end.
    assert parsed_from is not None
    assert parsed_from > len(nal) - 12


def test_sps_ignores_trailing_data():
    nal = AvcDecoderConfigurationRecord.parse(load("h264_high_1280x720_avcc")).sps[0]
    assert H264Sps.parse(nal + b"\x00\x00\x03\xffjunk") == H264Sps.parse(nal)


def test_sps_header_checks():
    with pytest.raises(CodecError, match=r"^SPS: NAL unit type 8 is not 7$"):
        H264Sps.parse(b"\x68\xce\x38\x80")
    with pytest.raises(CodecError, match=r"^SPS: forbidden_zero_bit is set$"):
        H264Sps.parse(b"\xe7\x42\x00\x1e")
    with pytest.raises(CodecError, match=r"^PPS: empty NAL unit$"):
        H264Pps.parse(b"")


def test_sps_with_scaling_matrices():
    lists = {
        0: [1] * 16,  # every entry coded
        1: [-8],  # nextScale 0 at once: the default matrix, one delta only
        5: [3, 3, 3, -17],  # reaches 0 after four deltas, the rest repeat the last value
        6: [2] * 64,
        7: [-8],
    }
    nal = write_sps(scaling_lists=lists, crop=(0, 0, 0, 4), timing=(1001, 60000))
    sps = H264Sps.parse(nal)
    assert (sps.width, sps.height) == (1920, 1080)
    assert sps.fps == Fraction(30000, 1001)


def test_sps_with_scaling_matrices_for_444():
    lists = {i: [1, -9] for i in range(12)}
    nal = write_sps(
        profile_idc=244, chroma_format_idc=3, scaling_lists=lists, bit_depth_luma=10,
        bit_depth_chroma=12, width_in_mbs=22, height_in_map_units=18, crop=(1, 1, 2, 2),
        timing=(1, 60),
    )  # fmt: skip
    sps = H264Sps.parse(nal)
    assert (sps.bit_depth_luma, sps.bit_depth_chroma) == (10, 12)
    # 4:4:4 crops in single samples.
    assert (sps.width, sps.height) == (350, 284)
    assert sps.fps == 30


def test_sps_rejects_out_of_range_delta_scale():
    with pytest.raises(CodecError, match=r"^SPS: delta_scale 200 out of range$"):
        H264Sps.parse(write_sps(scaling_lists={0: [200]}))


def test_sps_pic_order_cnt_type_1_and_full_vui():
    nal = write_sps(
        profile_idc=77, poc_type=1, poc_cycle=(-1, 2, -3), timing=(1, 50), full_vui=True
    )
    sps = H264Sps.parse(nal)
    assert sps.pic_order_cnt_type == 1
    assert sps.fps == 25
    assert sps.chroma_format_idc == 1


@pytest.mark.parametrize("hrd", [False, True])
@pytest.mark.parametrize("timing", [None, (1001, 60000)])
@pytest.mark.parametrize("reorder", [None, 0, 1, 2, 16])
def test_max_num_reorder_frames_from_the_bitstream_restriction(
    reorder: int | None, timing: tuple[int, int] | None, hrd: bool
) -> None:
    sps = H264Sps.parse(write_sps(timing=timing, hrd=hrd, reorder=reorder, full_vui=hrd))
    assert sps.max_num_reorder_frames == reorder
    assert sps.fps == (None if timing is None else Fraction(60000, 2002))


def test_a_vui_cut_short_after_the_timing_still_gives_the_timing() -> None:
    whole = write_sps(timing=(1, 50), reorder=2)
    cut = whole[:-4]  # somewhere in the bitstream restriction, as truncated sprops are
    sps = H264Sps.parse(cut)
    assert sps.fps == 25
    assert sps.max_num_reorder_frames is None
    assert H264Sps.parse(whole).max_num_reorder_frames == 2


def test_field_coding_crops_in_pairs_of_lines():
    # 1920x1080i: 34 map units of 32 lines, cropped by 2 units of 4 lines (4:2:0, two fields).
    nal = write_sps(height_in_map_units=34, frame_mbs_only=False, crop=(0, 0, 0, 2))
    sps = H264Sps.parse(nal)
    assert (sps.width, sps.height) == (1920, 1080)
    assert sps.fps is None


def test_monochrome_crop_units():
    nal = write_sps(chroma_format_idc=0, width_in_mbs=2, height_in_map_units=2, crop=(1, 2, 3, 4))
    sps = H264Sps.parse(nal)
    assert (sps.width, sps.height) == (29, 25)


def test_sps_rejects_crop_beyond_picture():
    nal = write_sps(width_in_mbs=1, height_in_map_units=1, crop=(4, 4, 0, 0))
    with pytest.raises(CodecError, match=r"^SPS: frame cropping \(4, 4, 0, 0\) leaves no picture"):
        H264Sps.parse(nal)


def test_sps_rejects_out_of_range_values():
    with pytest.raises(CodecError, match=r"^SPS: seq_parameter_set_id 32 exceeds 31$"):
        H264Sps.parse(write_sps(sps_id=32))
    with pytest.raises(CodecError, match=r"^SPS: pic_order_cnt_type 3 exceeds 2$"):
        H264Sps.parse(write_sps(poc_type=3))
    with pytest.raises(CodecError, match=r"^SPS: bit_depth_luma_minus8 7 exceeds 6$"):
        H264Sps.parse(write_sps(bit_depth_luma=15))


def test_zero_timing_gives_no_fps():
    assert H264Sps.parse(write_sps(timing=(0, 50))).fps is None
    assert H264Sps.parse(write_sps(timing=(1, 0))).fps is None


@pytest.mark.parametrize(
    ("profile_idc", "constraint_flags", "name"),
    [
        (66, 0x00, "Baseline"),
        (66, 0x40, "Constrained Baseline"),
        (88, 0x00, "Extended"),
        (100, 0x08, "Progressive High"),
        (100, 0x0C, "Constrained High"),
        (110, 0x00, "High 10"),
        (110, 0x10, "High 10 Intra"),
        (122, 0x10, "High 4:2:2 Intra"),
        (244, 0x10, "High 4:4:4 Intra"),
        (44, 0x00, "CAVLC 4:4:4 Intra"),
        (118, 0x00, "Multiview High"),
        (7, 0x00, "profile 7"),
    ],
)
def test_profile_names(profile_idc, constraint_flags, name):
    sps = H264Sps.parse(write_sps(profile_idc=profile_idc, constraint_flags=constraint_flags))
    assert sps.profile_name == name


def test_real_camera_sprop_parameter_sets(shared_dir):
    """The SPS/PPS a real IP camera announced in its SDP."""
    capture = (shared_dir / "captures" / "camera-h264-udp-digest.pcapng").read_bytes()
    match = re.search(rb"sprop-parameter-sets=([A-Za-z0-9+/=]+),([A-Za-z0-9+/=]+)", capture)
    assert match is not None
    sps_nal, pps_nal = (base64.b64decode(group) for group in match.groups())
    sps = H264Sps.parse(sps_nal)
    assert (sps.profile_idc, sps.level_idc, sps.profile_name) == (77, 40, "Main")
    assert (sps.width, sps.height) == (1920, 1080)
    assert (sps.num_units_in_tick, sps.time_scale) == (1000, 50000)
    assert sps.fps == 25
    assert H264Pps.parse(pps_nal).seq_parameter_set_id == 0
    record = AvcDecoderConfigurationRecord.build([sps_nal], [pps_nal])
    assert record.codec_string == "avc1.4d4028"
    assert AvcDecoderConfigurationRecord.parse(record.serialize()) == record


def test_real_rtmp_sequence_header(shared_dir):
    """An avcC from a real RTMP server: High profile, written without the extension."""
    capture = (shared_dir / "captures" / "rtmp-play-h264-aac.pcap").read_bytes()
    at = capture.find(b"\x17\x00\x00\x00\x00\x01\x64")
    assert at > 0
    # The 12-byte chunk header before the FLV tag body ends with length, type and stream id.
    message_length = int.from_bytes(capture[at - 8 : at - 5], "big")
    data = capture[at + 5 : at + message_length]
    record = AvcDecoderConfigurationRecord.parse(data)
    assert record.high_profile is None
    assert record.serialize() == data
    sps = H264Sps.parse(record.sps[0])
    assert (sps.width, sps.height, sps.profile_name, sps.codec_string) == (
        480,
        288,
        "High",
        "avc1.640015",
    )


nal_units = st.binary(min_size=1, max_size=40)


@st.composite
def avcc_records(draw):
    profile_idc = draw(st.sampled_from([66, 77, 88, 100, 110, 122, 244, 44]))
    high_profile = None
    if profile_idc not in (66, 77, 88) and draw(st.booleans()):
        high_profile = AvcHighProfileExtension(
            draw(st.integers(0, 3)),
            draw(st.integers(8, 15)),
            draw(st.integers(8, 15)),
            tuple(draw(st.lists(nal_units, max_size=3))),
        )
    return AvcDecoderConfigurationRecord(
        profile_idc,
        draw(st.integers(0, 255)),
        draw(st.integers(0, 255)),
        tuple(draw(st.lists(nal_units, max_size=4))),
        tuple(draw(st.lists(nal_units, max_size=4))),
        draw(st.sampled_from([1, 2, 4])),
        high_profile,
    )


@settings(max_examples=200)
@given(avcc_records())
def test_avcc_round_trip(record):
    data = record.serialize()
    assert AvcDecoderConfigurationRecord.parse(data) == record
    assert AvcDecoderConfigurationRecord.parse(data).serialize() == data


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_avcc_parse_any_bytes(data):
    try:
        record = AvcDecoderConfigurationRecord.parse(data)
    except CodecError:
        return
    assert AvcDecoderConfigurationRecord.parse(record.serialize()) == record


@settings(max_examples=300)
@given(st.binary(max_size=48), st.sampled_from([b"\x67\x64", b"\x67\x42", b"\x67\xf4", b""]))
def test_sps_parse_any_bytes(data, head):
    try:
        sps = H264Sps.parse(head + data)
    except CodecError:
        return
    assert sps.width > 0
    assert sps.height > 0
    assert sps.codec_string.startswith("avc1.")


@settings(max_examples=200)
@given(st.binary(max_size=16))
def test_pps_parse_any_bytes(data):
    with contextlib.suppress(CodecError):
        H264Pps.parse(b"\x68" + data)


DEEP_SPS = [
    AvcDecoderConfigurationRecord.parse(load("h264_high444_352x288_avcc")).sps[0],
    AvcDecoderConfigurationRecord.parse(load("h264_high_interlaced_720x576_avcc")).sps[0],
    write_sps(scaling_lists={0: [1] * 16, 6: [2] * 64}, poc_type=1, poc_cycle=(1, -1),
              crop=(0, 0, 0, 4), timing=(1, 50), full_vui=True),
]  # fmt: skip


@settings(max_examples=300)
@given(st.sampled_from(DEEP_SPS), st.data())
def test_sps_cut_anywhere_and_followed_by_noise(nal, data):
    head = nal[: data.draw(st.integers(1, len(nal)))]
    with contextlib.suppress(CodecError):
        H264Sps.parse(head + data.draw(st.binary(max_size=16)))
