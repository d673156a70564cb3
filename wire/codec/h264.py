"""H.264 parameter sets and the AVC decoder configuration record.

:class:`H264Sps` reads a sequence parameter set (H.264 §7.3.2.1.1) far enough to know the
profile, the coded picture size after cropping and the frame rate from the VUI timing (Annex E);
:class:`H264Pps` reads the identifiers at the start of a picture parameter set (§7.3.2.2).
:class:`AvcDecoderConfigurationRecord` is the ``avcC`` record of ISO/IEC 14496-15 §5.3.3.1 that
MP4, FLV and the RTMP sequence header carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from wire.codec.bits import BitReader, unescape_rbsp
from wire.codec.errors import CodecError
from wire.codec.nal import H264_NAL_PPS, H264_NAL_SPS

# H.264 Table 7-1: sequence parameter set extension, carried in the avcC SPS-ext list.
H264_NAL_SPS_EXT = 13

# profile_idc values (H.264 Annex A, G and H).
PROFILE_BASELINE = 66
PROFILE_MAIN = 77
PROFILE_EXTENDED = 88
PROFILE_HIGH = 100
PROFILE_HIGH_10 = 110
PROFILE_HIGH_422 = 122
PROFILE_HIGH_444_PREDICTIVE = 244
PROFILE_CAVLC_444_INTRA = 44

# Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices (§7.3.2.1.1).
_CHROMA_FORMAT_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})

# Profiles without the avcC chroma/bit-depth extension (ISO/IEC 14496-15 §5.3.3.1.2).
_AVCC_PLAIN_PROFILES = frozenset({PROFILE_BASELINE, PROFILE_MAIN, PROFILE_EXTENDED})

_PROFILE_NAMES = {
    PROFILE_BASELINE: "Baseline",
    PROFILE_MAIN: "Main",
    PROFILE_EXTENDED: "Extended",
    PROFILE_HIGH: "High",
    PROFILE_HIGH_10: "High 10",
    PROFILE_HIGH_422: "High 4:2:2",
    PROFILE_HIGH_444_PREDICTIVE: "High 4:4:4 Predictive",
    PROFILE_CAVLC_444_INTRA: "CAVLC 4:4:4 Intra",
    83: "Scalable Baseline",
    86: "Scalable High",
    118: "Multiview High",
    128: "Stereo High",
    134: "MFC High",
    135: "MFC Depth High",
    138: "Multiview Depth High",
    139: "Enhanced Multiview Depth High",
}

# Sub-profiles that constraint_set3_flag turns into all-intra ones (H.264 §A.2.8 to §A.2.11).
_INTRA_PROFILE_NAMES = {
    PROFILE_HIGH_10: "High 10 Intra",
    PROFILE_HIGH_422: "High 4:2:2 Intra",
    PROFILE_HIGH_444_PREDICTIVE: "High 4:4:4 Intra",
}

# Bits of the byte between profile_idc and level_idc, constraint_set0_flag first.
CONSTRAINT_SET1 = 0x40
CONSTRAINT_SET3 = 0x10
CONSTRAINT_SET4 = 0x08
CONSTRAINT_SET5 = 0x04

_EXTENDED_SAR = 255
_MAX_LOG2_MINUS4 = 12


def _rbsp(nal: bytes, expected_type: int, what: str) -> BitReader:
    """A reader positioned after the one-byte NAL unit header, emulation prevention removed."""
    if not nal:
        raise CodecError(f"{what}: empty NAL unit")
    if nal[0] & 0x80:
        raise CodecError(f"{what}: forbidden_zero_bit is set")
    kind = nal[0] & 0x1F
    if kind != expected_type:
        raise CodecError(f"{what}: NAL unit type {kind} is not {expected_type}")
    return BitReader(unescape_rbsp(nal[1:]), what)


def _skip_scaling_list(r: BitReader, size: int) -> None:
    """Read past one scaling_list() (§7.3.2.1.1.1); only delta_scale is coded."""
    last_scale = next_scale = 8
    for _ in range(size):
        if next_scale != 0:
            delta_scale = r.se("delta_scale")
            if not -128 <= delta_scale <= 127:
                raise r.error(f"delta_scale {delta_scale} out of range")
            next_scale = (last_scale + delta_scale + 256) % 256
        last_scale = last_scale if next_scale == 0 else next_scale


@dataclass(frozen=True)
class H264Sps:
    """The fields of an H.264 sequence parameter set that size, time and label a stream."""

    profile_idc: int
    constraint_flags: int
    level_idc: int
    seq_parameter_set_id: int
    chroma_format_idc: int
    separate_colour_plane: bool
    bit_depth_luma: int
    bit_depth_chroma: int
    log2_max_frame_num: int
    pic_order_cnt_type: int
    max_num_ref_frames: int
    pic_width_in_mbs: int
    pic_height_in_map_units: int
    frame_mbs_only: bool
    frame_crop_left_offset: int = 0
    frame_crop_right_offset: int = 0
    frame_crop_top_offset: int = 0
    frame_crop_bottom_offset: int = 0
    timing_info_present: bool = False
    num_units_in_tick: int = 0
    time_scale: int = 0
    fixed_frame_rate: bool = False
    max_num_reorder_frames: int | None = None
    """From the VUI's bitstream restriction; None when the SPS does not say (or its VUI is cut
    short after the timing, as some cameras' ``sprop-parameter-sets`` are)."""

    @classmethod
    def parse(cls, nal: bytes) -> H264Sps:
        """Parse an SPS NAL unit, header byte included, as carried in Annex B or avcC."""
        r = _rbsp(nal, H264_NAL_SPS, "SPS")
        profile_idc = r.u(8, "profile_idc")
        constraint_flags = r.u(8, "constraint_set_flags")
        level_idc = r.u(8, "level_idc")
        sps_id = r.ue_at_most("seq_parameter_set_id", 31)
        chroma_format_idc, separate_colour_plane = 1, False
        bit_depth_luma = bit_depth_chroma = 8
        if profile_idc in _CHROMA_FORMAT_PROFILES:
            chroma_format_idc = r.ue_at_most("chroma_format_idc", 3)
            if chroma_format_idc == 3:
                separate_colour_plane = r.flag("separate_colour_plane_flag")
            bit_depth_luma = 8 + r.ue_at_most("bit_depth_luma_minus8", 6)
            bit_depth_chroma = 8 + r.ue_at_most("bit_depth_chroma_minus8", 6)
            r.flag("qpprime_y_zero_transform_bypass_flag")
            if r.flag("seq_scaling_matrix_present_flag"):
                for i in range(8 if chroma_format_idc != 3 else 12):
                    if r.flag("seq_scaling_list_present_flag"):
                        _skip_scaling_list(r, 16 if i < 6 else 64)
        log2_max_frame_num = 4 + r.ue_at_most("log2_max_frame_num_minus4", _MAX_LOG2_MINUS4)
        pic_order_cnt_type = r.ue_at_most("pic_order_cnt_type", 2)
        if pic_order_cnt_type == 0:
            r.ue_at_most("log2_max_pic_order_cnt_lsb_minus4", _MAX_LOG2_MINUS4)
        elif pic_order_cnt_type == 1:
            r.flag("delta_pic_order_always_zero_flag")
            r.se("offset_for_non_ref_pic")
            r.se("offset_for_top_to_bottom_field")
            cycle = r.ue_at_most("num_ref_frames_in_pic_order_cnt_cycle", 255)
            for _ in range(cycle):
                r.se("offset_for_ref_frame")
        max_num_ref_frames = r.ue("max_num_ref_frames")
        r.flag("gaps_in_frame_num_value_allowed_flag")
        width_in_mbs = r.ue("pic_width_in_mbs_minus1") + 1
        height_in_map_units = r.ue("pic_height_in_map_units_minus1") + 1
        frame_mbs_only = r.flag("frame_mbs_only_flag")
        if not frame_mbs_only:
            r.flag("mb_adaptive_frame_field_flag")
        r.flag("direct_8x8_inference_flag")
        crop = (0, 0, 0, 0)
        if r.flag("frame_cropping_flag"):
            crop = (
                r.ue("frame_crop_left_offset"),
                r.ue("frame_crop_right_offset"),
                r.ue("frame_crop_top_offset"),
                r.ue("frame_crop_bottom_offset"),
            )
        vui = _read_vui(r) if r.flag("vui_parameters_present_flag") else _Vui()
        sps = cls(
            profile_idc,
            constraint_flags,
            level_idc,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            log2_max_frame_num,
            pic_order_cnt_type,
            max_num_ref_frames,
            width_in_mbs,
            height_in_map_units,
            frame_mbs_only,
            *crop,
            timing_info_present=vui.timing_info_present,
            num_units_in_tick=vui.num_units_in_tick,
            time_scale=vui.time_scale,
            fixed_frame_rate=vui.fixed_frame_rate,
            max_num_reorder_frames=vui.max_num_reorder_frames,
        )
        if sps.width <= 0 or sps.height <= 0:
            raise CodecError(
                f"SPS: frame cropping {crop} leaves no picture of "
                f"{16 * width_in_mbs}x{16 * sps.frame_height_in_mbs}"
            )
        return sps

    @property
    def frame_height_in_mbs(self) -> int:
        """Picture height in macroblocks; a map unit is a macroblock pair with field coding."""
        return (2 - self.frame_mbs_only) * self.pic_height_in_map_units

    @property
    def _crop_units(self) -> tuple[int, int]:
        # CropUnitX/CropUnitY, H.264 equations 7-19 to 7-22.
        field_factor = 2 - self.frame_mbs_only
        if self.chroma_format_idc == 0 or self.separate_colour_plane:
            return 1, field_factor
        sub_width = 1 if self.chroma_format_idc == 3 else 2
        sub_height = 2 if self.chroma_format_idc == 1 else 1
        return sub_width, sub_height * field_factor

    @property
    def width(self) -> int:
        """Luma width in samples after the cropping rectangle."""
        unit_x, _ = self._crop_units
        crop = self.frame_crop_left_offset + self.frame_crop_right_offset
        return 16 * self.pic_width_in_mbs - unit_x * crop

    @property
    def height(self) -> int:
        """Luma height of a frame (both fields with field coding) after the cropping rectangle."""
        _, unit_y = self._crop_units
        crop = self.frame_crop_top_offset + self.frame_crop_bottom_offset
        return 16 * self.frame_height_in_mbs - unit_y * crop

    @property
    def fps(self) -> Fraction | None:
        """Frames per second from the VUI timing, or None when the SPS does not say.

        A tick is a field period, so a frame lasts two ticks (H.264 §E.2.1, equation C-1).
        """
        if not self.timing_info_present or not self.num_units_in_tick or not self.time_scale:
            return None
        return Fraction(self.time_scale, 2 * self.num_units_in_tick)

    @property
    def profile_name(self) -> str:
        """The Annex A profile, refined by the constraint flags that define sub-profiles."""
        flags = self.constraint_flags
        if self.profile_idc == PROFILE_BASELINE and flags & CONSTRAINT_SET1:
            return "Constrained Baseline"
        if self.profile_idc == PROFILE_HIGH and flags & CONSTRAINT_SET4:
            return "Constrained High" if flags & CONSTRAINT_SET5 else "Progressive High"
        if flags & CONSTRAINT_SET3 and self.profile_idc in _INTRA_PROFILE_NAMES:
            return _INTRA_PROFILE_NAMES[self.profile_idc]
        return _PROFILE_NAMES.get(self.profile_idc, f"profile {self.profile_idc}")

    @property
    def codec_string(self) -> str:
        """The RFC 6381 ``avc1.PPCCLL`` codecs parameter used in HLS ``CODECS``."""
        return avc_codec_string(self.profile_idc, self.constraint_flags, self.level_idc)

    @property
    def level_name(self) -> str:
        """The Table A-1 level: ``level_idc`` / 10, with level 1b signalled by 9 or, in the
        Baseline/Main/Extended profiles, by 11 with constraint_set3_flag (§A.3.1, §A.3.2)."""
        if self.level_idc == 9 or (
            self.level_idc == 11
            and self.constraint_flags & CONSTRAINT_SET3
            and self.profile_idc in (66, 77, 88)
        ):
            return "1b"
        return f"{self.level_idc // 10}.{self.level_idc % 10}"


