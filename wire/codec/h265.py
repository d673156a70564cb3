"""H.265 parameter sets and the HEVC decoder configuration record.

:class:`H265Vps`, :class:`H265Sps` and :class:`H265Pps` read the video, sequence and picture
parameter sets (H.265 §7.3.2) far enough to fill an ``hvcC`` record, size the picture after its
conformance window and take the frame rate from the VUI timing (Annex E). Reaching the VUI means
walking every SPS structure before it, scaling lists and reference picture sets included.
:class:`HevcDecoderConfigurationRecord` is the ``hvcC`` record of ISO/IEC 14496-15 §8.3.3.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from wire.codec.bits import BitReader, unescape_rbsp
from wire.codec.errors import CodecError
from wire.codec.nal import (
    H265_NAL_PPS,
    H265_NAL_PREFIX_SEI,
    H265_NAL_SPS,
    H265_NAL_SUFFIX_SEI,
    H265_NAL_VPS,
)

# general_profile_idc values (H.265 Annex A).
PROFILE_MAIN = 1
PROFILE_MAIN_10 = 2
PROFILE_MAIN_STILL_PICTURE = 3
PROFILE_RANGE_EXTENSIONS = 4

_PROFILE_NAMES = {
    PROFILE_MAIN: "Main",
    PROFILE_MAIN_10: "Main 10",
    PROFILE_MAIN_STILL_PICTURE: "Main Still Picture",
    PROFILE_RANGE_EXTENSIONS: "Range Extensions",
    5: "High Throughput",
    6: "Multiview Main",
    7: "Scalable Main",
    8: "3D Main",
    9: "Screen Content Coding Extensions",
    10: "Scalable Range Extensions",
    11: "High Throughput Screen Content Coding Extensions",
}

_EXTENDED_SAR = 255
_MAX_SUB_LAYERS = 7
_MAX_DPB_SIZE = 16
_MAX_SPATIAL_SEGMENTATION = 4095

# parallelismType (ISO/IEC 14496-15 §8.3.3.1.2).
PARALLELISM_MIXED = 0
PARALLELISM_SLICE = 1
PARALLELISM_TILE = 2
PARALLELISM_WAVEFRONT = 3


def _rbsp(nal: bytes, expected_type: int, what: str) -> BitReader:
    """A reader positioned after the two-byte NAL unit header, emulation prevention removed."""
    if len(nal) < 2:
        raise CodecError(f"{what}: NAL unit shorter than its 2-byte header")
    if nal[0] & 0x80:
        raise CodecError(f"{what}: forbidden_zero_bit is set")
    kind = (nal[0] >> 1) & 0x3F
    if kind != expected_type:
        raise CodecError(f"{what}: NAL unit type {kind} is not {expected_type}")
    if nal[1] & 0x07 == 0:
        raise CodecError(f"{what}: nuh_temporal_id_plus1 is 0")
    return BitReader(unescape_rbsp(nal[2:]), what)


@dataclass(frozen=True)
class ProfileTierLevel:
    """The general part of profile_tier_level() (H.265 §7.3.3)."""

    profile_space: int
    tier_flag: bool
    profile_idc: int
    profile_compatibility_flags: int  # 32 bits, general_profile_compatibility_flag[0] first
    constraint_indicator_flags: int  # 48 bits, general_progressive_source_flag first
    level_idc: int

    @classmethod
    def read(cls, r: BitReader, max_sub_layers_minus1: int) -> ProfileTierLevel:
        """Read profile_tier_level(1, max_sub_layers_minus1), skipping the sub-layer fields."""
        ptl = cls(
            r.u(2, "general_profile_space"),
            r.flag("general_tier_flag"),
            r.u(5, "general_profile_idc"),
            r.u(32, "general_profile_compatibility_flags"),
            r.u(48, "general_constraint_indicator_flags"),
            r.u(8, "general_level_idc"),
        )
        present = [
            (r.flag("sub_layer_profile_present_flag"), r.flag("sub_layer_level_present_flag"))
            for _ in range(max_sub_layers_minus1)
        ]
        if max_sub_layers_minus1 > 0:
            r.skip(2 * (8 - max_sub_layers_minus1), "reserved_zero_2bits")
        for profile_present, level_present in present:
            if profile_present:
                r.skip(88, "sub_layer profile")
            if level_present:
                r.skip(8, "sub_layer_level_idc")
        return ptl

    @property
    def level_name(self) -> str:
        """The Table A-8 level: general_level_idc is 30 times the level number (§A.4)."""
        return f"{self.level_idc // 30}.{self.level_idc % 30 // 3}"

    @property
    def profile_name(self) -> str:
        """The Annex A profile; profile_idc 0 defers to the first compatibility flag set."""
        idc = self.profile_idc
        if idc == 0:
            for j in range(1, 32):
                if self.profile_compatibility_flags & (1 << (31 - j)):
                    idc = j
                    break
        return _PROFILE_NAMES.get(idc, f"profile {idc}")

    def codec_string(self, sample_entry: str = "hvc1") -> str:
        """The RFC 6381 codecs parameter as ISO/IEC 14496-15 Annex E.3 spells it.

        Profile space as a letter (none for 0), profile_idc, the compatibility flags in reverse
        bit order as hex, tier and level, then the constraint bytes in hex.
        """
        space = ("", "A", "B", "C")[self.profile_space]
        compatibility = int(f"{self.profile_compatibility_flags:032b}"[::-1], 2)
        tier = "H" if self.tier_flag else "L"
        # Trailing zero bytes are dropped, keeping at least the first one.
        constraints = self.constraint_indicator_flags.to_bytes(6, "big").rstrip(b"\x00") or b"\x00"
        parts = [
            sample_entry,
            f"{space}{self.profile_idc}",
            f"{compatibility:X}",
            f"{tier}{self.level_idc}",
            *(f"{byte:X}" for byte in constraints),
        ]
        return ".".join(parts)


def _read_sub_layer_ordering_info(r: BitReader, max_sub_layers_minus1: int) -> int:
    """The sub-layer ordering information; returns the highest sub-layer's max_num_reorder_pics."""
    first = 0 if r.flag("sub_layer_ordering_info_present_flag") else max_sub_layers_minus1
    reorder = 0
    for _ in range(first, max_sub_layers_minus1 + 1):
        r.ue("max_dec_pic_buffering_minus1")
        reorder = r.ue("max_num_reorder_pics")
        r.ue("max_latency_increase_plus1")
    return reorder


