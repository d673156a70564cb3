"""Samples as FLV plans for the refserver tests: 1 s GOPs, so 1 s HLS segments."""

from __future__ import annotations

from fractions import Fraction

import pytest

from camsim.encoder.flv_source import FlvPlan
from camsim.media.loader import load
from tests.conftest import SampleFactory
from wire.codec.nal import VideoCodec


@pytest.fixture(scope="session")
def h264_plan(make_test_sample: SampleFactory) -> FlvPlan:
    return FlvPlan.build(load(make_test_sample(gop_seconds=Fraction(1))))


@pytest.fixture(scope="session")
def hevc_plan(make_test_sample: SampleFactory) -> FlvPlan:
    sample = make_test_sample(codec=VideoCodec.H265, gop_seconds=Fraction(1))
    return FlvPlan.build(load(sample), enhanced=True)
