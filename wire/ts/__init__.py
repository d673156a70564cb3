"""MPEG-2 transport streams (ISO/IEC 13818-1) for HLS segments: muxer and a small demuxer."""

from wire.ts.demuxer import ContinuityError, DemuxedPes, TsDemuxer, demux
from wire.ts.errors import TsError
from wire.ts.muxer import PID_AUDIO, PID_PMT, PID_VIDEO, TsMuxer
from wire.ts.packet import TS_PACKET_SIZE, AdaptationField, TsPacket
from wire.ts.pes import PesPacket
from wire.ts.psi import Pat, Pmt, PmtStream, crc32_mpeg2

__all__ = [
    "PID_AUDIO",
    "PID_PMT",
    "PID_VIDEO",
    "TS_PACKET_SIZE",
    "AdaptationField",
    "ContinuityError",
    "DemuxedPes",
    "Pat",
    "PesPacket",
    "Pmt",
    "PmtStream",
    "TsDemuxer",
    "TsError",
    "TsMuxer",
    "TsPacket",
    "crc32_mpeg2",
    "demux",
]
