"""The compiled hot paths: every ``wire/**/_*.pyx`` becomes an optional C extension.

Each ``.pyx`` is a faster implementation of functions whose pure-Python reference lives beside it
(see :mod:`wire.speedups`). The extensions are optional: when there is no C compiler, or
``CAMSIM_NO_EXTENSIONS=1`` is set at install time, the build skips them and camsim runs the pure
code. All other metadata is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent


def extensions() -> list[Extension]:
    if os.environ.get("CAMSIM_NO_EXTENSIONS", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:  # a build without build isolation and without Cython: pure only
        return []
    modules = [
        Extension(
            ".".join(path.relative_to(HERE).with_suffix("").parts),
            [str(path.relative_to(HERE))],
        )
        for path in sorted((HERE / "wire").rglob("_*.pyx"))
    ]
    compiled = cythonize(
        modules,
        compiler_directives={"language_level": "3", "embedsignature": True},
        quiet=True,
    )
    for extension in compiled:
        # cythonize makes new Extension objects and drops the flag: a compiler error must stay
        # a warning, the module then running as pure Python.
        extension.optional = True
    return compiled


setup(ext_modules=extensions())