@dataclass(frozen=True)
class H265Vps:
    """The video parameter set fields an ``hvcC`` record and a frame rate need (§7.3.2.1)."""

    vps_id: int
    max_sub_layers: int
    temporal_id_nesting: bool
    profile_tier_level: ProfileTierLevel
    num_units_in_tick: int = 0
    time_scale: int = 0

    @classmethod
    def parse(cls, nal: bytes) -> H265Vps:
        r = _rbsp(nal, H265_NAL_VPS, "VPS")
        vps_id = r.u(4, "vps_video_parameter_set_id")
        r.u(2, "vps_base_layer_flags")
        r.u(6, "vps_max_layers_minus1")
        max_sub_layers_minus1 = r.u(3, "vps_max_sub_layers_minus1")
        if max_sub_layers_minus1 == _MAX_SUB_LAYERS:
            raise r.error("vps_max_sub_layers_minus1 7 is reserved")
        nesting = r.flag("vps_temporal_id_nesting_flag")
        r.u(16, "vps_reserved_0xffff_16bits")
        ptl = ProfileTierLevel.read(r, max_sub_layers_minus1)
        _read_sub_layer_ordering_info(r, max_sub_layers_minus1)
        max_layer_id = r.u(6, "vps_max_layer_id")
        num_layer_sets_minus1 = r.ue_at_most("vps_num_layer_sets_minus1", 1023)
        r.skip(num_layer_sets_minus1 * (max_layer_id + 1), "layer_id_included_flag")
        timing = (0, 0)
        if r.flag("vps_timing_info_present_flag"):
            timing = (r.u(32, "vps_num_units_in_tick"), r.u(32, "vps_time_scale"))
        return cls(vps_id, max_sub_layers_minus1 + 1, nesting, ptl, *timing)

    @property
    def fps(self) -> Fraction | None:
        """Pictures per second from the VPS timing, for streams whose SPS has none."""
        if not self.num_units_in_tick or not self.time_scale:
            return None
        return Fraction(self.time_scale, self.num_units_in_tick)


