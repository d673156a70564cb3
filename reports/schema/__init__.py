"""The JSON Schema of :mod:`reports.model` (``report.schema.json``) and a validator for it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

SCHEMA_FILE = "report.schema.json"


class ReportSchemaError(ValueError):
    """JSON that is not a camsim report of this version; the message says where and why."""


@cache
def schema() -> dict[str, Any]:
    """The schema as a dict."""
    text = resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(data: Any) -> None:
    """Raise :class:`ReportSchemaError` naming the first problem when ``data`` does not follow
    the schema."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ReportSchemaError(f"{path}: {first.message}{more}")
