"""A deterministic synthetic test pattern rendered straight into I420 (yuv420p) planes.

The picture: 75% colour bars, a block that travels across them, a scrolling band of seeded noise
(so the encoder has real work at camera-like bitrates), a seven-segment frame counter and media
clock, and a sync square that flashes white on the first frame of every second, in step with the
audio pulse. Seven-segment glyphs are drawn with numpy, so no font is needed and every run gives
the same pixels.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

Plane = npt.NDArray[np.uint8]

# 75% colour bars (white, yellow, cyan, green, magenta, red, blue) in RGB 0..1.
_BARS_RGB = [
    (0.75, 0.75, 0.75),
    (0.75, 0.75, 0.0),
    (0.0, 0.75, 0.75),
    (0.0, 0.75, 0.0),
    (0.75, 0.0, 0.75),
    (0.75, 0.0, 0.0),
    (0.0, 0.0, 0.75),
]

#  Segments:  aaa
#            f   b
#             ggg
#            e   c
#             ddd
_SEGMENTS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    "-": "g",
    " ": "",
}

_Y_BLACK, _Y_WHITE = 16, 235
_GRAIN = 6  # amplitude of the per-frame noise in the noise band


def rgb_to_yuv709(r: float, g: float, b: float) -> tuple[int, int, int]:
    """BT.709 limited-range Y'CbCr for an R'G'B' triple in 0..1."""
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    cb = (b - y) / 1.8556
    cr = (r - y) / 1.5748
    return round(16 + 219 * y), round(128 + 224 * cb), round(128 + 224 * cr)


def _glyph(char: str, height: int) -> npt.NDArray[np.bool_]:
    """A boolean mask of one character, ``height`` rows tall and ``height // 2`` wide."""
    width = max(height // 2, 3)
    mask = np.zeros((height, width), dtype=bool)
    t = max(height // 10, 1)  # stroke thickness
    mid = height // 2
    if char in (":", "."):
        rows = [mid - height // 4, mid + height // 4] if char == ":" else [height - t]
        col = width // 2 - t // 2
        for row in rows:
            mask[row : row + t, col : col + t] = True
        return mask
    spans = {
        "a": (slice(0, t), slice(0, width)),
        "d": (slice(height - t, height), slice(0, width)),
        "g": (slice(mid - t // 2, mid - t // 2 + t), slice(0, width)),
        "f": (slice(0, mid), slice(0, t)),
        "b": (slice(0, mid), slice(width - t, width)),
        "e": (slice(mid, height), slice(0, t)),
        "c": (slice(mid, height), slice(width - t, width)),
    }
    for segment in _SEGMENTS[char]:
        mask[spans[segment]] = True
    return mask


class TestPattern:
    """Renders frame ``i`` of the pattern as one contiguous I420 buffer of shape (h*3/2, w)."""

    __test__ = False  # not a pytest test class

    def __init__(self, width: int, height: int, fps: Fraction, seed: int = 0x5EED) -> None:
        if width % 2 or height % 2 or width < 64 or height < 64:
            raise ValueError(f"pattern size {width}x{height}: need even sizes of at least 64x64")
        self.width, self.height, self.fps = width, height, fps
        self._y, self._u, self._v = self._background()
        self._seed = seed
        rng = np.random.default_rng(seed)
        self._band_top = height * 13 // 20
        self._band_height = (height // 5) & ~1
        # Noise twice as wide as the frame so the band can scroll and wrap.
        noise = rng.integers(-24, 25, size=(self._band_height, 2 * width), dtype=np.int16)
        self._noise = np.clip(noise + 128, 0, 255).astype(np.uint8)
        self._digit_height = max(height // 12, 10)
        self._glyphs = {c: _glyph(c, self._digit_height) for c in "0123456789-:. "}

    def _background(self) -> tuple[Plane, Plane, Plane]:
        w, h = self.width, self.height
        y = np.full((h, w), _Y_BLACK, dtype=np.uint8)
        u = np.full((h // 2, w // 2), 128, dtype=np.uint8)
        v = np.full((h // 2, w // 2), 128, dtype=np.uint8)
        bar_bottom = (h * 3 // 5) & ~1
        for i, rgb in enumerate(_BARS_RGB):
            x0 = (i * w // len(_BARS_RGB)) & ~1
            x1 = ((i + 1) * w // len(_BARS_RGB)) & ~1
            yy, cb, cr = rgb_to_yuv709(*rgb)
            y[:bar_bottom, x0:x1] = yy
            u[: bar_bottom // 2, x0 // 2 : x1 // 2] = cb
            v[: bar_bottom // 2, x0 // 2 : x1 // 2] = cr
        return y, u, v

    def render(self, index: int) -> Plane:
        w, h = self.width, self.height
        y = self._y.copy()
        u = self._u.copy()
        v = self._v.copy()

        # Scrolling texture plus fresh sensor-like noise, so motion search alone cannot predict
        # the band and the encoder spends bits the way it does on a real camera.
        shift = (index * 8) % w
        top = self._band_top
        grain = np.random.default_rng((self._seed, index)).integers(
            -_GRAIN, _GRAIN + 1, size=(self._band_height, w), dtype=np.int16
        )
        band = self._noise[:, shift : shift + w].astype(np.int16) + grain
        y[top : top + self._band_height] = np.clip(band, 0, 255).astype(np.uint8)

        # A block sweeping across the bars, one pass every 4 seconds.
        period = max(round(4 * self.fps), 1)
        size = (h // 8) & ~1
        bx = ((index % period) * (w - size) // period) & ~1
        by = (h // 5) & ~1
        y[by : by + size, bx : bx + size] = _Y_WHITE
        u[by // 2 : (by + size) // 2, bx // 2 : (bx + size) // 2] = 128
        v[by // 2 : (by + size) // 2, bx // 2 : (bx + size) // 2] = 128

        # Sync square: white on the first frame of each second, black otherwise.
        second_start = self._is_first_frame_of_second(index)
        sq = (h // 10) & ~1
        y[h - sq - 8 : h - 8, w - sq - 8 : w - 8] = _Y_WHITE if second_start else _Y_BLACK

        self._draw_text(y, u, v, f"{index:07d}", 16, h - 2 * self._digit_height - 32)
        self._draw_text(y, u, v, self._clock(index), 16, h - self._digit_height - 16)

        out = np.empty((h * 3 // 2, w), dtype=np.uint8)
        flat = out.reshape(-1)
        flat[: w * h] = y.reshape(-1)
        quarter = w * h // 4
        flat[w * h : w * h + quarter] = u.reshape(-1)
        flat[w * h + quarter :] = v.reshape(-1)
        return out

    def _is_first_frame_of_second(self, index: int) -> bool:
        return index == 0 or int(index / self.fps) != int((index - 1) / self.fps)

    def _clock(self, index: int) -> str:
        ms = int(Fraction(index) / self.fps * 1000)
        s, ms = divmod(ms, 1000)
        m, s = divmod(s, 60)
        hours, m = divmod(m, 60)
        return f"{hours % 100:02d}:{m:02d}:{s:02d}.{ms:03d}"

    def _draw_text(self, y: Plane, u: Plane, v: Plane, text: str, x: int, top: int) -> None:
        gh = self._digit_height
        gap = max(gh // 6, 2)
        width = sum(self._glyphs[c].shape[1] + gap for c in text) + gap
        x0, y0 = x & ~1, (top - gap) & ~1
        x1 = min(x0 + width + 1, self.width) & ~1
        y1 = min(top + gh + gap + 1, self.height) & ~1
        if y0 < 0:
            return
        y[y0:y1, x0:x1] = _Y_BLACK
        u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = 128
        v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = 128
        cx = x0 + gap
        for char in text:
            mask = self._glyphs[char]
            gw = mask.shape[1]
            if cx + gw > self.width or top + gh > self.height:
                break
            region = y[top : top + gh, cx : cx + gw]
            region[mask] = _Y_WHITE
            cx += gw + gap
