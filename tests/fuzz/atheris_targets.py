"""Coverage-guided fuzzing of the :mod:`wire` parsers with atheris (libFuzzer for Python).

Run by hand, one target per process::

    python -m tests.fuzz.atheris_targets --list
    python -m tests.fuzz.atheris_targets rtp_packet -runs=200000
    python -m tests.fuzz.atheris_targets fmp4_boxes -max_total_time=300 corpus/fmp4/

Every option after the target name goes to libFuzzer (``-runs``, ``-max_total_time``,
``-max_len``, ``-rss_limit_mb``, corpus directories ...). Without a corpus directory the
target's seeds (valid inputs from :mod:`tests.fuzz.seeds`) are written to a temporary one, so
mutation starts from bytes the parser accepts. A crash is any exception other than the error the
entry point documents, or an input that takes more than ``registry.CPU_LIMIT`` seconds of CPU;
libFuzzer then writes the input to ``crash-<sha1>`` in the working directory.

atheris is not a test dependency: ``pip install .[fuzz]`` (Linux, CPython 3.11) brings it.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path


def _usage(names: list[str]) -> str:
    return (
        "usage: python -m tests.fuzz.atheris_targets TARGET [libFuzzer options] [CORPUS_DIR...]\n"
        "targets:\n  " + "\n  ".join(names)
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Imported by name: atheris has no type information, and is not installed by default.
    atheris = importlib.import_module("atheris")

    # Instrument wire for coverage feedback: it must be imported for the first time in here.
    with atheris.instrument_imports(include=["wire"]):
        from tests.fuzz import targets
    names = sorted(targets.TARGETS)
    if not args or args[0] in ("-h", "--help", "--list"):
        print(_usage(names))
        return 0 if args else 2
    name, options = args[0], args[1:]
    if name not in targets.TARGETS:
        print(f"unknown target {name!r}\n{_usage(names)}", file=sys.stderr)
        return 2
    if not any(not option.startswith("-") for option in options):
        corpus = Path(tempfile.mkdtemp(prefix=f"camsim-fuzz-{name}-"))
        for index, seed in enumerate(targets.TARGETS[name].seeds()):
            (corpus / f"seed-{index}").write_bytes(seed)
        options.append(str(corpus))
    if not any(option.startswith("-rss_limit_mb") for option in options):
        options.append("-rss_limit_mb=2048")

    def one_input(data: bytes) -> None:
        targets.check(name, data)

    atheris.Setup([sys.argv[0], *options], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
