"""The same spec gives the same bytes whatever the process did before.

Two runs in one process hardly ever differ; the heap they start from does. glibc's
``MALLOC_PERTURB_`` fills fresh allocations with a fixed byte instead of whatever was there, so
an encoder that reads memory it never wrote shows it on every run instead of once in a while:
x264's MB-tree did (every frame changed under ``MALLOC_PERTURB_=1``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from wire.codec.nal import VideoCodec

ROOT = Path(__file__).resolve().parents[4]

MAKE = """
import sys
from fractions import Fraction
from pathlib import Path
from camsim.media.make import make_sample
from camsim.media.spec import SampleSpec
from wire.codec.nal import VideoCodec

spec = SampleSpec(
    codec=VideoCodec(sys.argv[1]), width=320, height=240, fps=Fraction(15),
    duration=Fraction(1), bitrate=400_000, bframes=int(sys.argv[2]),
)
make_sample(spec, Path(sys.argv[3]))
"""

# Byte values that made x264 differ before: fresh memory filled with 0xfe (and freed memory with
# 0x01), and two others that did not, as a control.
PERTURBATIONS = ("1", "2", "165")


def make_in_process(codec: VideoCodec, bframes: int, out: Path, perturb: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}
    if perturb is not None:
        env["MALLOC_PERTURB_"] = perturb
    subprocess.run(
        [sys.executable, "-c", MAKE, codec.value, str(bframes), str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    return hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="MALLOC_PERTURB_ is glibc's")
@pytest.mark.parametrize(
    ("codec", "bframes"), [(VideoCodec.H264, 0), (VideoCodec.H264, 2), (VideoCodec.H265, 0)]
)
def test_same_bytes_whatever_the_heap_held(tmp_path: Path, codec: VideoCodec, bframes: int):
    reference = make_in_process(codec, bframes, tmp_path / "clean.mp4", None)
    for perturb in PERTURBATIONS:
        made = make_in_process(codec, bframes, tmp_path / f"perturb-{perturb}.mp4", perturb)
        assert made == reference, f"MALLOC_PERTURB_={perturb} changed the sample"
