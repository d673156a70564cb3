from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, astuple, fields, replace

import pytest

from refserver.hls import Frame, FrameKind

NALUS = (b"\x65\x88\x84", b"\x06\x05")


def test_the_classmethods_make_what_the_constructor_makes():
    video = Frame.video(3003, 0, NALUS, True, 1_700_000_000_000_000)
    assert video == Frame(
        FrameKind.VIDEO, 3003, 0, keyframe=True, nalus=NALUS, wallclock_us=1_700_000_000_000_000
    )
    assert astuple(video) == (
        FrameKind.VIDEO, 3003, 0, True, NALUS, b"", 1_700_000_000_000_000
    )  # fmt: skip
    audio = Frame.audio(1920, b"\x21\x10")
    assert audio == Frame(FrameKind.AUDIO, 1920, 1920, True, data=b"\x21\x10")
    assert astuple(audio) == (FrameKind.AUDIO, 1920, 1920, True, (), b"\x21\x10", None)


def test_defaults_and_keywords():
    frame = Frame(FrameKind.VIDEO, 1, 2)
    assert (frame.keyframe, frame.nalus, frame.data, frame.wallclock_us) == (False, (), b"", None)
    audio = Frame(kind=FrameKind.AUDIO, pts=5, dts=5, keyframe=True, data=b"x")
    assert audio == Frame.audio(5, b"x")
    with pytest.raises(TypeError):
        Frame(FrameKind.VIDEO, 1)  # type: ignore[call-arg]


def test_frozen():
    frame = Frame.video(0, 0, NALUS, True)
    for name in ("kind", "pts", "dts", "keyframe", "nalus", "data", "wallclock_us"):
        with pytest.raises(FrozenInstanceError):
            setattr(frame, name, 1)
        with pytest.raises(FrozenInstanceError):
            delattr(frame, name)
    assert not hasattr(frame, "__dict__")


def test_equality_hash_repr_as_a_dataclass():
    a, b = Frame.video(0, 0, NALUS, True), Frame.video(0, 0, NALUS, True)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != Frame.video(0, 0, NALUS, False)
    fields_alone: object = astuple(a)
    assert a != fields_alone
    assert [f.name for f in fields(Frame)] == [
        "kind", "pts", "dts", "keyframe", "nalus", "data", "wallclock_us"
    ]  # fmt: skip
    assert repr(Frame.audio(7, b"\x21")) == (
        "Frame(kind=<FrameKind.AUDIO: 'audio'>, pts=7, dts=7, keyframe=True, nalus=(), "
        "data=b'!', wallclock_us=None)"
    )


def test_replace_copy_and_pickle():
    frame = Frame.video(10, 5, NALUS, True, 42)
    moved = replace(frame, pts=20, dts=15)
    assert (moved.pts, moved.dts, moved.nalus, moved.wallclock_us) == (20, 15, NALUS, 42)
    assert copy.copy(frame) == frame
    assert copy.deepcopy(frame) == frame
    assert pickle.loads(pickle.dumps(frame)) == frame
