"""A deterministic stereo test signal: a steady tone with a sync pulse at every whole second.

The pulse (a louder, higher beep) starts on the same media time as the video's sync square, so an
observer can check audio/video alignment by ear, by eye or by measurement.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TONE_HZ = 440.0
TONE_LEVEL = 0.1  # -20 dBFS
PULSE_HZ = 1000.0
PULSE_LEVEL = 0.5  # -6 dBFS
PULSE_SECONDS = 0.04


def tone_block(start: int, count: int, sample_rate: int, channels: int) -> npt.NDArray[np.float32]:
    """Samples ``start .. start+count`` of the signal as planar float32, shape (channels, count)."""
    n = np.arange(start, start + count, dtype=np.int64)
    t = n / sample_rate
    signal = TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t)
    in_pulse = (n % sample_rate) < round(PULSE_SECONDS * sample_rate)
    signal = np.where(in_pulse, PULSE_LEVEL * np.sin(2 * np.pi * PULSE_HZ * t), signal)
    return np.repeat(signal.astype(np.float32)[np.newaxis, :], channels, axis=0)
