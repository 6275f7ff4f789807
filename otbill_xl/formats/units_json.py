"""The JSON face of the units engine (``otbill units``).

Input: ``{"rule": "cms"|"ama", "lines": [{"code": "97110", "minutes": 33}, ...]}`` for one visit, or
``{"visits": [{...same shape...}, ...]}`` (a visit may carry its own ``rule``; the outer one is the
default). A line may say ``"assistant": true`` when an OTA/PTA furnished its minutes: a code's units
are then split between the assistant's and the therapist's lines (CMS de minimis, per unit). Output
per visit: ``{"total_units", "units": {code: n}, "line_units": [n per input line], "add_lines":
{add-on code: n} (units the minutes support on a family add-on missing from the visit, facts §1.6),
"alternatives": [{code: n}, ...], "explanation"}``; several visits give ``{"visits": [...]}``.
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
    assistant: list[bool] = []
    for i, line in enumerate(data["lines"], start=1):
        if not isinstance(line, dict) or "code" not in line:
            raise UnitsJSONError(f"{where} line {i}: expected {{\"code\": ..., \"minutes\": ...}}")
        minutes = line.get("minutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            if isinstance(minutes, float) and minutes.is_integer():
                minutes = int(minutes)
            else:
                raise UnitsJSONError(f"{where} line {i}: minutes must be a whole number, not {minutes!r}")
        by_assistant = line.get("assistant", False)
        if not isinstance(by_assistant, bool):
            raise UnitsJSONError(f"{where} line {i}: \"assistant\" must be true or false, not {by_assistant!r}")
        lines.append((str(line["code"]), minutes))
        assistant.append(by_assistant)
    try:
        result = visit_units(lines, rule, assistant=assistant if any(assistant) else None)
    except UnitsInputError as exc:
        raise UnitsJSONError(f"{where}: {exc}") from None
    return {"total_units": result.total_units, "units": result.by_code(), "line_units": list(result.units),
            "add_lines": dict(result.unplaced), "alternatives": result.alternatives_by_code(),
            "explanation": result.explanation}


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
