"""AAC configuration: AudioSpecificConfig and the ADTS frame header.

:class:`AudioSpecificConfig` is the decoder configuration of ISO/IEC 14496-3 §1.6.2.1 that MP4
(``esds``), FLV/RTMP (AACPacketType 0) and RTP (RFC 3640 ``config=``) carry. :class:`AdtsHeader`
is the self-describing frame header of ISO/IEC 13818-7 §6.2 (14496-3 §1.A.2.2) that MPEG-TS
segments need in front of every raw AAC frame.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from wire.codec.bits import BitReader, BitWriter
from wire.codec.errors import CodecError

# audioObjectType values (ISO/IEC 14496-3 Table 1.17).
AOT_AAC_MAIN = 1
AOT_AAC_LC = 2
AOT_AAC_SSR = 3
AOT_AAC_LTP = 4
AOT_SBR = 5
AOT_AAC_SCALABLE = 6
AOT_TWINVQ = 7
AOT_ESCAPE = 31
AOT_PS = 29
AOT_ER_AAC_ELD = 39
AOT_USAC = 42

# Types that only ever signal an extension in front of the core type, or escape (§1.6.2.1).
_NOT_CORE_OBJECT_TYPES = frozenset({AOT_SBR, AOT_PS, AOT_ESCAPE})

# Object types whose configuration is a GASpecificConfig without error resilience (§4.4.1).
_GA_OBJECT_TYPES = frozenset(
    {AOT_AAC_MAIN, AOT_AAC_LC, AOT_AAC_SSR, AOT_AAC_LTP, AOT_AAC_SCALABLE, AOT_TWINVQ}
)

# samplingFrequencyIndex (Table 1.18); 13 and 14 are reserved, 15 codes the rate explicitly.
SAMPLING_FREQUENCIES = (
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
)  # fmt: skip
FREQUENCY_INDEX_ESCAPE = 15

# channelConfiguration to channel count (Table 1.19); 0 means a program_config_element follows.
_CHANNEL_COUNTS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 11: 7, 12: 8, 13: 24, 14: 8}

# Backward-compatible extension signalling after GASpecificConfig (§1.6.2.1, Table 1.15).
SYNC_EXTENSION_SBR = 0x2B7
SYNC_EXTENSION_PS = 0x548

_FRAME_LENGTH_SHORT = 960
_FRAME_LENGTH = 1024


def frequency_index(sample_rate: int) -> int:
    """The samplingFrequencyIndex for a rate, 15 (explicit) when the table lacks it."""
    if sample_rate in SAMPLING_FREQUENCIES:
        return SAMPLING_FREQUENCIES.index(sample_rate)
    return FREQUENCY_INDEX_ESCAPE


def _check_frequency(index: int, sample_rate: int, what: str) -> None:
    if index == FREQUENCY_INDEX_ESCAPE:
        if not 0 < sample_rate < 1 << 24:
            raise CodecError(f"AudioSpecificConfig: explicit {what} {sample_rate} Hz")
    elif not 0 <= index < len(SAMPLING_FREQUENCIES):
        raise CodecError(f"AudioSpecificConfig: {what} index {index} is reserved")
    elif SAMPLING_FREQUENCIES[index] != sample_rate:
        raise CodecError(
            f"AudioSpecificConfig: {what} index {index} means "
            f"{SAMPLING_FREQUENCIES[index]} Hz, not {sample_rate}"
        )


def _read_object_type(r: BitReader) -> int:
    """GetAudioObjectType() (§1.6.2.1.1): 5 bits, 31 escapes to 32 + 6 more bits."""
    object_type = r.u(5, "audioObjectType")
    if object_type == AOT_ESCAPE:
        object_type = 32 + r.u(6, "audioObjectTypeExt")
    return object_type


def _write_object_type(w: BitWriter, object_type: int) -> None:
    if object_type >= AOT_ESCAPE:
        w.u(5, AOT_ESCAPE)
        w.u(6, object_type - 32)
    else:
        w.u(5, object_type)


def _read_frequency(r: BitReader, field: str) -> tuple[int, int]:
    index = r.u(4, f"{field}Index")
    if index == FREQUENCY_INDEX_ESCAPE:
        return index, r.u(24, field)
    if index >= len(SAMPLING_FREQUENCIES):
        raise r.error(f"{field}Index {index} is reserved")
    return index, SAMPLING_FREQUENCIES[index]


def _write_frequency(w: BitWriter, index: int, sample_rate: int) -> None:
    w.u(4, index)
    if index == FREQUENCY_INDEX_ESCAPE:
        w.u(24, sample_rate)


@dataclass(frozen=True)
class SbrSignaling:
    """How a config says whether SBR (HE-AAC) and PS (HE-AAC v2) are present (§1.6.5).

    ``explicit`` is hierarchical signalling: audioObjectType 5 or 29 comes first and the core
    object type follows. Otherwise the backward-compatible sync extension (0x2B7, then 0x548
    for PS) trails the GASpecificConfig, which a plain AAC decoder can ignore. The extension
    sampling frequency is present exactly when SBR is.
    """

    explicit: bool
    sbr_present: bool
    ps_present: bool | None = None
    sampling_frequency_index: int | None = None
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        if self.explicit and not self.sbr_present:
            raise CodecError("AudioSpecificConfig: explicit signalling always means SBR")
        if self.explicit and self.ps_present is None:
            raise CodecError("AudioSpecificConfig: explicit signalling states PS presence")
        if self.ps_present is not None and not self.sbr_present:
            raise CodecError("AudioSpecificConfig: PS is only signalled together with SBR")
        if self.sbr_present != (self.sample_rate is not None):
            raise CodecError("AudioSpecificConfig: the SBR sample rate goes with SBR presence")
        if self.sampling_frequency_index is not None and self.sample_rate is not None:
            _check_frequency(self.sampling_frequency_index, self.sample_rate, "SBR frequency")
        elif self.sampling_frequency_index is not None or self.sample_rate is not None:
            raise CodecError("AudioSpecificConfig: SBR frequency needs both index and rate")


@dataclass(frozen=True)
class AudioSpecificConfig:
    """``AudioSpecificConfig`` (ISO/IEC 14496-3 §1.6.2.1).

    ``object_type`` and ``sample_rate`` describe the core decoder: for HE-AAC the core is AAC LC
    at half the output rate, and ``sbr`` carries the output rate. The GASpecificConfig of the
    AAC object types is read field by field; for any other object type (ER AAC LD/ELD, USAC,
    ALS, ...) the bits after channelConfiguration are kept as they are in ``specific_config``,
    left-aligned, with ``specific_config_bits`` saying how many of them count.
    """

    object_type: int
    sampling_frequency_index: int
    sample_rate: int
    channel_configuration: int
    frame_length_flag: bool = False
    core_coder_delay: int | None = None
    layer_nr: int = 0
    sbr: SbrSignaling | None = None
    specific_config: bytes = b""
    specific_config_bits: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.object_type < 32 + 64 or self.object_type in _NOT_CORE_OBJECT_TYPES:
            raise CodecError(
                f"AudioSpecificConfig: audio object type {self.object_type} is not a core type"
            )
        _check_frequency(self.sampling_frequency_index, self.sample_rate, "sampling frequency")
        if not 0 <= self.channel_configuration < 16:
            raise CodecError(
                f"AudioSpecificConfig: channelConfiguration {self.channel_configuration} "
                "does not fit 4 bits"
            )
        if self.object_type in _GA_OBJECT_TYPES:
            self._check_ga_fields()
        elif self.frame_length_flag or self.core_coder_delay is not None or self.layer_nr:
            raise CodecError(
                f"AudioSpecificConfig: audio object type {self.object_type} has no "
                "GASpecificConfig fields"
            )
        elif self.sbr is not None and not self.sbr.explicit:
            raise CodecError(
                f"AudioSpecificConfig: audio object type {self.object_type} can only signal "
                "SBR explicitly"
            )
        pad = len(self.specific_config) * 8 - self.specific_config_bits
        if not 0 <= pad < 8 or int.from_bytes(self.specific_config, "big") & ((1 << pad) - 1):
            raise CodecError(
                f"AudioSpecificConfig: specific config of {len(self.specific_config)} bytes "
                f"does not hold exactly {self.specific_config_bits} bits, zero-padded"
            )

    def _check_ga_fields(self) -> None:
        if self.specific_config_bits:
            raise CodecError("AudioSpecificConfig: AAC object types have no opaque config")
        if self.channel_configuration == 0:
            raise CodecError(
                "AudioSpecificConfig: channelConfiguration 0 (program_config_element) "
                "is not supported"
            )
        if self.channel_configuration not in _CHANNEL_COUNTS:
            raise CodecError(
                f"AudioSpecificConfig: channelConfiguration {self.channel_configuration} "
                "is reserved"
            )
        if self.core_coder_delay is not None and not 0 <= self.core_coder_delay < 1 << 14:
            raise CodecError(
                f"AudioSpecificConfig: coreCoderDelay {self.core_coder_delay} does not fit 14 bits"
            )
        if (self.layer_nr and self.object_type != AOT_AAC_SCALABLE) or not 0 <= self.layer_nr < 8:
            raise CodecError(
                f"AudioSpecificConfig: layerNr {self.layer_nr} for audio object type "
                f"{self.object_type} (only AAC scalable has 0 to 7)"
            )

    @classmethod
    def create(
        cls, sample_rate: int, channel_configuration: int, object_type: int = AOT_AAC_LC
    ) -> AudioSpecificConfig:
        """A plain config, the frequency index chosen from the rate."""
        return cls(object_type, frequency_index(sample_rate), sample_rate, channel_configuration)

    @classmethod
    def parse(cls, data: bytes) -> AudioSpecificConfig:
        """Parse a config.

        For the AAC object types, bits after what the config signals (padding, unknown
        extensions) are ignored; for other types they all belong to ``specific_config``.
        """
        r = BitReader(data, "AudioSpecificConfig")
        object_type = _read_object_type(r)
        frequency = _read_frequency(r, "samplingFrequency")
        channel_configuration = r.u(4, "channelConfiguration")
        sbr = None
        if object_type in (AOT_SBR, AOT_PS):
            sbr_frequency = _read_frequency(r, "extensionSamplingFrequency")
            sbr = SbrSignaling(True, True, object_type == AOT_PS, *sbr_frequency)
            object_type = _read_object_type(r)
        if object_type in _NOT_CORE_OBJECT_TYPES:
            raise r.error(f"audio object type {object_type} is not a core type")
        if object_type not in _GA_OBJECT_TYPES:
            bits = r.bits_left
            pad = -bits % 8
            config = (r.u(bits, "specific config") << pad).to_bytes((bits + pad) // 8, "big")
            return cls(
                object_type,
                *frequency,
                channel_configuration,
                sbr=sbr,
                specific_config=config,
                specific_config_bits=bits,
            )
        if channel_configuration == 0:
            raise r.error("channelConfiguration 0 (program_config_element) is not supported")
        # GASpecificConfig (§4.4.1)
        frame_length_flag = r.flag("frameLengthFlag")
        core_coder_delay = None
        if r.flag("dependsOnCoreCoder"):
            core_coder_delay = r.u(14, "coreCoderDelay")
        if r.flag("extensionFlag"):
            raise r.error(f"extensionFlag is set for audio object type {object_type}")
        layer_nr = r.u(3, "layerNr") if object_type == AOT_AAC_SCALABLE else 0
        if sbr is None and r.bits_left >= 16:
            sbr = _read_sync_extension(r)
        return cls(
            object_type,
            *frequency,
            channel_configuration,
            frame_length_flag,
            core_coder_delay,
            layer_nr,
            sbr,
        )

    def serialize(self) -> bytes:
        w = BitWriter()
        sbr = self.sbr
        if sbr is not None and sbr.explicit:
            _write_object_type(w, AOT_PS if sbr.ps_present else AOT_SBR)
        else:
            _write_object_type(w, self.object_type)
        _write_frequency(w, self.sampling_frequency_index, self.sample_rate)
        w.u(4, self.channel_configuration)
        if sbr is not None and sbr.explicit:
            _write_sbr_frequency(w, sbr)
            _write_object_type(w, self.object_type)
        if self.object_type not in _GA_OBJECT_TYPES:
            pad = len(self.specific_config) * 8 - self.specific_config_bits
            w.u(self.specific_config_bits, int.from_bytes(self.specific_config, "big") >> pad)
            return w.to_bytes()
        w.flag(self.frame_length_flag)
        w.flag(self.core_coder_delay is not None)
        if self.core_coder_delay is not None:
            w.u(14, self.core_coder_delay)
        w.flag(False)  # extensionFlag
        if self.object_type == AOT_AAC_SCALABLE:
            w.u(3, self.layer_nr)
        if sbr is not None and not sbr.explicit:
            w.u(11, SYNC_EXTENSION_SBR)
            _write_object_type(w, AOT_SBR)
            w.flag(sbr.sbr_present)
            if sbr.sbr_present:
                _write_sbr_frequency(w, sbr)
                if sbr.ps_present is not None:
                    w.u(11, SYNC_EXTENSION_PS)
                    w.flag(sbr.ps_present)
        return w.to_bytes()

    @property
    def channels(self) -> int | None:
        """Channel count of the channel configuration (PS turns a mono core into stereo).

        None when channelConfiguration leaves the layout to an object type's own config.
        """
        return _CHANNEL_COUNTS.get(self.channel_configuration)

    @property
    def samples_per_frame(self) -> int:
        """Core samples per frame: 1024, or 960 with frameLengthFlag."""
        return _FRAME_LENGTH_SHORT if self.frame_length_flag else _FRAME_LENGTH

    @property
    def output_sample_rate(self) -> int:
        """The decoded rate: the SBR rate when SBR is present, else the core rate."""
        if self.sbr is not None and self.sbr.sample_rate is not None:
            return self.sbr.sample_rate
        return self.sample_rate

    @property
    def codec_string(self) -> str:
        """The RFC 6381 codecs parameter, ``mp4a.40.2`` for AAC LC, 5 for HE-AAC, 29 for v2."""
        object_type = self.object_type
        if self.sbr is not None and self.sbr.sbr_present:
            object_type = AOT_PS if self.sbr.ps_present else AOT_SBR
        return f"mp4a.40.{object_type}"


def _write_sbr_frequency(w: BitWriter, sbr: SbrSignaling) -> None:
    if sbr.sampling_frequency_index is not None and sbr.sample_rate is not None:
        _write_frequency(w, sbr.sampling_frequency_index, sbr.sample_rate)


def _read_sync_extension(r: BitReader) -> SbrSignaling | None:
    """The backward-compatible SBR/PS signalling that may trail a config (§1.6.2.1)."""
    if r.u(11, "syncExtensionType") != SYNC_EXTENSION_SBR:
        return None
    if _read_object_type(r) != AOT_SBR:
        return None
    if not r.flag("sbrPresentFlag"):
        return SbrSignaling(False, False)
    frequency = _read_frequency(r, "extensionSamplingFrequency")
    ps_present = None
    if r.bits_left >= 12 and r.u(11, "syncExtensionType") == SYNC_EXTENSION_PS:
        ps_present = r.flag("psPresentFlag")
    return SbrSignaling(False, True, ps_present, *frequency)


ADTS_SYNCWORD = 0xFFF
ADTS_HEADER_LENGTH = 7
ADTS_CRC_LENGTH = 2
ADTS_BUFFER_FULLNESS_VBR = 0x7FF
_ADTS_MAX_FRAME_LENGTH = (1 << 13) - 1


@dataclass(frozen=True)
class AdtsHeader:
    """adts_fixed_header() and adts_variable_header() (ISO/IEC 13818-7 §6.2.1 and §6.2.2).

    ``frame_length`` counts the whole frame, header and CRC included. ``crc_check`` is present
    exactly when ``protection_absent`` is false.
    """

    mpeg2: bool
    protection_absent: bool
    profile: int  # audioObjectType - 1 for MPEG-4 (§1.A.2.2.1)
    sampling_frequency_index: int
    private_bit: bool
    channel_configuration: int
    original_copy: bool
    home: bool
    copyright_identification_bit: bool
    copyright_identification_start: bool
    frame_length: int
    buffer_fullness: int
    number_of_raw_data_blocks_in_frame: int
    crc_check: int | None = None

    def __post_init__(self) -> None:
        if self.protection_absent != (self.crc_check is None):
            raise CodecError("ADTS: crc_check goes with protection_absent 0")
        if self.frame_length < self.header_length or self.frame_length > _ADTS_MAX_FRAME_LENGTH:
            raise CodecError(
                f"ADTS: aac_frame_length {self.frame_length} is outside "
                f"{self.header_length}..{_ADTS_MAX_FRAME_LENGTH}"
            )

    @classmethod
    def build(
        cls,
        asc: AudioSpecificConfig,
        raw_length: int,
        *,
        buffer_fullness: int = ADTS_BUFFER_FULLNESS_VBR,
    ) -> AdtsHeader:
        """An MPEG-4 ADTS header without CRC for one raw_data_block of ``raw_length`` bytes.

        ADTS has no room for explicit SBR signalling or an escaped frequency: it carries the core
        (LC for HE-AAC) and the decoder finds SBR implicitly.
        """
        if not AOT_AAC_MAIN <= asc.object_type <= AOT_AAC_LTP:
            raise CodecError(f"ADTS: audio object type {asc.object_type} does not fit profile")
        if asc.sampling_frequency_index == FREQUENCY_INDEX_ESCAPE:
            raise CodecError(f"ADTS: sample rate {asc.sample_rate} has no frequency index")
        if asc.channel_configuration > 7:
            raise CodecError(f"ADTS: channelConfiguration {asc.channel_configuration} exceeds 7")
        return cls(
            False,
            True,
            asc.object_type - 1,
            asc.sampling_frequency_index,
            False,
            asc.channel_configuration,
            False,
            False,
            False,
            False,
            ADTS_HEADER_LENGTH + raw_length,
            buffer_fullness,
            0,
        )

    @classmethod
    def parse(cls, data: bytes) -> AdtsHeader:
        """Parse the header at the start of ``data``; the frame body may follow or not."""
        r = BitReader(data[: ADTS_HEADER_LENGTH + ADTS_CRC_LENGTH], "ADTS")
        syncword = r.u(12, "syncword")
        if syncword != ADTS_SYNCWORD:
            raise CodecError(f"ADTS: syncword 0x{syncword:03X}, expected 0xFFF")
        mpeg2 = r.flag("ID")
        layer = r.u(2, "layer")
        if layer != 0:
            raise CodecError(f"ADTS: layer {layer}, expected 0")
        protection_absent = r.flag("protection_absent")
        profile = r.u(2, "profile_ObjectType")
        frequency_index_ = r.u(4, "sampling_frequency_index")
        if frequency_index_ >= len(SAMPLING_FREQUENCIES):
            raise CodecError(f"ADTS: sampling_frequency_index {frequency_index_} is reserved")
        header = (
            mpeg2,
            protection_absent,
            profile,
            frequency_index_,
            r.flag("private_bit"),
            r.u(3, "channel_configuration"),
            r.flag("original_copy"),
            r.flag("home"),
            r.flag("copyright_identification_bit"),
            r.flag("copyright_identification_start"),
        )
        frame_length = r.u(13, "aac_frame_length")
        buffer_fullness = r.u(11, "adts_buffer_fullness")
        blocks = r.u(2, "number_of_raw_data_blocks_in_frame")
        crc = None if protection_absent else r.u(16, "crc_check")
        return cls(*header, frame_length, buffer_fullness, blocks, crc)

    def serialize(self) -> bytes:
        w = BitWriter()
        w.u(12, ADTS_SYNCWORD)
        w.flag(self.mpeg2)
        w.u(2, 0)
        w.flag(self.protection_absent)
        for value, bits in (
            (self.profile, 2),
            (self.sampling_frequency_index, 4),
            (int(self.private_bit), 1),
            (self.channel_configuration, 3),
            (int(self.original_copy), 1),
            (int(self.home), 1),
            (int(self.copyright_identification_bit), 1),
            (int(self.copyright_identification_start), 1),
            (self.frame_length, 13),
            (self.buffer_fullness, 11),
            (self.number_of_raw_data_blocks_in_frame, 2),
        ):
            if not 0 <= value < 1 << bits:
                raise CodecError(f"ADTS: {value} does not fit in {bits} bits")
            w.u(bits, value)
        if self.crc_check is not None:
            w.u(16, self.crc_check)
        return w.to_bytes()

    @property
    def header_length(self) -> int:
        return ADTS_HEADER_LENGTH + (0 if self.protection_absent else ADTS_CRC_LENGTH)

    @property
    def sample_rate(self) -> int:
        return SAMPLING_FREQUENCIES[self.sampling_frequency_index]

    def audio_specific_config(self) -> AudioSpecificConfig:
        """The equivalent MPEG-4 config (profile + 1 is the audio object type)."""
        return AudioSpecificConfig(
            self.profile + 1,
            self.sampling_frequency_index,
            self.sample_rate,
            self.channel_configuration,
        )


def adts_frame(asc: AudioSpecificConfig, raw_frame: bytes) -> bytes:
    """One raw AAC frame behind the ADTS header that describes it, ready for MPEG-TS."""
    return _adts_header(asc, len(raw_frame)) + raw_frame


@functools.lru_cache(maxsize=4096)
def _adts_header(asc: AudioSpecificConfig, raw_length: int) -> bytes:
    # A stream's headers differ only in the frame length, so a muxer builds each one once.
    return AdtsHeader.build(asc, raw_length).serialize()


def split_adts(data: bytes) -> Iterator[tuple[AdtsHeader, bytes]]:
    """Each header of an ADTS stream with the frame bytes after it (and after any CRC)."""
    pos = 0
    while pos < len(data):
        header = AdtsHeader.parse(data[pos:])
        end = pos + header.frame_length
        if end > len(data):
            raise CodecError(
                f"ADTS: frame of {header.frame_length} bytes at offset {pos} overruns the "
                f"stream ({len(data) - pos} bytes left)"
            )
        yield header, data[pos + header.header_length : end]
        pos = end
