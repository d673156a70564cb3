"""The CMAF header (ISO/IEC 23000-19 §7.3.2.1): ftyp and a moov with no samples.

Every sample lives in the media segments, so each track's sample table is empty (§8.5-8.7 of
ISO/IEC 14496-12 still require the boxes) and ``mvex`` announces movie fragments (§8.8.1).
Video tracks count time at 90 kHz, audio tracks at their sample rate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wire.codec.aac import AudioSpecificConfig
from wire.codec.h264 import AvcDecoderConfigurationRecord, H264Sps
from wire.codec.h265 import H265Sps, HevcDecoderConfigurationRecord
from wire.codec.nal import (
    H264_NAL_PPS,
    H264_NAL_SPS,
    H265_NAL_PPS,
    H265_NAL_SPS,
    H265_NAL_VPS,
    VideoCodec,
    nal_type,
)
from wire.fmp4.box import box, full_box
from wire.fmp4.errors import Fmp4Error

VIDEO_TIMESCALE = 90_000
MOVIE_TIMESCALE = 1000
MAX_DIMENSION = 0xFFFF
"""The largest picture width or height a VisualSampleEntry (16-bit fields) can describe."""
MAJOR_BRAND = b"iso6"
COMPATIBLE_BRANDS = (b"iso6", b"cmfc", b"mp41")

# tkhd flags (§8.3.2.3): track_enabled | track_in_movie.
TKHD_FLAGS = 0x000003
# The unity matrix of mvhd and tkhd (§8.2.2.3), 16.16 and 2.30 fixed point.
UNITY_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
LANGUAGE_UND = (ord("u") - 0x60) << 10 | (ord("n") - 0x60) << 5 | (ord("d") - 0x60)
URL_SELF_CONTAINED = 0x000001  # dref 'url ' flag: the media is in the same file (§8.7.2.3)

# ISO/IEC 14496-1 §7.2.2.1 descriptor tags and §7.2.6.6 DecoderConfigDescriptor values.
ES_DESCRIPTOR_TAG = 0x03
DECODER_CONFIG_DESCRIPTOR_TAG = 0x04
DECODER_SPECIFIC_INFO_TAG = 0x05
SL_CONFIG_DESCRIPTOR_TAG = 0x06
OBJECT_TYPE_AAC = 0x40  # Audio ISO/IEC 14496-3
STREAM_TYPE_AUDIO = 0x05
SL_PREDEFINED_MP4 = 0x02

# channel_configuration 1-6 is that many channels, 7 is 7.1 (ISO/IEC 14496-3 Table 1.19).
_CHANNELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8}


@dataclass(frozen=True, slots=True)
class VideoTrack:
    """An H.264 or H.265 track: its parameter sets as NAL units (VPS for H.265, SPS, PPS)."""

    codec: VideoCodec
    parameter_sets: tuple[bytes, ...]

    def sets_of(self, kind: int) -> list[bytes]:
        return [nal for nal in self.parameter_sets if nal and nal_type(self.codec, nal) == kind]

    def sample_entry(self) -> bytes:
        """avc1 + avcC or hvc1 + hvcC (ISO/IEC 14496-15 §5.4.2, §8.4.1)."""
        width, height = self.dimensions()
        if self.codec is VideoCodec.H264:
            avcc = AvcDecoderConfigurationRecord.build(
                self.sets_of(H264_NAL_SPS), self.sets_of(H264_NAL_PPS)
            )
            return _visual_sample_entry(b"avc1", width, height, box(b"avcC", avcc.serialize()))
        hvcc = HevcDecoderConfigurationRecord.build(
            self.sets_of(H265_NAL_VPS), self.sets_of(H265_NAL_SPS), self.sets_of(H265_NAL_PPS)
        )
        return _visual_sample_entry(b"hvc1", width, height, box(b"hvcC", hvcc.serialize()))

    def dimensions(self) -> tuple[int, int]:
        kind = H264_NAL_SPS if self.codec is VideoCodec.H264 else H265_NAL_SPS
        sps = self.sets_of(kind)
        if not sps:
            raise Fmp4Error(f"{self.codec} track without an SPS")
        parsed = H264Sps.parse(sps[0]) if self.codec is VideoCodec.H264 else H265Sps.parse(sps[0])
        width, height = parsed.width, parsed.height
        # The sample entry's width and height are 16 bits, tkhd's the integer part of a 16.16
        # number: an SPS from the network may declare more (pic_width_in_mbs_minus1 is ue(v)).
        if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
            raise Fmp4Error(
                f"{self.codec} picture of {width}x{height} does not fit a sample entry "
                f"(1-{MAX_DIMENSION} each way)"
            )
        return width, height


@dataclass(frozen=True, slots=True)
class AudioTrack:
    """An AAC track, described by its AudioSpecificConfig."""

    asc: AudioSpecificConfig

    @property
    def timescale(self) -> int:
        return self.asc.sample_rate

    def sample_entry(self) -> bytes:
        """mp4a + esds (ISO/IEC 14496-14 §6.7, §5.6)."""
        channels = _CHANNELS.get(self.asc.channel_configuration, 2)
        if self.asc.sample_rate > 0xFFFF:
            raise Fmp4Error(f"mp4a: sample rate {self.asc.sample_rate} does not fit 16.16")
        # AudioSampleEntry (§12.2.3.2): reserved, data_reference_index, reserved[2],
        # channelcount, samplesize 16, pre_defined, reserved, samplerate as 16.16.
        fields = struct.pack(">6xH8xHH4xI", 1, channels, 16, self.asc.sample_rate << 16)
        return box(b"mp4a", fields, esds(self.asc))


Track = VideoTrack | AudioTrack


def esds(asc: AudioSpecificConfig) -> bytes:
    """The esds box: an ES_Descriptor carrying the AudioSpecificConfig (ISO/IEC 14496-1 §7.2.6)."""
    specific = descriptor(DECODER_SPECIFIC_INFO_TAG, asc.serialize())
    # objectTypeIndication, streamType << 2 | upStream 0 | reserved 1, bufferSizeDB (24 bits),
    # maxBitrate, avgBitrate: 0 where unknown.
    decoder_config = descriptor(
        DECODER_CONFIG_DESCRIPTOR_TAG,
        struct.pack(">BB3xII", OBJECT_TYPE_AAC, STREAM_TYPE_AUDIO << 2 | 1, 0, 0),
        specific,
    )
    sl_config = descriptor(SL_CONFIG_DESCRIPTOR_TAG, bytes([SL_PREDEFINED_MP4]))
    # ES_ID 0 (set by the file format), no dependency, URL or OCR stream, priority 0.
    es = descriptor(ES_DESCRIPTOR_TAG, struct.pack(">HB", 0, 0), decoder_config, sl_config)
    return full_box(b"esds", 0, 0, es)


def descriptor(tag: int, *payload: bytes) -> bytes:
    """A descriptor with its size in the expandable form of ISO/IEC 14496-1 §8.3.3: seven bits
    a byte, the high bit set on every byte but the last."""
    body = b"".join(payload)
    size = len(body)
    if size >= 1 << 28:
        raise Fmp4Error(f"descriptor of {size} bytes is too large")
    encoded = [size & 0x7F]
    size >>= 7
    while size:
        encoded.append(0x80 | size & 0x7F)
        size >>= 7
    return bytes([tag, *reversed(encoded)]) + body


def init_segment(tracks: tuple[Track, ...]) -> bytes:
    """ftyp + moov for ``tracks``; track IDs are their positions counted from 1."""
    if not tracks:
        raise Fmp4Error("init segment: needs at least one track")
    ftyp = box(b"ftyp", MAJOR_BRAND, struct.pack(">I", 0), *COMPATIBLE_BRANDS)
    traks = [_trak(track_id, track) for track_id, track in enumerate(tracks, start=1)]
    trexs = [_trex(track_id) for track_id in range(1, len(tracks) + 1)]
    moov = box(b"moov", _mvhd(len(tracks) + 1), *traks, box(b"mvex", *trexs))
    return ftyp + moov


def timescale(track: Track) -> int:
    """The track's media timescale (mdhd)."""
    return VIDEO_TIMESCALE if isinstance(track, VideoTrack) else track.timescale


