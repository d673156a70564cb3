"""The frozen dataclasses built once per message have a hand-written ``__init__`` (filling the
instance dict is cheaper than the generated one): it must take exactly the dataclass's fields,
with their defaults, and leave an instance equal to, hashing as and as immutable as before."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from wire.flv import AudioTag, VideoTag
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.events import AudioReceived, VideoReceived

HAND_WRITTEN = [RtmpMessage, AudioReceived, VideoReceived, VideoTag, AudioTag]


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda cls: cls.__name__)
def test_init_takes_the_fields_with_their_defaults(cls: type) -> None:
    parameters = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in parameters] == [f.name for f in fields]
    for parameter, field in zip(parameters, fields, strict=True):
        expected = (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )
        assert parameter.default == expected, field.name
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda cls: cls.__name__)
def test_instances_are_frozen_dataclasses(cls: type) -> None:
    fields = dataclasses.fields(cls)
    values = {f.name: (b"\x01\x02" if f.type == "bytes" else 7 + i) for i, f in enumerate(fields)}
    instance = cls(**values)
    assert vars(instance) == values
    assert instance == cls(*values.values())
    assert hash(instance) == hash(cls(**values))
    assert instance != cls(**{**values, fields[0].name: 99})
    assert dataclasses.asdict(instance) == values
    assert dataclasses.replace(instance) == instance
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, fields[0].name, 1)
