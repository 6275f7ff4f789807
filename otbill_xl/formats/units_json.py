"""The JSON face of the units engine (``otbill units``).

Input: ``{"rule": "cms"|"ama", "lines": [{"code": "97110", "minutes": 33}, ...]}`` for one visit, or
``{"visits": [{...same shape...}, ...]}`` (a visit may carry its own ``rule``; the outer one is the
default). Output per visit: ``{"total_units", "units": {code: n}, "alternatives": [{code: n}, ...],
"explanation"}``; several visits give ``{"visits": [...]}``.
"""

from __future__ import annotations

import json
from typing import Any

from otbill_xl.domain.units import UnitsInputError, visit_units
from otbill_xl.errors import OtbillError


class UnitsJSONError(OtbillError, ValueError):
    """The JSON is not a units request; the message says where and what to fix."""


def _visit(data: Any, where: str, default_rule: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise UnitsJSONError(f"{where}: expected an object with a \"lines\" list")
    rule = data.get("rule", default_rule)
    if rule not in ("cms", "ama"):
        raise UnitsJSONError(f"{where}: \"rule\" must be \"cms\" or \"ama\", not {rule!r}")
    lines = []
    for i, line in enumerate(data["lines"], start=1):
        if not isinstance(line, dict) or "code" not in line:
            raise UnitsJSONError(f"{where} line {i}: expected {{\"code\": ..., \"minutes\": ...}}")
        minutes = line.get("minutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            if isinstance(minutes, float) and minutes.is_integer():
                minutes = int(minutes)
            else:
                raise UnitsJSONError(f"{where} line {i}: minutes must be a whole number, not {minutes!r}")
        lines.append((str(line["code"]), minutes))
    try:
        result = visit_units(lines, rule)
    except UnitsInputError as exc:
        raise UnitsJSONError(f"{where}: {exc}") from None
    return {"total_units": result.total_units, "units": result.by_code(),
            "alternatives": result.alternatives_by_code(), "explanation": result.explanation}


def units_from_json(text: str) -> dict[str, Any]:
    """Compute units for the visits in a JSON request (see the module docstring)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnitsJSONError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise UnitsJSONError("expected a JSON object with \"lines\" or \"visits\"")
    rule = data.get("rule", "cms")
    if "visits" in data:
        if not isinstance(data["visits"], list):
            raise UnitsJSONError("\"visits\" must be a list")
        return {"visits": [_visit(v, f"visit {i}", rule) for i, v in enumerate(data["visits"], start=1)]}
    return _visit(data, "visit", rule)