def _mvhd(next_track_id: int) -> bytes:
    # Version 0 (§8.2.2.2): creation and modification times 0, duration 0 (fragmented: the
    # duration is that of the fragments), rate 1.0, volume 1.0, the matrix, pre_defined.
    return full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, 0),
        struct.pack(">IH10x", 0x00010000, 0x0100),
        UNITY_MATRIX,
        bytes(24),
        struct.pack(">I", next_track_id),
    )


def _trak(track_id: int, track: Track) -> bytes:
    video = isinstance(track, VideoTrack)
    width, height = track.dimensions() if isinstance(track, VideoTrack) else (0, 0)
    tkhd = full_box(
        b"tkhd",
        0,
        TKHD_FLAGS,
        struct.pack(">IIIII", 0, 0, track_id, 0, 0),
        struct.pack(">8xhhH2x", 0, 0, 0 if video else 0x0100),
        UNITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full_box(
        b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale(track), 0, LANGUAGE_UND, 0)
    )
    handler, name = (b"vide", b"VideoHandler\x00") if video else (b"soun", b"SoundHandler\x00")
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, handler), name)
    # vmhd flags are 1 (§12.1.2.2); graphicsmode copy, opcolor 0. smhd: balance 0.
    media_header = full_box(b"vmhd", 0, 1, bytes(8)) if video else full_box(b"smhd", 0, 0, bytes(4))
    dref = full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, URL_SELF_CONTAINED))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), track.sample_entry()),
        full_box(b"stts", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )
    minf = box(b"minf", media_header, box(b"dinf", dref), stbl)
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))


def _trex(track_id: int) -> bytes:
    # Defaults (§8.8.3): sample description 1; every trun gives durations, sizes and flags.
    return full_box(b"trex", 0, 0, struct.pack(">IIIII", track_id, 1, 0, 0, 0))


def _visual_sample_entry(kind: bytes, width: int, height: int, config: bytes) -> bytes:
    # VisualSampleEntry (§12.1.3.2): reserved, data_reference_index 1, pre_defined and reserved,
    # width, height, 72 dpi both ways, reserved, frame_count 1, an empty compressorname,
    # depth 0x0018, pre_defined -1.
    fields = struct.pack(
        ">6xH16xHHIIIH32sHh", 1, width, height, 0x00480000, 0x00480000, 0, 1, b"", 0x0018, -1
    )
    return box(kind, fields, config)
