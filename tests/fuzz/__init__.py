"""Fuzzing of every parser of network input in :mod:`wire` (hypothesis tests, atheris targets)."""
