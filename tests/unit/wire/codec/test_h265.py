import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.registry import cpu_limit
from wire.codec.bits import BitWriter, escape_rbsp
from wire.codec.errors import CodecError
from wire.codec.h265 import (
    PARALLELISM_MIXED,
    PARALLELISM_SLICE,
    PARALLELISM_TILE,
    PARALLELISM_WAVEFRONT,
    H265Pps,
    H265Sps,
    H265Vps,
    HevcDecoderConfigurationRecord,
    HvccArray,
    ProfileTierLevel,
    ShortTermRps,
)
from wire.codec.nal import H265_NAL_PPS, H265_NAL_PREFIX_SEI, H265_NAL_SPS, H265_NAL_VPS

DATA = Path(__file__).parent / "data"


def load(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


def outcome(parse: Callable[[bytes], object], data: bytes) -> object:
    """What a parser makes of the data: its result, or the message of its CodecError."""
    try:
        return parse(data)
    except CodecError as exc:
        return str(exc)


def fixture_sets(name: str) -> tuple[bytes, bytes, bytes]:
    record = HevcDecoderConfigurationRecord.parse(load(name))
    (vps,) = record.nal_units(H265_NAL_VPS)
    (sps,) = record.nal_units(H265_NAL_SPS)
    (pps,) = record.nal_units(H265_NAL_PPS)
    return vps, sps, pps


# name: (width, height, profile name, codec string, chroma_format_idc, bit depth,
#        sub-layers, array_completeness, SEI count)
FIXTURES = {
    "h265_main_1280x720_hvcc": (1280, 720, "Main", "hvc1.1.6.L93.90", 1, 8, 1, True, 1),
    "h265_main_1920x1080_hvcc": (1920, 1080, "Main", "hvc1.1.6.L120.90", 1, 8, 1, True, 1),
    "h265_main_426x240_hev1_hvcc": (426, 240, "Main", "hvc1.1.6.L60.90", 1, 8, 1, False, 1),
    "h265_main10_640x360_hvcc": (640, 360, "Main 10", "hvc1.2.4.L63.90", 1, 10, 1, True, 1),
    "h265_main444_640x360_hvcc": (
        640, 360, "Range Extensions", "hvc1.4.10.L63.9E.8", 3, 8, 1, True, 1,
    ),
    "h265_hrd_640x360_hvcc": (640, 360, "Main", "hvc1.1.6.L63.90", 1, 8, 1, True, 2),
    "h265_temporal_layers_640x360_hvcc": (
        640, 360, "Main", "hvc1.1.6.L63.90", 1, 8, 3, True, 1,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_x265_parameter_sets(name):
    width, height, profile, codec, chroma, depth, sub_layers, _, _ = FIXTURES[name]
    vps_nal, sps_nal, pps_nal = fixture_sets(name)
    sps = H265Sps.parse(sps_nal)
    assert (sps.width, sps.height) == (width, height)
    assert sps.profile_name == profile
    assert sps.codec_string == codec
    assert sps.chroma_format_idc == chroma
    assert (sps.bit_depth_luma, sps.bit_depth_chroma) == (depth, depth)
    assert sps.max_sub_layers == sub_layers
    assert (sps.num_units_in_tick, sps.time_scale) == (1, 25)
    assert sps.fps == 25
    assert sps.min_spatial_segmentation_idc == 0
    vps = H265Vps.parse(vps_nal)
    assert vps.profile_tier_level == sps.profile_tier_level
    assert vps.fps is None  # x265 times the stream in the SPS VUI only
    assert (vps.vps_id, vps.max_sub_layers, vps.temporal_id_nesting) == (
        0,
        sub_layers,
        sub_layers == 1,
    )
    pps = H265Pps.parse(pps_nal)
    assert (pps.pps_id, pps.sps_id) == (0, 0)
    # x265 enables wavefront parallel processing (--wpp) by default.
    assert (pps.tiles_enabled, pps.entropy_coding_sync_enabled) == (False, True)
    assert pps.parallelism_type == PARALLELISM_WAVEFRONT


def test_conformance_window_of_odd_width():
    sps = H265Sps.parse(fixture_sets("h265_main_426x240_hev1_hvcc")[1])
    assert (sps.pic_width_in_luma_samples, sps.conf_win_right_offset) == (432, 3)
    assert sps.width == 432 - 2 * 3


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_hvcc_from_ffmpeg(name):
    data = load(name)
    record = HevcDecoderConfigurationRecord.parse(data)
    *_, chroma, depth, sub_layers, complete, sei_count = FIXTURES[name]
    assert (record.chroma_format_idc, record.bit_depth_luma, record.bit_depth_chroma) == (
        chroma,
        depth,
        depth,
    )
    assert (record.num_temporal_layers, record.temporal_id_nested) == (sub_layers, sub_layers == 1)
    assert (record.min_spatial_segmentation_idc, record.parallelism_type) == (0, 0)
    assert (record.avg_frame_rate, record.constant_frame_rate, record.length_size) == (0, 0, 4)
    assert [(a.array_completeness, a.nal_unit_type, len(a.nal_units)) for a in record.arrays] == [
        (complete, H265_NAL_VPS, 1),
        (complete, H265_NAL_SPS, 1),
        (complete, H265_NAL_PPS, 1),
        (False, H265_NAL_PREFIX_SEI, sei_count),
    ]
    assert record.codec_string == FIXTURES[name][3]
    assert record.serialize() == data


def test_hvcc_with_large_nal_units_is_read_in_linear_time():
    # Found by fuzzing: each NAL unit was read one bit at a time, O(n^2): 3.5 s for one 64 kB
    # SEI in an Enhanced RTMP sequence start, 13 s for four.
    record = HevcDecoderConfigurationRecord.parse(load(sorted(FIXTURES)[0]))
    seis = tuple(bytes([H265_NAL_PREFIX_SEI << 1, 1]) + bytes([i]) * 65533 for i in range(4))
    data = replace(record, arrays=(*record.arrays, HvccArray(False, H265_NAL_PREFIX_SEI, seis)))
    serialized = data.serialize()
    with cpu_limit(2.0):
        parsed = HevcDecoderConfigurationRecord.parse(serialized)
    assert parsed.arrays[-1].nal_units == seis
    assert parsed == data


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_hvcc_build_matches_ffmpeg_byte_for_byte(name):
    data = load(name)
    parsed = HevcDecoderConfigurationRecord.parse(data)
    built = HevcDecoderConfigurationRecord.build(
        *([nal] for nal in fixture_sets(name)),
        sei=parsed.nal_units(H265_NAL_PREFIX_SEI),
        array_completeness=FIXTURES[name][7],
    )
    assert built == parsed
    assert built.serialize() == data


def test_hvcc_build_describes_every_sps():
    vps, sps_720, pps = fixture_sets("h265_main_1280x720_hvcc")
    _, sps_1080, _ = fixture_sets("h265_main_1920x1080_hvcc")
    _, sps_main10, _ = fixture_sets("h265_main10_640x360_hvcc")
    record = HevcDecoderConfigurationRecord.build([vps], [sps_720, sps_1080, sps_main10], [pps])
    ptl = record.profile_tier_level
    # Highest level and profile, only the compatibility flags all of them set (Main 10).
    assert (ptl.level_idc, ptl.profile_idc) == (120, 2)
    assert ptl.profile_compatibility_flags == 0x20000000
    assert record.arrays[1].nal_units == (sps_720, sps_1080, sps_main10)
    assert HevcDecoderConfigurationRecord.parse(record.serialize()) == record


def test_hvcc_build_rejects():
    vps, sps, pps = fixture_sets("h265_main_1280x720_hvcc")
    with pytest.raises(CodecError, match=r"^hvcC: at least one VPS, one SPS and one PPS"):
        HevcDecoderConfigurationRecord.build([vps], [sps], [])
    with pytest.raises(CodecError, match=r"^hvcC: the SEI list holds a NAL unit that is not"):
        HevcDecoderConfigurationRecord.build([vps], [sps], [pps], sei=[pps])
    with pytest.raises(CodecError, match=r"^SPS: NAL unit type 32 is not 33$"):
        HevcDecoderConfigurationRecord.build([vps], [vps], [pps])
    with pytest.raises(CodecError, match=r"^hvcC: length size 3 is not 1, 2 or 4$"):
        HevcDecoderConfigurationRecord.build([vps], [sps], [pps], length_size=3)


def test_hvcc_rejects_bad_header():
    data = load("h265_main_1280x720_hvcc")
    with pytest.raises(CodecError, match=r"^hvcC: configurationVersion 0, expected 1$"):
        HevcDecoderConfigurationRecord.parse(b"\x00" + data[1:])
    with pytest.raises(CodecError, match=r"^hvcC: lengthSizeMinusOne 2 is not allowed"):
        HevcDecoderConfigurationRecord.parse(data[:21] + b"\x0e" + data[22:])


@pytest.mark.parametrize(
    ("length", "field"),
    [
        (0, "configurationVersion"),
        (1, "general_profile_space"),
        (2, "general_profile_compatibility_flags"),
        (6, "general_constraint_indicator_flags"),
        (12, "general_level_idc"),
        (13, "min_spatial_segmentation_idc"),
        (14, "min_spatial_segmentation_idc"),
        (15, "parallelismType"),
        (16, "chromaFormat"),
        (17, "bitDepthLumaMinus8"),
        (18, "bitDepthChromaMinus8"),
        (19, "avgFrameRate"),
        (21, "constantFrameRate"),
        (22, "numOfArrays"),
        (23, "array_completeness"),
        (24, "numNalus"),
        (26, "nalUnitLength"),
        (28, "nalUnit"),
    ],
)
def test_hvcc_truncation_messages(length, field):
    data = load("h265_main_1280x720_hvcc")
    with pytest.raises(CodecError, match=rf"^hvcC: truncated while reading {field}$"):
        HevcDecoderConfigurationRecord.parse(data[:length])


def test_hvcc_fed_one_byte_at_a_time():
    data = load("h265_temporal_layers_640x360_hvcc")
    for length in range(len(data)):
        with pytest.raises(CodecError, match=r"^hvcC: truncated while reading \w+$"):
            HevcDecoderConfigurationRecord.parse(data[:length])


def test_hvcc_ignores_trailing_data():
    data = load("h265_main_1920x1080_hvcc")
    assert HevcDecoderConfigurationRecord.parse(data + b"\xff\x00junk").serialize() == data


def test_sps_truncation_messages():
    sps = fixture_sets("h265_main_1920x1080_hvcc")[1]
    expected = {
        1: "SPS: NAL unit shorter than its 2-byte header",
        2: "SPS: truncated while reading sps_video_parameter_set_id",
        3: "SPS: truncated while reading general_profile_space",
        4: "SPS: truncated while reading general_profile_compatibility_flags",
        # Byte 7 is an emulation prevention byte: the eight bytes hold three flag bytes.
        8: "SPS: truncated while reading general_profile_compatibility_flags",
        9: "SPS: truncated while reading general_constraint_indicator_flags",
        17: "SPS: truncated while reading general_level_idc",
        18: "SPS: truncated while reading sps_seq_parameter_set_id",
    }
    assert sps[4:9] == b"\x60\x00\x00\x03\x00"
    for length, message in expected.items():
        with pytest.raises(CodecError, match=rf"^{message}$"):
            H265Sps.parse(sps[:length])


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_parameter_sets_fed_one_byte_at_a_time(name):
    parsers = (H265Vps.parse, H265Sps.parse, H265Pps.parse)
    for nal, parse in zip(fixture_sets(name), parsers, strict=True):
        full = parse(nal)
        parsed_from = None
        for length in range(2, len(nal)):
            result = outcome(parse, nal[:length])
            if isinstance(result, str):
                assert "truncated while " in result
                assert parsed_from is None, "a longer prefix failed after a shorter one parsed"
            else:
                assert result == full
                parsed_from = parsed_from or length
        assert parse(nal + b"\x00\xff") == full


def test_header_checks():
    vps, sps, _ = fixture_sets("h265_main_1280x720_hvcc")
    with pytest.raises(CodecError, match=r"^VPS: NAL unit type 33 is not 32$"):
        H265Vps.parse(sps)
    with pytest.raises(CodecError, match=r"^SPS: forbidden_zero_bit is set$"):
        H265Sps.parse(bytes([sps[0] | 0x80]) + sps[1:])
    with pytest.raises(CodecError, match=r"^SPS: nuh_temporal_id_plus1 is 0$"):
        H265Sps.parse(sps[:1] + b"\x00" + sps[2:])
    with pytest.raises(CodecError, match=r"^SPS: nuh_layer_id 1 \(multi-layer SPS\) is not"):
        H265Sps.parse(sps[:1] + b"\x09" + sps[2:])
    with pytest.raises(CodecError, match=r"^VPS: vps_max_sub_layers_minus1 7 is reserved$"):
        H265Vps.parse(vps[:3] + bytes([vps[3] | 0x0E]) + vps[4:])


@dataclass
class SpsSpec:
    """What :func:`write_sps` writes; the defaults make a plain 1920x1080 Main SPS."""

    sub_layers: int = 1
    sub_layer_present: tuple[tuple[bool, bool], ...] = ()
    chroma_format_idc: int = 1
    width: int = 1920
    height: int = 1088
    window: tuple[int, int, int, int] | None = (0, 0, 0, 4)
    scaling_list_data: bool = False
    pcm: bool = False
    # ("explicit", [(delta_poc_s0_minus1, used)], [(delta_poc_s1_minus1, used)])
    # or ("inter", delta_rps_sign, abs_delta_rps_minus1, [(used_by_curr_pic, use_delta)])
    rps: list[tuple[Any, ...]] = field(default_factory=list)
    long_term: tuple[tuple[int, bool], ...] = ()
    timing: tuple[int, int] | None = None
    full_vui: bool = False
    hrd: bool = False
    min_spatial_segmentation_idc: int | None = None


def write_ptl(w: BitWriter, spec: SpsSpec) -> None:
    w.u(2, 0)
    w.flag(False)
    w.u(5, 1)
    w.u(32, 0x60000000)
    w.u(48, 0xB0 << 40)
    w.u(8, 123)
    for profile_present, level_present in spec.sub_layer_present:
        w.flag(profile_present)
        w.flag(level_present)
    if spec.sub_layers > 1:
        for _ in range(spec.sub_layers - 1, 8):
            w.u(2, 0)
    for profile_present, level_present in spec.sub_layer_present:
        if profile_present:
            w.u(8, 0x01)
            w.u(32, 0x60000000)
            w.u(48, 0x90 << 40)
        if level_present:
            w.u(8, 90)


def write_scaling_list_data(w: BitWriter) -> None:
    for size_id in range(4):
        for matrix_id in range(0, 6, 3 if size_id == 3 else 1):
            predicted = (size_id + matrix_id) % 2 == 0
            w.flag(not predicted)  # scaling_list_pred_mode_flag
            if predicted:
                w.ue(min(matrix_id, 1) if size_id < 3 else matrix_id // 3)
                continue
            if size_id > 1:
                w.se(-3)
            for i in range(min(64, 1 << (4 + 2 * size_id))):
                w.se(1 if i % 2 else -1)


def write_rps(w: BitWriter, index: int, entry: tuple[Any, ...]) -> None:
    if index:
        w.flag(entry[0] == "inter")
    if entry[0] == "inter":
        _, sign, abs_minus1, flags = entry
        w.flag(sign)
        w.ue(abs_minus1)
        for used, use_delta in flags:
            w.flag(used)
            if not used:
                w.flag(use_delta)
        return
    _, s0, s1 = entry
    w.ue(len(s0))
    w.ue(len(s1))
    for delta_minus1, used in (*s0, *s1):
        w.ue(delta_minus1)
        w.flag(used)


def write_hrd(w: BitWriter, sub_layers: int) -> None:
    w.flag(True)  # nal_hrd_parameters_present_flag
    w.flag(True)  # vcl_hrd_parameters_present_flag
    w.flag(True)  # sub_pic_hrd_params_present_flag
    w.u(8, 23)
    w.u(5, 3)
    w.flag(True)
    w.u(5, 7)
    w.u(4, 2)
    w.u(4, 3)
    w.u(4, 1)  # cpb_size_du_scale
    w.u(5, 23)
    w.u(5, 23)
    w.u(5, 23)
    for i in range(sub_layers):
        general = i == 0
        w.flag(general)  # fixed_pic_rate_general_flag
        within = general or i == 1
        if not general:
            w.flag(within)  # fixed_pic_rate_within_cvs_flag
        low_delay = False
        if within:
            w.ue(i)  # elemental_duration_in_tc_minus1
        else:
            low_delay = True
            w.flag(low_delay)
        cpb_count = 1
        if not low_delay:
            cpb_count = 2
            w.ue(cpb_count - 1)
        for _ in range(2):  # NAL and VCL sub_layer_hrd_parameters
            for _ in range(cpb_count):
                for value in (1000, 2000, 300, 400):
                    w.ue(value)
                w.flag(True)


def write_vui(w: BitWriter, spec: SpsSpec) -> None:
    full = spec.full_vui
    w.flag(full)  # aspect_ratio_info_present_flag
    if full:
        w.u(8, 255)
        w.u(16, 4)
        w.u(16, 3)
    w.flag(full)  # overscan_info_present_flag
    if full:
        w.flag(False)
    w.flag(full)  # video_signal_type_present_flag
    if full:
        w.u(3, 5)
        w.flag(True)
        w.flag(True)
        w.u(24, 0x010101)
    w.flag(full)  # chroma_loc_info_present_flag
    if full:
        w.ue(2)
        w.ue(2)
    w.u(3, 0)  # neutral_chroma_indication, field_seq, frame_field_info_present
    w.flag(full)  # default_display_window_flag
    if full:
        for offset in (8, 8, 4, 4):
            w.ue(offset)
    w.flag(spec.timing is not None)
    if spec.timing is not None:
        w.u(32, spec.timing[0])
        w.u(32, spec.timing[1])
        w.flag(full)  # vui_poc_proportional_to_timing_flag
        if full:
            w.ue(0)
        w.flag(spec.hrd)
        if spec.hrd:
            write_hrd(w, spec.sub_layers)
    w.flag(spec.min_spatial_segmentation_idc is not None)
    if spec.min_spatial_segmentation_idc is not None:
        w.u(3, 0b010)
        w.ue(spec.min_spatial_segmentation_idc)
        for value in (2, 1, 15, 15):
            w.ue(value)


def write_sps(spec: SpsSpec) -> bytes:
    """An SPS NAL unit written field by field (H.265 §7.3.2.2.1), independent of the parser."""
    w = BitWriter()
    w.u(4, 0)
    w.u(3, spec.sub_layers - 1)
    w.flag(spec.sub_layers == 1)
    write_ptl(w, spec)
    w.ue(0)  # sps_seq_parameter_set_id
    w.ue(spec.chroma_format_idc)
    if spec.chroma_format_idc == 3:
        w.flag(False)
    w.ue(spec.width)
    w.ue(spec.height)
    w.flag(spec.window is not None)
    for offset in spec.window or ():
        w.ue(offset)
    w.ue(0)  # bit_depth_luma_minus8
    w.ue(0)  # bit_depth_chroma_minus8
    w.ue(4)  # log2_max_pic_order_cnt_lsb_minus4: 8-bit POC LSBs
    w.flag(True)  # sps_sub_layer_ordering_info_present_flag
    for _ in range(spec.sub_layers):
        for value in (4, 2, 0):
            w.ue(value)
    for value in (0, 3, 0, 3, 1, 1):
        w.ue(value)
    w.flag(spec.scaling_list_data)  # scaling_list_enabled_flag
    if spec.scaling_list_data:
        w.flag(True)
        write_scaling_list_data(w)
    w.u(2, 0b11)  # amp_enabled_flag, sample_adaptive_offset_enabled_flag
    w.flag(spec.pcm)
    if spec.pcm:
        w.u(4, 7)
        w.u(4, 7)
        w.ue(0)
        w.ue(1)
        w.flag(False)
    w.ue(len(spec.rps))
    for index, entry in enumerate(spec.rps):
        write_rps(w, index, entry)
    w.flag(bool(spec.long_term))
    if spec.long_term:
        w.ue(len(spec.long_term))
        for lsb, used in spec.long_term:
            w.u(8, lsb)
            w.flag(used)
    w.u(2, 0b11)  # sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
    vui = spec.timing is not None or spec.full_vui or spec.min_spatial_segmentation_idc is not None
    w.flag(vui)
    if vui:
        write_vui(w, spec)
    w.flag(False)  # sps_extension_present_flag
    w.rbsp_trailing_bits()
    return b"\x42\x01" + escape_rbsp(w.to_bytes())


def write_vps(spec: SpsSpec, max_layer_id: int, timing: tuple[int, int] | None) -> bytes:
    """A VPS NAL unit (H.265 §7.3.2.1) with two layer sets and optional timing."""
    w = BitWriter()
    w.u(4, 3)
    w.u(2, 0b11)
    w.u(6, 0)
    w.u(3, spec.sub_layers - 1)
    w.flag(spec.sub_layers == 1)
    w.u(16, 0xFFFF)
    write_ptl(w, spec)
    w.flag(False)  # vps_sub_layer_ordering_info_present_flag: highest sub-layer only
    for value in (4, 2, 0):
        w.ue(value)
    w.u(6, max_layer_id)
    w.ue(1)  # vps_num_layer_sets_minus1
    w.u(max_layer_id + 1, 1)  # layer_id_included_flag[1][j]
    w.flag(timing is not None)
    if timing is not None:
        w.u(32, timing[0])
        w.u(32, timing[1])
        w.flag(False)  # vps_poc_proportional_to_timing_flag
        w.ue(0)  # vps_num_hrd_parameters
    w.flag(False)  # vps_extension_flag
    w.rbsp_trailing_bits()
    return b"\x40\x01" + escape_rbsp(w.to_bytes())


@pytest.mark.parametrize("max_layer_id", [0, 5])
def test_vps_with_layer_sets_and_timing(max_layer_id):
    spec = SpsSpec(sub_layers=2, sub_layer_present=((False, True),))
    vps = H265Vps.parse(write_vps(spec, max_layer_id, (1, 24)))
    assert (vps.vps_id, vps.max_sub_layers, vps.temporal_id_nesting) == (3, 2, False)
    assert vps.profile_tier_level.level_idc == 123
    assert vps.fps == 24
    assert H265Vps.parse(write_vps(spec, max_layer_id, None)).fps is None


def write_pps(*, tiles: bool, wavefront: bool) -> bytes:
    w = BitWriter()
    w.ue(0)
    w.ue(0)
    w.u(7, 0)
    w.ue(0)
    w.ue(0)
    w.se(-4)
    w.u(2, 0)
    w.flag(True)  # cu_qp_delta_enabled_flag
    w.ue(1)
    w.se(1)
    w.se(-1)
    w.u(4, 0)
    w.flag(tiles)
    w.flag(wavefront)
    if tiles:
        w.ue(1)
        w.ue(1)
        w.flag(True)
    w.u(3, 0)
    w.rbsp_trailing_bits()
    return b"\x44\x01" + escape_rbsp(w.to_bytes())


# A structure of pictures as HM's random access configuration codes it: one explicit set, then
# each set predicted from the one before it (H.265 §7.4.8).
INTER_RPS = [
    ("explicit", [(0, True), (1, True)], [(1, False)]),  # -1 -3 | +2
    ("inter", True, 0, [(True, False), (False, False), (True, False), (True, False)]),
    ("inter", False, 1, [(True, False)] * 4),
    ("inter", True, 2, [(True, False), (True, False), (False, True), (False, False)]),
]
INTER_RPS_DELTAS = [
    ShortTermRps((-1, -3), (2,)),
    ShortTermRps((-1, -2), (1,)),
    ShortTermRps((), (1, 2, 3)),
    ShortTermRps((-1, -2), ()),
]


def test_plain_written_sps():
    sps = H265Sps.parse(write_sps(SpsSpec()))
    assert (sps.width, sps.height) == (1920, 1080)
    assert sps.fps is None
    assert sps.codec_string == "hvc1.1.6.L123.B0"


def test_sps_with_every_structure_before_the_vui():
    spec = SpsSpec(
        sub_layers=3,
        sub_layer_present=((True, True), (False, True)),
        chroma_format_idc=2,
        width=1280,
        height=720,
        window=(2, 6, 3, 5),
        scaling_list_data=True,
        pcm=True,
        rps=INTER_RPS,
        long_term=((17, True), (200, False)),
        timing=(1001, 60000),
        full_vui=True,
        hrd=True,
        min_spatial_segmentation_idc=48,
    )
    sps = H265Sps.parse(write_sps(spec))
    assert sps.max_sub_layers == 3
    assert sps.temporal_id_nesting is False
    assert sps.profile_tier_level.level_idc == 123
    # 4:2:2 crops two luma columns per unit and one line per unit.
    assert (sps.width, sps.height) == (1280 - 2 * 8, 720 - 8)
    assert list(sps.short_term_ref_pic_sets) == INTER_RPS_DELTAS
    assert sps.num_long_term_ref_pics == 2
    assert sps.fps == Fraction(60000, 1001)
    assert sps.min_spatial_segmentation_idc == 48


def test_predicted_rps_counts_flags_from_the_set_before():
    """A wrong count of flags would shift every later field: the frame rate shows it."""
    for count in range(1, len(INTER_RPS) + 1):
        sps = H265Sps.parse(write_sps(SpsSpec(rps=INTER_RPS[:count], timing=(1, 50))))
        assert list(sps.short_term_ref_pic_sets) == INTER_RPS_DELTAS[:count]
        assert sps.fps == 50


def test_sps_rejects_out_of_range_values():
    too_many: list[tuple[Any, ...]] = [("explicit", [(0, True)] * 17, [])]
    with pytest.raises(CodecError, match=r"^SPS: num_negative_pics 17 exceeds 16$"):
        H265Sps.parse(write_sps(SpsSpec(rps=too_many)))
    with pytest.raises(CodecError, match=r"^SPS: num_short_term_ref_pic_sets 65 exceeds 64$"):
        H265Sps.parse(write_sps(SpsSpec(rps=[INTER_RPS[0]] * 65)))
    with pytest.raises(CodecError, match=r"^SPS: conformance window \(0, 0, 0, 544\) leaves"):
        H265Sps.parse(write_sps(SpsSpec(window=(0, 0, 0, 544))))
    with pytest.raises(CodecError, match=r"^SPS: chroma_format_idc 4 exceeds 3$"):
        H265Sps.parse(write_sps(SpsSpec(chroma_format_idc=4)))


def test_sps_monochrome_and_444_windows_are_in_luma_samples():
    for chroma_format_idc in (0, 3):
        spec = SpsSpec(chroma_format_idc=chroma_format_idc, window=(1, 2, 3, 4))
        sps = H265Sps.parse(write_sps(spec))
        assert (sps.width, sps.height) == (1917, 1081)


@pytest.mark.parametrize(
    ("tiles", "wavefront", "expected"),
    [
        (False, False, PARALLELISM_SLICE),
        (True, False, PARALLELISM_TILE),
        (False, True, PARALLELISM_WAVEFRONT),
        (True, True, PARALLELISM_MIXED),
    ],
)
def test_hvcc_parallelism_type(tiles, wavefront, expected):
    vps = fixture_sets("h265_main_1920x1080_hvcc")[0]
    pps = write_pps(tiles=tiles, wavefront=wavefront)
    assert H265Pps.parse(pps).parallelism_type == expected
    sps = write_sps(SpsSpec(min_spatial_segmentation_idc=100))
    record = HevcDecoderConfigurationRecord.build([vps], [sps], [pps])
    assert (record.min_spatial_segmentation_idc, record.parallelism_type) == (100, expected)
    # Without a segmentation limit the type says nothing, and the record says 0.
    plain = HevcDecoderConfigurationRecord.build([vps], [write_sps(SpsSpec())], [pps])
    assert (plain.min_spatial_segmentation_idc, plain.parallelism_type) == (0, 0)


@pytest.mark.parametrize(
    ("ptl", "sample_entry", "expected"),
    [
        (ProfileTierLevel(0, False, 1, 0x60000000, 0x90 << 40, 93), "hvc1", "hvc1.1.6.L93.90"),
        (
            ProfileTierLevel(1, True, 2, 0x20000000, 0xB0_23 << 32, 120),
            "hev1",
            "hev1.A2.4.H120.B0.23",
        ),
        (ProfileTierLevel(0, False, 1, 0x40000000, 0, 60), "hvc1", "hvc1.1.2.L60.0"),
        (
            ProfileTierLevel(3, False, 4, 0x08000000, 0x01, 153),
            "hvc1",
            "hvc1.C4.10.L153.0.0.0.0.0.1",
        ),
    ],
)
def test_codec_strings(ptl, sample_entry, expected):
    assert ptl.codec_string(sample_entry) == expected


def test_profile_name_from_compatibility_flags():
    assert ProfileTierLevel(0, False, 0, 0x20000000, 0, 93).profile_name == "Main 10"
    assert ProfileTierLevel(0, False, 0, 0, 0, 93).profile_name == "profile 0"


ptls = st.builds(
    ProfileTierLevel,
    st.integers(0, 3),
    st.booleans(),
    st.integers(0, 31),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**48 - 1),
    st.integers(0, 255),
)
arrays = st.builds(
    HvccArray,
    st.booleans(),
    st.integers(0, 63),
    st.lists(st.binary(min_size=2, max_size=30), max_size=3).map(tuple),
)
records = st.builds(
    HevcDecoderConfigurationRecord,
    ptls,
    st.integers(0, 4095),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(8, 15),
    st.integers(8, 15),
    st.integers(0, 65535),
    st.integers(0, 3),
    st.integers(0, 7),
    st.booleans(),
    st.sampled_from([1, 2, 4]),
    st.lists(arrays, max_size=5).map(tuple),
)


@settings(max_examples=200)
@given(records)
def test_hvcc_round_trip(record):
    data = record.serialize()
    assert HevcDecoderConfigurationRecord.parse(data) == record
    assert HevcDecoderConfigurationRecord.parse(data).serialize() == data


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_hvcc_parse_any_bytes(data):
    try:
        record = HevcDecoderConfigurationRecord.parse(data)
    except CodecError:
        return
    assert HevcDecoderConfigurationRecord.parse(record.serialize()) == record


REAL_SETS = fixture_sets("h265_hrd_640x360_hvcc")
WRITTEN_SPS = write_sps(
    SpsSpec(sub_layers=2, sub_layer_present=((True, True),), scaling_list_data=True, pcm=True,
            rps=INTER_RPS, long_term=((1, True),), timing=(1, 30), full_vui=True, hrd=True,
            min_spatial_segmentation_idc=4)
)  # fmt: skip


@settings(max_examples=300)
@given(
    st.sampled_from([(0, H265Vps.parse), (1, H265Sps.parse), (2, H265Pps.parse)]),
    st.booleans(),
    st.data(),
)
def test_parameter_sets_parse_any_bytes(target, written, data):
    """A real or written set cut anywhere and followed by noise reaches deep into each parser."""
    index, parse = target
    nal = WRITTEN_SPS if written and index == 1 else REAL_SETS[index]
    head = nal[: data.draw(st.integers(0, len(nal)))]
    with contextlib.suppress(CodecError):
        parse(head + data.draw(st.binary(max_size=24)))