@dataclass(frozen=True)
class _Vui:
    timing_info_present: bool = False
    num_units_in_tick: int = 0
    time_scale: int = 0
    fixed_frame_rate: bool = False
    max_num_reorder_frames: int | None = None


def _read_vui(r: BitReader) -> _Vui:
    """Read vui_parameters() (H.264 §E.1.1): the timing information and max_num_reorder_frames.

    A VUI that ends early after the timing still gives the timing.
    """
    if r.flag("aspect_ratio_info_present_flag") and r.u(8, "aspect_ratio_idc") == _EXTENDED_SAR:
        r.u(16, "sar_width")
        r.u(16, "sar_height")
    if r.flag("overscan_info_present_flag"):
        r.flag("overscan_appropriate_flag")
    if r.flag("video_signal_type_present_flag"):
        r.u(3, "video_format")
        r.flag("video_full_range_flag")
        if r.flag("colour_description_present_flag"):
            r.u(8, "colour_primaries")
            r.u(8, "transfer_characteristics")
            r.u(8, "matrix_coefficients")
    if r.flag("chroma_loc_info_present_flag"):
        r.ue("chroma_sample_loc_type_top_field")
        r.ue("chroma_sample_loc_type_bottom_field")
    vui = _Vui()
    if r.flag("timing_info_present_flag"):
        num_units_in_tick = r.u(32, "num_units_in_tick")
        time_scale = r.u(32, "time_scale")
        vui = _Vui(True, num_units_in_tick, time_scale, r.flag("fixed_frame_rate_flag"))
    try:
        return replace(vui, max_num_reorder_frames=_read_vui_reorder(r))
    except CodecError:
        return vui


