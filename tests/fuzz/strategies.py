"""Hypothesis strategies for fuzzing: raw bytes, and valid inputs with a little changed.

``fuzz_inputs(name)`` mixes three kinds of input for target ``name``: arbitrary bytes; a seed
(a valid input) with a few byte-level mutations (bit flips, boundary bytes, inserted, deleted
or duplicated runs, truncation, splices of another seed); and, for text protocols, a seed with
one number or field replaced by a nasty token (5000-digit and negative numbers, NULs, CR/LF,
unicode, surrogates). :data:`FUZZ_SETTINGS` keeps the cost modest by default; set
``CAMSIM_FUZZ_EXAMPLES`` for long runs.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz.targets import TARGETS, check

EXAMPLES = int(os.environ.get("CAMSIM_FUZZ_EXAMPLES", "300"))
"""Examples per fuzz test; ``CAMSIM_FUZZ_EXAMPLES=100000`` for a long run."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the CPU limit in targets.check catches hangs; wall time varies with load
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BOUNDARY_BYTES = (b"\x00", b"\x01", b"\x7f", b"\x80", b"\xff")
BOUNDARY_WORDS = (
    b"\x00\x00",
    b"\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x00\x00\x01",
    b"\x00\x00\x00\x01",
)

NASTY_TOKENS = (
    "9" * 5000,  # past Python's 4300-digit int() limit
    "1" + "0" * 40,
    "18446744073709551616",  # 2**64
    "4294967296",  # 2**32
    "65536",
    "-1",
    "-0",
    "+5",
    "0x10",
    "1e999",
    "nan",
    "inf",
    "1.5",
    " ",
    "",
    "\x00",
    "\r",
    "\n",
    "\r\n\r\n",
    "\t",
    ";",
    ",",
    "=",
    '"',
    "'",
    "\\",
    "[",
    "]",
    ":",
    "/",
    "é",
    "\u202e",  # right-to-left override
    "\U0001f4f7",
    "\ufeff",
    "٣",  # a digit that str.isdigit() accepts and int() reads
    "²",  # a digit that str.isdigit() accepts and int() refuses
)

_FIELD_RE = re.compile(rb"[0-9]+|[A-Za-z]+|[^\r\n ;,=:\"]+")


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with one to four byte-level mutations."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 7))
        at = draw(st.integers(0, len(data)))
        if kind == 0 and data:  # flip one bit
            index = min(at, len(data) - 1)
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == 1:  # overwrite with boundary bytes
            data[at : at + 1] = draw(st.sampled_from(BOUNDARY_BYTES))
        elif kind == 2:
            word = draw(st.sampled_from(BOUNDARY_WORDS))
            data[at : at + len(word)] = word
        elif kind == 3:  # insert
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == 4:  # delete a run
            del data[at : at + draw(st.integers(1, 32))]
        elif kind == 5:  # truncate
            del data[at:]
        elif kind == 6:  # duplicate a run
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        else:  # splice in part of another seed
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[at:at] = other[start : start + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def text_mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A text seed with one field (a number, a word, a token) replaced by a nasty token."""
    data = draw(st.sampled_from(seeds))
    fields = list(_FIELD_RE.finditer(data))
    token = draw(st.sampled_from(NASTY_TOKENS) | st.text(max_size=8)).encode(
        "utf-8", "surrogatepass"
    )
    if not fields:
        return data + token
    field = draw(st.sampled_from(fields))
    if draw(st.booleans()):
        return data[: field.start()] + token + data[field.end() :]
    return data[: field.end()] + token + data[field.end() :]


def fuzz_inputs(name: str, *, text: bool = False, max_size: int = 2048) -> st.SearchStrategy[bytes]:
    """Inputs for target ``name``: raw bytes, mutated seeds and, for text, nasty fields."""
    seeds = TARGETS[name].seeds()
    options: list[st.SearchStrategy[bytes]] = [st.binary(max_size=max_size)]
    if seeds:
        options.append(mutated(seeds))
        if text:
            options.append(text_mutated(seeds))
    return st.one_of(options)


def check_every_truncation(name: str, max_seeds: int = 2) -> int:
    """Run target ``name`` on every proper prefix of its first seeds (those of at most 8 kB);
    returns how many."""
    count = 0
    for seed in [seed for seed in TARGETS[name].seeds() if len(seed) <= 8192][:max_seeds]:
        for cut in range(len(seed)):
            check(name, seed[:cut])
            count += 1
    return count
