"""Worksheet functions, as plain Python. Thin: reshape Excel's values, call the domain, reshape back.

Vectorised: one call takes a whole column (10,000 rows in one call rather than 10,000 calls), and
returns a column of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from otbill_xl.domain import npi
from otbill_xl.domain.codes import catalogue, lookup, normalize_code
from otbill_xl.domain.units import UnitsInputError, visit_units
from otbill_xl.workbook.cells import excel_serial_to_date


def _flatten(value: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """Cells as a flat list, plus a function that gives results the input's shape back."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        widths = [len(r) for r in value]
        flat = [v for row in value for v in row]

        def reshape(out: list[Any]) -> Any:
            rows, i = [], 0
            for w in widths:
                rows.append(out[i:i + w])
                i += w
            return rows
        return flat, reshape
    if isinstance(value, (list, tuple)):
        return list(value), list
    return [value], lambda out: out[0]


def _minutes(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise UnitsInputError(f"minutes must be whole numbers, not {value!r}")


def _rule(rule: Any) -> str:
    text = str(rule or "cms").strip().lower()
    if text not in ("cms", "ama"):
        raise UnitsInputError("rule must be cms or ama")
    return text


def _visits(codes: list[Any], minutes: list[Any], visits: list[Any] | None) -> dict[Any, list[int]]:
    """Row indexes per visit; rows without a code are left out."""
    groups: dict[Any, list[int]] = {}
    for i, code in enumerate(codes):
        if code is None or code == "":
            continue
        key = visits[i] if visits is not None else 0
        groups.setdefault(key, []).append(i)
    return groups


def _units_and_explanations(codes: Any, minutes: Any, rule: Any, visits: Any) -> tuple[list, list, Callable]:
    flat_codes, reshape = _flatten(codes)
    flat_minutes, _ = _flatten(minutes)
    if len(flat_minutes) != len(flat_codes):
        raise UnitsInputError("codes and minutes must be ranges of the same size")
    flat_visits = _flatten(visits)[0] if visits is not None else None
    if flat_visits is not None and len(flat_visits) != len(flat_codes):
        raise UnitsInputError("visits must be a range of the same size as codes")
    units: list[Any] = [""] * len(flat_codes)
    why: list[Any] = [""] * len(flat_codes)
    rule_name = _rule(rule)
    cat = catalogue()
    for rows in _visits(flat_codes, flat_minutes, flat_visits).values():
        try:
            lines = [(normalize_code(flat_codes[i]), _minutes(flat_minutes[i])) for i in rows]
            result = visit_units(lines, rule_name, catalogue=cat)
        except UnitsInputError as exc:
            for i in rows:
                units[i] = why[i] = f"#ERROR: {exc}"
            continue
        for i, u in zip(rows, result.units, strict=True):
            units[i] = u
            why[i] = result.explanation
    return units, why, reshape


def OT_UNITS(codes: Any, minutes: Any, rule: Any = None, visits: Any = None) -> Any:
    """Billable units per row. ``rule`` is ``cms`` (8-minute rule, pooled per visit; default) or
    ``ama`` (per code). Rows with the same ``visits`` key (e.g. patient & DOS & discipline) form one
    visit; without ``visits`` the whole range is one visit. A bad row shows ``#ERROR: ...``."""
    try:
        units, _, reshape = _units_and_explanations(codes, minutes, rule, visits)
    except UnitsInputError as exc:
        return f"#ERROR: {exc}"
    return reshape(units)


def OT_UNITS_EXPLAIN(codes: Any, minutes: Any, rule: Any = None, visits: Any = None) -> Any:
    """The one-line explanation of each row's visit, e.g.
    ``47 timed min → 3 units: 97112 24 min → 2, 97110 23 min → 1 (larger leftover)``."""
    try:
        _, why, reshape = _units_and_explanations(codes, minutes, rule, visits)
    except UnitsInputError as exc:
        return f"#ERROR: {exc}"
    return reshape(why)


def _npi_valid(value: Any) -> Any:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return npi.is_valid(str(value))


def OT_NPI_VALID(npis: Any) -> Any:
    """TRUE when an NPI has 10 digits, starts with 1 or 2 and its Luhn check digit (with the 80840
    prefix) is right; blank cells stay blank."""
    flat, reshape = _flatten(npis)
    return reshape([_npi_valid(v) for v in flat])


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return excel_serial_to_date(value)
    raise ValueError("dos must be a date")


def _code_info(code: Any, dos: date | None) -> str:
    if code is None or code == "":
        return ""
    key = normalize_code(code)
    info = catalogue().get(key)
    if info is None:
        return f"{key}: not in the OT code catalogue"
    kind = "timed, 15-minute units" if info.is_timed else f"{info.kind.value}, 1 unit per session" \
        if info.kind.value in ("untimed", "evaluation", "group") else info.kind.value
    parts = [f"{key} {info.label}", kind, "/".join(d.value for d in info.disciplines)]
    if info.addon_to:
        parts.append(f"add-on to {info.addon_to}")
    parts.append("always therapy" if info.always_therapy else "sometimes therapy")
    if dos is not None:
        status = lookup(key, dos).status.value.replace("_", " ")
        parts.append(f"{status} on {dos.isoformat()}")
        if info.replaced_by and status == "deleted":
            parts.append("use " + " or ".join(info.replaced_by))
    elif info.deleted_on:
        parts.append(f"deleted from {info.deleted_on.isoformat()}")
    return "; ".join(parts)


def OT_CODE_INFO(codes: Any, dos: Any = None) -> Any:
    """What a CPT/HCPCS code is (kind, discipline, add-on base, always/sometimes therapy) and, given
    a date of service, whether it is valid that day."""
    try:
        day = _as_date(dos) if dos not in (None, "") else None
    except ValueError as exc:
        return f"#ERROR: {exc}"
    flat, reshape = _flatten(codes)
    return reshape([_code_info(c, day) for c in flat])
