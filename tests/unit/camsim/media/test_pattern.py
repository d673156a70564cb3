from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from camsim.media.pattern import TestPattern, rgb_to_yuv709


def test_layout_is_i420():
    frame = TestPattern(320, 240, Fraction(30)).render(0)
    assert frame.shape == (360, 320)
    assert frame.dtype == np.uint8


def test_frames_differ_and_repeat_deterministically():
    a, b = TestPattern(320, 240, Fraction(30)), TestPattern(320, 240, Fraction(30))
    assert np.array_equal(a.render(17), b.render(17))
    assert not np.array_equal(a.render(17), a.render(18))


def test_counter_area_changes_with_the_frame_index():
    pattern = TestPattern(640, 360, Fraction(30))
    h = 360
    digits = pattern._digit_height
    counter_rows = slice(h - 2 * digits - 32, h - digits - 32)
    left = slice(0, 320)
    one, two = pattern.render(1), pattern.render(2)
    assert not np.array_equal(one[counter_rows, left], two[counter_rows, left])


def test_bt709_reference_values():
    assert rgb_to_yuv709(1, 1, 1) == (235, 128, 128)
    assert rgb_to_yuv709(0, 0, 0) == (16, 128, 128)
    assert rgb_to_yuv709(0.75, 0.75, 0.0) == (168, 44, 136)


def test_rejects_odd_sizes():
    with pytest.raises(ValueError, match="need even sizes"):
        TestPattern(321, 240, Fraction(30))