def _read_vui_reorder(r: BitReader) -> int | None:
    """The rest of vui_parameters() after the timing: max_num_reorder_frames, if present."""
    nal_hrd = r.flag("nal_hrd_parameters_present_flag")
    if nal_hrd:
        _skip_hrd_parameters(r)
    vcl_hrd = r.flag("vcl_hrd_parameters_present_flag")
    if vcl_hrd:
        _skip_hrd_parameters(r)
    if nal_hrd or vcl_hrd:
        r.flag("low_delay_hrd_flag")
    r.flag("pic_struct_present_flag")
    if not r.flag("bitstream_restriction_flag"):
        return None
    r.flag("motion_vectors_over_pic_boundaries_flag")
    r.ue("max_bytes_per_pic_denom")
    r.ue("max_bits_per_mb_denom")
    r.ue("log2_max_mv_length_horizontal")
    r.ue("log2_max_mv_length_vertical")
    reorder = r.ue_at_most("max_num_reorder_frames", 16)
    r.ue_at_most("max_dec_frame_buffering", 16)
    return reorder


def _skip_hrd_parameters(r: BitReader) -> None:
    """Read past hrd_parameters() (H.264 §E.1.2)."""
    cpb_count = r.ue_at_most("cpb_cnt_minus1", 31) + 1
    r.skip(8, "bit_rate_scale and cpb_size_scale")
    for _ in range(cpb_count):
        r.ue("bit_rate_value_minus1")
        r.ue("cpb_size_value_minus1")
        r.flag("cbr_flag")
    r.skip(20, "the four delay and offset lengths")


