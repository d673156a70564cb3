"""The event loop of an integration run: ``CAMSIM_LOOP=uvloop pytest tests/integration`` runs
every loop the tests make (``asyncio.run``, ``asyncio.new_event_loop``) on uvloop, and the
``refserver`` and ``camsim`` processes they start inherit the variable. Unset, asyncio's own
loop runs in-process and the command lines take their default (``asyncio``)."""

from __future__ import annotations

import asyncio
import os

import pytest

from wire.asyncio.loops import LOOP_ENV, resolve


def pytest_configure(config: pytest.Config) -> None:
    choice = os.environ.get(LOOP_ENV)
    if choice:
        asyncio.set_event_loop_policy(resolve(choice).policy())


def pytest_report_header(config: pytest.Config) -> str | None:
    choice = os.environ.get(LOOP_ENV)
    return f"event loop ({LOOP_ENV}): {resolve(choice).describe()}" if choice else None