def _skip_scaling_list_data(r: BitReader) -> None:
    """Read past scaling_list_data() (H.265 §7.3.4)."""
    for size_id in range(4):
        for matrix_id in range(0, 6, 3 if size_id == 3 else 1):
            if not r.flag("scaling_list_pred_mode_flag"):
                delta = r.ue("scaling_list_pred_matrix_id_delta")
                if delta > (matrix_id // 3 if size_id == 3 else matrix_id):
                    raise r.error(f"scaling_list_pred_matrix_id_delta {delta} out of range")
                continue
            if size_id > 1:
                r.se("scaling_list_dc_coef_minus8")
            for _ in range(min(64, 1 << (4 + (size_id << 1)))):
                r.se("scaling_list_delta_coef")


def _skip_sub_layer_hrd(r: BitReader, cpb_count: int, sub_pic: bool) -> None:
    for _ in range(cpb_count):
        r.ue("bit_rate_value_minus1")
        r.ue("cpb_size_value_minus1")
        if sub_pic:
            r.ue("cpb_size_du_value_minus1")
            r.ue("bit_rate_du_value_minus1")
        r.flag("cbr_flag")


def _skip_hrd_parameters(r: BitReader, max_sub_layers_minus1: int) -> None:
    """Read past hrd_parameters(1, max_sub_layers_minus1) (H.265 §E.2.2)."""
    nal_hrd = r.flag("nal_hrd_parameters_present_flag")
    vcl_hrd = r.flag("vcl_hrd_parameters_present_flag")
    sub_pic = False
    if nal_hrd or vcl_hrd:
        sub_pic = r.flag("sub_pic_hrd_params_present_flag")
        if sub_pic:
            r.skip(8 + 5 + 1 + 5, "sub_pic_hrd_params")
        r.skip(4 + 4, "bit_rate_scale and cpb_size_scale")
        if sub_pic:
            r.skip(4, "cpb_size_du_scale")
        r.skip(5 + 5 + 5, "hrd delay lengths")
    for _ in range(max_sub_layers_minus1 + 1):
        fixed_rate = r.flag("fixed_pic_rate_general_flag")
        if not fixed_rate:
            fixed_rate = r.flag("fixed_pic_rate_within_cvs_flag")
        low_delay = False
        if fixed_rate:
            r.ue("elemental_duration_in_tc_minus1")
        else:
            low_delay = r.flag("low_delay_hrd_flag")
        cpb_count = 1
        if not low_delay:
            cpb_count = r.ue_at_most("cpb_cnt_minus1", 31) + 1
        for present in (nal_hrd, vcl_hrd):
            if present:
                _skip_sub_layer_hrd(r, cpb_count, sub_pic)


@dataclass(frozen=True)
class ShortTermRps:
    """A short-term reference picture set as POC deltas (H.265 §7.4.8, equations 7-61 to 7-64).

    Only the deltas are kept: a later set predicted from this one (inter RPS prediction) needs
    them, in this order, to know how many flags it codes.
    """

    delta_poc_s0: tuple[int, ...]  # DeltaPocS0, negative, in the order the equations give
    delta_poc_s1: tuple[int, ...]  # DeltaPocS1, positive

    @property
    def num_delta_pocs(self) -> int:
        return len(self.delta_poc_s0) + len(self.delta_poc_s1)


def _read_short_term_rps(r: BitReader, previous: Sequence[ShortTermRps]) -> ShortTermRps:
    """Read st_ref_pic_set(stRpsIdx) as it appears in an SPS, stRpsIdx = len(previous)."""
    if previous and r.flag("inter_ref_pic_set_prediction_flag"):
        # In an SPS the reference set is always the one just before (delta_idx_minus1 = 0).
        ref = previous[-1]
        sign = r.flag("delta_rps_sign")
        magnitude = r.ue("abs_delta_rps_minus1") + 1
        if magnitude > 1 << 15:
            raise r.error(f"abs_delta_rps_minus1 {magnitude - 1} exceeds 32767")
        delta_rps = -magnitude if sign else magnitude
        use_delta = []
        for _ in range(ref.num_delta_pocs + 1):
            used = r.flag("used_by_curr_pic_flag")
            use_delta.append(used or r.flag("use_delta_flag"))
        return _predict_rps(ref, delta_rps, use_delta)
    negative = r.ue_at_most("num_negative_pics", _MAX_DPB_SIZE)
    positive = r.ue_at_most("num_positive_pics", _MAX_DPB_SIZE - negative)
    s0: list[int] = []
    for _ in range(negative):
        s0.append((s0[-1] if s0 else 0) - r.ue("delta_poc_s0_minus1") - 1)
        r.flag("used_by_curr_pic_s0_flag")
    s1: list[int] = []
    for _ in range(positive):
        s1.append((s1[-1] if s1 else 0) + r.ue("delta_poc_s1_minus1") + 1)
        r.flag("used_by_curr_pic_s1_flag")
    return ShortTermRps(tuple(s0), tuple(s1))


def _predict_rps(ref: ShortTermRps, delta_rps: int, use_delta: list[bool]) -> ShortTermRps:
    """Derive a set from the one before it, following equations 7-61 and 7-62 in order."""
    n_neg = len(ref.delta_poc_s0)
    n_all = ref.num_delta_pocs
    s0: list[int] = []
    s1: list[int] = []
    for j in reversed(range(len(ref.delta_poc_s1))):
        d_poc = ref.delta_poc_s1[j] + delta_rps
        if d_poc < 0 and use_delta[n_neg + j]:
            s0.append(d_poc)
    if delta_rps < 0 and use_delta[n_all]:
        s0.append(delta_rps)
    for j in range(n_neg):
        d_poc = ref.delta_poc_s0[j] + delta_rps
        if d_poc < 0 and use_delta[j]:
            s0.append(d_poc)
    for j in reversed(range(n_neg)):
        d_poc = ref.delta_poc_s0[j] + delta_rps
        if d_poc > 0 and use_delta[j]:
            s1.append(d_poc)
    if delta_rps > 0 and use_delta[n_all]:
        s1.append(delta_rps)
    for j in range(len(ref.delta_poc_s1)):
        d_poc = ref.delta_poc_s1[j] + delta_rps
        if d_poc > 0 and use_delta[n_neg + j]:
            s1.append(d_poc)
    return ShortTermRps(tuple(s0), tuple(s1))


@dataclass(frozen=True)
class _Vui:
    num_units_in_tick: int = 0
    time_scale: int = 0
    min_spatial_segmentation_idc: int = 0


def _read_vui(r: BitReader, max_sub_layers_minus1: int) -> _Vui:
    """Read vui_parameters() (H.265 §E.2.1) through min_spatial_segmentation_idc."""
    if r.flag("aspect_ratio_info_present_flag") and r.u(8, "aspect_ratio_idc") == _EXTENDED_SAR:
        r.skip(32, "sar_width and sar_height")
    if r.flag("overscan_info_present_flag"):
        r.flag("overscan_appropriate_flag")
    if r.flag("video_signal_type_present_flag"):
        r.skip(4, "video_format and video_full_range_flag")
        if r.flag("colour_description_present_flag"):
            r.skip(24, "colour_description")
    if r.flag("chroma_loc_info_present_flag"):
        r.ue("chroma_sample_loc_type_top_field")
        r.ue("chroma_sample_loc_type_bottom_field")
    r.skip(3, "neutral_chroma, field_seq and frame_field_info flags")
    if r.flag("default_display_window_flag"):
        for field in ("left", "right", "top", "bottom"):
            r.ue(f"def_disp_win_{field}_offset")
    num_units_in_tick = time_scale = 0
    if r.flag("vui_timing_info_present_flag"):
        num_units_in_tick = r.u(32, "vui_num_units_in_tick")
        time_scale = r.u(32, "vui_time_scale")
        if r.flag("vui_poc_proportional_to_timing_flag"):
            r.ue("vui_num_ticks_poc_diff_one_minus1")
        if r.flag("vui_hrd_parameters_present_flag"):
            _skip_hrd_parameters(r, max_sub_layers_minus1)
    min_spatial_segmentation_idc = 0
    if r.flag("bitstream_restriction_flag"):
        r.skip(3, "tiles_fixed_structure, motion_vectors and restricted_ref_pic_lists flags")
        min_spatial_segmentation_idc = r.ue_at_most(
            "min_spatial_segmentation_idc", _MAX_SPATIAL_SEGMENTATION
        )
    return _Vui(num_units_in_tick, time_scale, min_spatial_segmentation_idc)


@dataclass(frozen=True)
class H265Sps:
    """The fields of an H.265 sequence parameter set that size, time and label a stream."""

    vps_id: int
    max_sub_layers: int
    temporal_id_nesting: bool
    profile_tier_level: ProfileTierLevel
    sps_id: int
    chroma_format_idc: int
    separate_colour_plane: bool
    pic_width_in_luma_samples: int
    pic_height_in_luma_samples: int
    conf_win_left_offset: int
    conf_win_right_offset: int
    conf_win_top_offset: int
    conf_win_bottom_offset: int
    bit_depth_luma: int
    bit_depth_chroma: int
    short_term_ref_pic_sets: tuple[ShortTermRps, ...] = ()
    num_long_term_ref_pics: int = 0
    num_units_in_tick: int = 0
    time_scale: int = 0
    min_spatial_segmentation_idc: int = 0
    max_num_reorder_pics: int = 0

    @classmethod
    def parse(cls, nal: bytes) -> H265Sps:
        """Parse an SPS NAL unit, two-byte header included (H.265 §7.3.2.2.1)."""
        r = _rbsp(nal, H265_NAL_SPS, "SPS")
        layer_id = (nal[0] & 0x01) << 5 | nal[1] >> 3
        if layer_id != 0:
            # Multi-layer SPS syntax differs (F.7.3.2.2.1); only the base layer is read.
            raise CodecError(f"SPS: nuh_layer_id {layer_id} (multi-layer SPS) is not supported")
        vps_id = r.u(4, "sps_video_parameter_set_id")
        max_sub_layers_minus1 = r.u(3, "sps_max_sub_layers_minus1")
        if max_sub_layers_minus1 == _MAX_SUB_LAYERS:
            raise r.error("sps_max_sub_layers_minus1 7 is reserved")
        nesting = r.flag("sps_temporal_id_nesting_flag")
        ptl = ProfileTierLevel.read(r, max_sub_layers_minus1)
        sps_id = r.ue_at_most("sps_seq_parameter_set_id", 15)
        chroma_format_idc = r.ue_at_most("chroma_format_idc", 3)
        separate_colour_plane = chroma_format_idc == 3 and r.flag("separate_colour_plane_flag")
        width = r.ue("pic_width_in_luma_samples")
        height = r.ue("pic_height_in_luma_samples")
        window = (0, 0, 0, 0)
        if r.flag("conformance_window_flag"):
            window = (
                r.ue("conf_win_left_offset"),
                r.ue("conf_win_right_offset"),
                r.ue("conf_win_top_offset"),
                r.ue("conf_win_bottom_offset"),
            )
        bit_depth_luma = 8 + r.ue_at_most("bit_depth_luma_minus8", 8)
        bit_depth_chroma = 8 + r.ue_at_most("bit_depth_chroma_minus8", 8)
        log2_max_poc_lsb = 4 + r.ue_at_most("log2_max_pic_order_cnt_lsb_minus4", 12)
        max_num_reorder_pics = _read_sub_layer_ordering_info(r, max_sub_layers_minus1)
        r.ue("log2_min_luma_coding_block_size_minus3")
        r.ue("log2_diff_max_min_luma_coding_block_size")
        r.ue("log2_min_luma_transform_block_size_minus2")
        r.ue("log2_diff_max_min_luma_transform_block_size")
        r.ue("max_transform_hierarchy_depth_inter")
        r.ue("max_transform_hierarchy_depth_intra")
        if r.flag("scaling_list_enabled_flag") and r.flag("sps_scaling_list_data_present_flag"):
            _skip_scaling_list_data(r)
        r.skip(2, "amp_enabled_flag and sample_adaptive_offset_enabled_flag")
        if r.flag("pcm_enabled_flag"):
            r.skip(8, "pcm_sample_bit_depths")
            r.ue("log2_min_pcm_luma_coding_block_size_minus3")
            r.ue("log2_diff_max_min_pcm_luma_coding_block_size")
            r.flag("pcm_loop_filter_disabled_flag")
        count = r.ue_at_most("num_short_term_ref_pic_sets", 64)
        rps: list[ShortTermRps] = []
        for _ in range(count):
            rps.append(_read_short_term_rps(r, rps))
        num_long_term = 0
        if r.flag("long_term_ref_pics_present_flag"):
            num_long_term = r.ue_at_most("num_long_term_ref_pics_sps", 32)
            for _ in range(num_long_term):
                r.u(log2_max_poc_lsb, "lt_ref_pic_poc_lsb_sps")
                r.flag("used_by_curr_pic_lt_sps_flag")
        r.skip(2, "sps_temporal_mvp_enabled_flag and strong_intra_smoothing_enabled_flag")
        vui = _Vui()
        if r.flag("vui_parameters_present_flag"):
            vui = _read_vui(r, max_sub_layers_minus1)
        sps = cls(
            vps_id,
            max_sub_layers_minus1 + 1,
            nesting,
            ptl,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            width,
            height,
            *window,
            bit_depth_luma,
            bit_depth_chroma,
            tuple(rps),
            num_long_term,
            vui.num_units_in_tick,
            vui.time_scale,
            vui.min_spatial_segmentation_idc,
            max_num_reorder_pics,
        )
        if sps.width <= 0 or sps.height <= 0:
            raise CodecError(
                f"SPS: conformance window {window} leaves no picture of {width}x{height}"
            )
        return sps

    @property
    def _chroma_subsampling(self) -> tuple[int, int]:
        # SubWidthC and SubHeightC, H.265 Table 6-1.
        if self.separate_colour_plane:
            return 1, 1
        return ((1, 1), (2, 2), (2, 1), (1, 1))[self.chroma_format_idc]

    @property
    def width(self) -> int:
        """Luma width in samples inside the conformance window."""
        sub_width, _ = self._chroma_subsampling
        crop = self.conf_win_left_offset + self.conf_win_right_offset
        return self.pic_width_in_luma_samples - sub_width * crop

    @property
    def height(self) -> int:
        """Luma height in samples inside the conformance window."""
        _, sub_height = self._chroma_subsampling
        crop = self.conf_win_top_offset + self.conf_win_bottom_offset
        return self.pic_height_in_luma_samples - sub_height * crop

    @property
    def fps(self) -> Fraction | None:
        """Pictures per second from the VUI timing (one tick per picture), or None."""
        if not self.num_units_in_tick or not self.time_scale:
            return None
        return Fraction(self.time_scale, self.num_units_in_tick)

    @property
    def profile_name(self) -> str:
        return self.profile_tier_level.profile_name

    @property
    def level_name(self) -> str:
        return self.profile_tier_level.level_name

    @property
    def codec_string(self) -> str:
        """The ``hvc1.`` codecs parameter used in HLS ``CODECS``."""
        return self.profile_tier_level.codec_string()


@dataclass(frozen=True)
class H265Pps:
    """The picture parameter set fields up to the parallel-decoding tools (§7.3.2.3.1)."""

    pps_id: int
    sps_id: int
    tiles_enabled: bool
    entropy_coding_sync_enabled: bool

    @classmethod
    def parse(cls, nal: bytes) -> H265Pps:
        r = _rbsp(nal, H265_NAL_PPS, "PPS")
        pps_id = r.ue_at_most("pps_pic_parameter_set_id", 63)
        sps_id = r.ue_at_most("pps_seq_parameter_set_id", 15)
        r.skip(1 + 1 + 3 + 1 + 1, "slice header flags")
        r.ue("num_ref_idx_l0_default_active_minus1")
        r.ue("num_ref_idx_l1_default_active_minus1")
        r.se("init_qp_minus26")
        r.skip(2, "constrained_intra_pred_flag and transform_skip_enabled_flag")
        if r.flag("cu_qp_delta_enabled_flag"):
            r.ue("diff_cu_qp_delta_depth")
        r.se("pps_cb_qp_offset")
        r.se("pps_cr_qp_offset")
        r.skip(4, "chroma offset, weighted prediction and transquant bypass flags")
        tiles = r.flag("tiles_enabled_flag")
        return cls(pps_id, sps_id, tiles, r.flag("entropy_coding_sync_enabled_flag"))

    @property
    def parallelism_type(self) -> int:
        if self.tiles_enabled and self.entropy_coding_sync_enabled:
            return PARALLELISM_MIXED
        if self.entropy_coding_sync_enabled:
            return PARALLELISM_WAVEFRONT
        return PARALLELISM_TILE if self.tiles_enabled else PARALLELISM_SLICE


@dataclass(frozen=True)
class HvccArray:
    """One array of NAL units of a single type in an ``hvcC`` record."""

    array_completeness: bool
    nal_unit_type: int
    nal_units: tuple[bytes, ...]


@dataclass(frozen=True)
class HevcDecoderConfigurationRecord:
    """``HEVCDecoderConfigurationRecord`` (ISO/IEC 14496-15 §8.3.3.1)."""

    profile_tier_level: ProfileTierLevel
    min_spatial_segmentation_idc: int
    parallelism_type: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    avg_frame_rate: int
    constant_frame_rate: int
    num_temporal_layers: int
    temporal_id_nested: bool
    length_size: int
    arrays: tuple[HvccArray, ...]

    @classmethod
    def build(
        cls,
        vps: Sequence[bytes],
        sps: Sequence[bytes],
        pps: Sequence[bytes],
        *,
        sei: Sequence[bytes] = (),
        length_size: int = 4,
        array_completeness: bool = True,
        avg_frame_rate: int = 0,
        constant_frame_rate: int = 0,
    ) -> HevcDecoderConfigurationRecord:
        """The record for these parameter sets (and declarative SEI), in that array order.

        The header describes every parameter set at once (§8.3.3.1.2): the highest tier and
        level, the profile flags all of them share. ``array_completeness`` applies to the
        parameter set arrays; SEI arrays never claim completeness. avgFrameRate and
        constantFrameRate default to 0, "unspecified".
        """
        if not vps or not sps or not pps:
            raise CodecError("hvcC: at least one VPS, one SPS and one PPS are needed")
        vps_sets = [H265Vps.parse(nal) for nal in vps]
        sps_sets = [H265Sps.parse(nal) for nal in sps]
        pps_sets = [H265Pps.parse(nal) for nal in pps]
        ptl = _merge_profile_tier_levels(
            [s.profile_tier_level for s in vps_sets] + [s.profile_tier_level for s in sps_sets]
        )
        min_spatial_segmentation_idc = min(s.min_spatial_segmentation_idc for s in sps_sets)
        kinds = {p.parallelism_type for p in pps_sets}
        parallelism = kinds.pop() if len(kinds) == 1 else PARALLELISM_MIXED
        if min_spatial_segmentation_idc == 0:
            parallelism = PARALLELISM_MIXED
        first = sps_sets[0]
        arrays = [
            HvccArray(array_completeness, H265_NAL_VPS, tuple(vps)),
            HvccArray(array_completeness, H265_NAL_SPS, tuple(sps)),
            HvccArray(array_completeness, H265_NAL_PPS, tuple(pps)),
        ]
        for sei_type in (H265_NAL_PREFIX_SEI, H265_NAL_SUFFIX_SEI):
            units = tuple(nal for nal in sei if len(nal) >= 2 and (nal[0] >> 1) & 0x3F == sei_type)
            if units:
                arrays.append(HvccArray(False, sei_type, units))
        if sum(len(a.nal_units) for a in arrays[3:]) != len(sei):
            raise CodecError("hvcC: the SEI list holds a NAL unit that is not an SEI")
        record = cls(
            ptl,
            min_spatial_segmentation_idc,
            parallelism,
            first.chroma_format_idc,
            first.bit_depth_luma,
            first.bit_depth_chroma,
            avg_frame_rate,
            constant_frame_rate,
            max([v.max_sub_layers for v in vps_sets] + [s.max_sub_layers for s in sps_sets]),
            first.temporal_id_nesting,
            length_size,
            tuple(arrays),
        )
        record.serialize()  # every count and length must fit its field
        return record

    @classmethod
    def parse(cls, data: bytes) -> HevcDecoderConfigurationRecord:
        """Parse a record; bytes after its last array are ignored."""
        r = BitReader(data, "hvcC")
        version = r.u(8, "configurationVersion")
        if version != 1:
            raise CodecError(f"hvcC: configurationVersion {version}, expected 1")
        ptl = ProfileTierLevel.read(r, 0)
        # Reserved bits fill each field up to a byte; they read as ones but are not checked.
        min_spatial_segmentation_idc = r.u(16, "min_spatial_segmentation_idc") & 0x0FFF
        parallelism = r.u(8, "parallelismType") & 0x03
        chroma_format_idc = r.u(8, "chromaFormat") & 0x03
        bit_depth_luma = 8 + (r.u(8, "bitDepthLumaMinus8") & 0x07)
        bit_depth_chroma = 8 + (r.u(8, "bitDepthChromaMinus8") & 0x07)
        avg_frame_rate = r.u(16, "avgFrameRate")
        constant_frame_rate = r.u(2, "constantFrameRate")
        num_temporal_layers = r.u(3, "numTemporalLayers")
        nested = r.flag("temporalIdNested")
        length_size_minus_one = r.u(2, "lengthSizeMinusOne")
        if length_size_minus_one == 2:
            raise CodecError("hvcC: lengthSizeMinusOne 2 is not allowed (1, 2 or 4 bytes)")
        arrays = []
        for _ in range(r.u(8, "numOfArrays")):
            completeness = r.flag("array_completeness")
            nal_unit_type = r.u(7, "NAL_unit_type") & 0x3F
            units = []
            for _ in range(r.u(16, "numNalus")):
                length = r.u(16, "nalUnitLength")
                units.append(r.u(8 * length, "nalUnit").to_bytes(length, "big"))
            arrays.append(HvccArray(completeness, nal_unit_type, tuple(units)))
        return cls(
            ptl,
            min_spatial_segmentation_idc,
            parallelism,
            chroma_format_idc,
            bit_depth_luma,
            bit_depth_chroma,
            avg_frame_rate,
            constant_frame_rate,
            num_temporal_layers,
            nested,
            length_size_minus_one + 1,
            tuple(arrays),
        )

    def serialize(self) -> bytes:
        ptl = self.profile_tier_level
        fields = [
            ("general_profile_space", ptl.profile_space, 2),
            ("general_profile_idc", ptl.profile_idc, 5),
            ("general_profile_compatibility_flags", ptl.profile_compatibility_flags, 32),
            ("general_constraint_indicator_flags", ptl.constraint_indicator_flags, 48),
            ("general_level_idc", ptl.level_idc, 8),
            ("min_spatial_segmentation_idc", self.min_spatial_segmentation_idc, 12),
            ("parallelismType", self.parallelism_type, 2),
            ("chromaFormat", self.chroma_format_idc, 2),
            ("bitDepthLumaMinus8", self.bit_depth_luma - 8, 3),
            ("bitDepthChromaMinus8", self.bit_depth_chroma - 8, 3),
            ("avgFrameRate", self.avg_frame_rate, 16),
            ("constantFrameRate", self.constant_frame_rate, 2),
            ("numTemporalLayers", self.num_temporal_layers, 3),
            ("numOfArrays", len(self.arrays), 8),
        ]
        for name, value, bits in fields:
            if not 0 <= value < 1 << bits:
                raise CodecError(f"hvcC: {name} {value} does not fit in {bits} bits")
        if self.length_size not in (1, 2, 4):
            raise CodecError(f"hvcC: length size {self.length_size} is not 1, 2 or 4")
        out = bytearray([1, ptl.profile_space << 6 | ptl.tier_flag << 5 | ptl.profile_idc])
        out += ptl.profile_compatibility_flags.to_bytes(4, "big")
        out += ptl.constraint_indicator_flags.to_bytes(6, "big")
        out += bytes([ptl.level_idc])
        out += (0xF000 | self.min_spatial_segmentation_idc).to_bytes(2, "big")
        out += bytes(
            [
                0xFC | self.parallelism_type,
                0xFC | self.chroma_format_idc,
                0xF8 | (self.bit_depth_luma - 8),
                0xF8 | (self.bit_depth_chroma - 8),
            ]
        )
        out += self.avg_frame_rate.to_bytes(2, "big")
        out += bytes(
            [
                self.constant_frame_rate << 6
                | self.num_temporal_layers << 3
                | self.temporal_id_nested << 2
                | (self.length_size - 1),
                len(self.arrays),
            ]
        )
        for array in self.arrays:
            if not 0 <= array.nal_unit_type < 64:
                raise CodecError(f"hvcC: NAL_unit_type {array.nal_unit_type} exceeds 63")
            if len(array.nal_units) > 0xFFFF:
                raise CodecError(f"hvcC: {len(array.nal_units)} NAL units, at most 65535 fit")
            out += bytes([array.array_completeness << 7 | array.nal_unit_type])
            out += len(array.nal_units).to_bytes(2, "big")
            for nal in array.nal_units:
                if len(nal) > 0xFFFF:
                    raise CodecError(f"hvcC: NAL unit of {len(nal)} bytes, at most 65535 fit")
                out += len(nal).to_bytes(2, "big") + nal
        return bytes(out)

    def nal_units(self, nal_unit_type: int) -> tuple[bytes, ...]:
        """Every NAL unit of one type across the arrays, e.g. ``H265_NAL_SPS``."""
        return tuple(
            nal for a in self.arrays if a.nal_unit_type == nal_unit_type for nal in a.nal_units
        )

    @property
    def codec_string(self) -> str:
        """The ``hvc1.`` codecs parameter for this record."""
        return self.profile_tier_level.codec_string()


def _merge_profile_tier_levels(ptls: Sequence[ProfileTierLevel]) -> ProfileTierLevel:
    compatibility = 0xFFFFFFFF
    constraints = (1 << 48) - 1
    for ptl in ptls:
        compatibility &= ptl.profile_compatibility_flags
        constraints &= ptl.constraint_indicator_flags
    return ProfileTierLevel(
        ptls[-1].profile_space,
        any(p.tier_flag for p in ptls),
        max(p.profile_idc for p in ptls),
        compatibility,
        constraints,
        max(p.level_idc for p in ptls),
    )