def avc_codec_string(profile_idc: int, constraint_flags: int, level_idc: int) -> str:
    """``avc1.`` followed by profile, constraint byte and level in hex (RFC 6381 §3.3)."""
    return f"avc1.{profile_idc:02x}{constraint_flags:02x}{level_idc:02x}"


@dataclass(frozen=True)
class H264Pps:
    """The identifiers at the start of a picture parameter set (H.264 §7.3.2.2)."""

    pic_parameter_set_id: int
    seq_parameter_set_id: int
    entropy_coding_mode: bool

    @classmethod
    def parse(cls, nal: bytes) -> H264Pps:
        r = _rbsp(nal, H264_NAL_PPS, "PPS")
        pps_id = r.ue_at_most("pic_parameter_set_id", 255)
        sps_id = r.ue_at_most("seq_parameter_set_id", 31)
        return cls(pps_id, sps_id, r.flag("entropy_coding_mode_flag"))


@dataclass(frozen=True)
class AvcHighProfileExtension:
    """The avcC fields present for profiles other than Baseline, Main and Extended."""

    chroma_format_idc: int = 1
    bit_depth_luma: int = 8
    bit_depth_chroma: int = 8
    sps_ext: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class AvcDecoderConfigurationRecord:
    """``AVCDecoderConfigurationRecord`` (ISO/IEC 14496-15 §5.3.3.1).

    ``high_profile`` is None when the record stops after the picture parameter sets, which the
    specification requires for Baseline, Main and Extended and many older writers do for every
    profile.
    """

    profile_idc: int
    profile_compatibility: int
    level_idc: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    length_size: int = 4
    high_profile: AvcHighProfileExtension | None = None

    @classmethod
    def build(
        cls,
        sps_list: Sequence[bytes],
        pps_list: Sequence[bytes],
        *,
        length_size: int = 4,
        sps_ext_list: Sequence[bytes] = (),
    ) -> AvcDecoderConfigurationRecord:
        """The record for these parameter sets, its header copied from the first SPS."""
        if not sps_list:
            raise CodecError("avcC: at least one SPS is needed")
        parsed = [H264Sps.parse(nal) for nal in sps_list]
        for nal in pps_list:
            H264Pps.parse(nal)
        for nal in sps_ext_list:
            if not nal or nal[0] & 0x1F != H264_NAL_SPS_EXT:
                raise CodecError(f"avcC: {nal[:1].hex() or 'empty'} is not an SPS extension")
        first = parsed[0]
        high_profile = None
        if first.profile_idc not in _AVCC_PLAIN_PROFILES:
            high_profile = AvcHighProfileExtension(
                first.chroma_format_idc,
                first.bit_depth_luma,
                first.bit_depth_chroma,
                tuple(sps_ext_list),
            )
        elif sps_ext_list:
            raise CodecError(f"avcC: profile {first.profile_idc} has no SPS extension list")
        record = cls(
            first.profile_idc,
            first.constraint_flags,
            first.level_idc,
            tuple(sps_list),
            tuple(pps_list),
            length_size,
            high_profile,
        )
        record.serialize()  # every count and length must fit its field
        return record

    @classmethod
    def parse(cls, data: bytes) -> AvcDecoderConfigurationRecord:
        """Parse a record; bytes after it are ignored, as in an MP4 box with padding."""
        r = BitReader(data, "avcC")
        version = r.u(8, "configurationVersion")
        if version != 1:
            raise CodecError(f"avcC: configurationVersion {version}, expected 1")
        profile_idc = r.u(8, "AVCProfileIndication")
        compatibility = r.u(8, "profile_compatibility")
        level_idc = r.u(8, "AVCLevelIndication")
        length_size_minus_one = r.u(8, "lengthSizeMinusOne") & 0x03
        if length_size_minus_one == 2:
            raise CodecError("avcC: lengthSizeMinusOne 2 is not allowed (1, 2 or 4 bytes)")
        sps_count = r.u(8, "numOfSequenceParameterSets") & 0x1F
        sps = _read_nal_units(r, sps_count, "sequenceParameterSet")
        pps = _read_nal_units(r, r.u(8, "numOfPictureParameterSets"), "pictureParameterSet")
        high_profile = None
        if profile_idc not in _AVCC_PLAIN_PROFILES and r.bits_left:
            # Reserved bits fill each byte up; they read as ones but are not checked.
            chroma_format_idc = r.u(8, "chroma_format") & 0x03
            bit_depth_luma = 8 + (r.u(8, "bit_depth_luma_minus8") & 0x07)
            bit_depth_chroma = 8 + (r.u(8, "bit_depth_chroma_minus8") & 0x07)
            count = r.u(8, "numOfSequenceParameterSetExt")
            sps_ext = _read_nal_units(r, count, "sequenceParameterSetExt")
            high_profile = AvcHighProfileExtension(
                chroma_format_idc, bit_depth_luma, bit_depth_chroma, sps_ext
            )
        return cls(
            profile_idc,
            compatibility,
            level_idc,
            sps,
            pps,
            length_size_minus_one + 1,
            high_profile,
        )

    def serialize(self) -> bytes:
        if self.length_size not in (1, 2, 4):
            raise CodecError(f"avcC: length size {self.length_size} is not 1, 2 or 4")
        if len(self.sps) > 31:
            raise CodecError(f"avcC: {len(self.sps)} SPS NAL units, at most 31 fit")
        header = (self.profile_idc, self.profile_compatibility, self.level_idc)
        if any(not 0 <= value <= 0xFF for value in header):
            raise CodecError(f"avcC: profile, compatibility and level {header} must be bytes")
        out = bytearray([1, *header, 0xFC | (self.length_size - 1), 0xE0 | len(self.sps)])
        out += _write_nal_units(self.sps, "SPS")
        out += _count_byte(len(self.pps), "PPS")
        out += _write_nal_units(self.pps, "PPS")
        ext = self.high_profile
        if ext is not None and self.profile_idc in _AVCC_PLAIN_PROFILES:
            raise CodecError(f"avcC: profile {self.profile_idc} records end after the PPS list")
        if ext is not None:
            if ext.chroma_format_idc > 3:
                raise CodecError(f"avcC: chroma_format {ext.chroma_format_idc} exceeds 3")
            for depth in (ext.bit_depth_luma, ext.bit_depth_chroma):
                if not 8 <= depth <= 15:
                    raise CodecError(f"avcC: bit depth {depth} is not between 8 and 15")
            out += bytes(
                [
                    0xFC | ext.chroma_format_idc,
                    0xF8 | (ext.bit_depth_luma - 8),
                    0xF8 | (ext.bit_depth_chroma - 8),
                ]
            )
            out += _count_byte(len(ext.sps_ext), "SPS extension")
            out += _write_nal_units(ext.sps_ext, "SPS extension")
        return bytes(out)

    @property
    def codec_string(self) -> str:
        """The RFC 6381 ``avc1.PPCCLL`` codecs parameter for this record."""
        return avc_codec_string(self.profile_idc, self.profile_compatibility, self.level_idc)


def _read_nal_units(r: BitReader, count: int, field: str) -> tuple[bytes, ...]:
    units = []
    for _ in range(count):
        length = r.u(16, f"{field}Length")
        units.append(r.u(8 * length, f"{field}NALUnit").to_bytes(length, "big"))
    return tuple(units)


def _count_byte(count: int, what: str) -> bytes:
    if count > 255:
        raise CodecError(f"avcC: {count} {what} NAL units, at most 255 fit")
    return bytes([count])


def _write_nal_units(units: Sequence[bytes], what: str) -> bytes:
    out = bytearray()
    for nal in units:
        if len(nal) > 0xFFFF:
            raise CodecError(f"avcC: {what} NAL unit of {len(nal)} bytes, at most 65535 fit")
        out += len(nal).to_bytes(2, "big") + nal
    return bytes(out)
