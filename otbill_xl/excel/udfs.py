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


def _units_and_explanations(codes: Any, minutes: Any, rule: Any, visits: Any,
                            explain: bool = False) -> tuple[list, list, Callable]:
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
        text = result.explanation if explain else ""
        for i, u in zip(rows, result.units, strict=True):
            units[i] = u
            why[i] = text
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
    ``47 timed min → 3 units: 97112 24 min → 2 (larger leftover), 97110 23 min → 1``."""
    try:
        _, why, reshape = _units_and_explanations(codes, minutes, rule, visits, explain=True)
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



# -- denials (issue 13 §6) --------------------------------------------------------------------

def _carc_cell(code: Any, pick: Callable[[Any], str]) -> str:
    if code is None or code == "":
        return ""
    return pick(code)


def OT_CARC(codes: Any) -> Any:
    """What a claim adjustment reason code means, in plain words (``CO-97`` or ``97``; a group prefix
    is ignored); an uncatalogued code says so. Vectorised: a column in, a column out."""
    from otbill_xl.domain.denials import carc

    def text(code: Any) -> str:
        found = carc(code)
        return found.description if found is not None else f"#N/A: CARC {code} is not in the catalogue"
    flat, reshape = _flatten(codes)
    return reshape([_carc_cell(c, text) for c in flat])


def OT_CARC_CATEGORY(codes: Any) -> Any:
    """The CARC's category (contractual, patient_responsibility, coding, bundling, eligibility,
    authorization, medical_necessity, timely_filing, duplicate, documentation, frequency_limit, other;
    ``unknown`` when not catalogued)."""
    from otbill_xl.domain.denials import carc_category

    flat, reshape = _flatten(codes)
    return reshape([_carc_cell(c, carc_category) for c in flat])


def OT_NEXT_ACTION(groups: Any, carcs: Any, rarcs: Any = None) -> Any:
    """The next step for each adjustment: group code (CO/PR/OA/PI/CR), CARC and, optionally, the
    remark codes (one cell may hold several, separated by commas or spaces). Ranges of the same size;
    a blank CARC gives a blank."""
    from otbill_xl.domain.denials import next_action

    flat_groups, reshape = _flatten(groups)
    flat_carcs, _ = _flatten(carcs)
    flat_rarcs = _flatten(rarcs)[0] if rarcs is not None else [None] * len(flat_carcs)
    if not len(flat_groups) == len(flat_carcs) == len(flat_rarcs):
        return "#ERROR: group, carc and rarc must be ranges of the same size"
    out = []
    for g, c, r in zip(flat_groups, flat_carcs, flat_rarcs, strict=True):
        out.append("" if c is None or c == "" else next_action(g, c, () if r is None else r))
    return reshape(out)


# -- pricing ---------------------------------------------------------------------------------
# These need the practice's tables (fee schedule, RVUs, GPCIs, payers): the xlwings wrapper passes
# the calling workbook's PracticeBook as ``book``; called directly, pass any PracticeBook.

def _modifiers(value: Any) -> tuple[str, ...]:
    flat, _ = _flatten(value) if value is not None else ([], None)
    mods: list[str] = []
    for v in flat:
        if v is None or v == "":
            continue
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        mods.extend(m.strip().upper() for m in text.replace(";", ",").replace(" ", ",").split(",") if m.strip())
    return tuple(mods)


def _units(value: Any) -> int:
    if value is None or value == "":
        return 1
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError("units must be a whole number")


def _dos(value: Any) -> date:
    return date.today() if value is None or value == "" else _as_date(value)


def _same_size(value: Any, n: int, name: str) -> list[Any]:
    """One cell applies to every row; a range must have one cell per code."""
    flat, _ = _flatten(value)
    if len(flat) == 1:
        return flat * n
    if len(flat) != n:
        raise ValueError(f"{name} must be one cell or a range the size of code")
    return flat


def _modifier_rows(value: Any, n: int) -> list[tuple[str, ...]]:
    """Each code's modifiers: one cell (or one row of cells) for every code, else one row per code
    (a row may hold several modifier cells, or one cell with ``GO,59``)."""
    if value is None or value == "":
        return [()] * n
    if isinstance(value, list) and value and isinstance(value[0], list):
        if len(value) == n:
            return [_modifiers(row) for row in value]
        if len(value) == 1:
            return [_modifiers(value[0])] * n
    elif isinstance(value, list) and len(value) == n and n > 1:
        return [_modifiers(v) for v in value]
    elif not isinstance(value, list):
        return [_modifiers(value)] * n
    if n == 1:
        return [_modifiers(value)]
    raise ValueError("modifiers must be one row of cells, or one row per code")


def OT_FEE(payer: Any, code: Any, modifiers: Any = None, dos: Any = None, units: Any = None, *, book: Any) -> Any:
    """Allowed amount for ``units`` of ``code`` (default 1) for a payer on a DOS (default today): the
    contracted FeeSchedule rate (a modifier-specific row beats a blank one), or for Medicare the PFS
    amount at the practice's locality (office rate, before MPPR). Vectorised over ``code``: payer, DOS
    and units are one cell or one per code; modifiers one row of cells per code."""
    from otbill_xl.domain.fee_schedule import FeeSchedule
    from otbill_xl.domain.medicare_pfs import MedicarePFS
    from otbill_xl.domain.models import PayerType
    from otbill_xl.domain.money import cents

    codes, reshape = _flatten(code)
    n = len(codes)
    try:
        payers, days, counts = _same_size(payer, n, "payer"), _same_size(dos, n, "dos"), _same_size(units, n, "units")
        mods = _modifier_rows(modifiers, n)
    except ValueError as exc:
        return f"#ERROR: {exc}"
    schedule = FeeSchedule(book.fee_schedule)
    pfs = MedicarePFS(book.medicare_rvus, book.medicare_gpcis, book.practice.medicare_locality,
                      book.practice.qualifying_apm.strip().upper() == "Y")

    def one(i: int) -> Any:
        if codes[i] is None or codes[i] == "":
            return ""
        try:
            day, count = _dos(days[i]), _units(counts[i])
        except ValueError as exc:
            return f"#ERROR: {exc}"
        key = normalize_code(payers[i])
        found = book.payers_by_key.get(key)
        if found is None:
            return f"#N/A: payer {key} is not on the Payers sheet"
        code_key = normalize_code(codes[i])
        if found.payer_type is PayerType.MEDICARE:
            up = pfs.unit_price(code_key, day)
            return f"#N/A: {up}" if isinstance(up, str) else cents(up.full * count)
        entry = schedule.lookup(key, code_key, mods[i], day)
        if entry is None:
            return f"#N/A: no {key} rate for {code_key} on {day.isoformat()}"
        return cents(entry.allowed_per_unit * count)

    return reshape([one(i) for i in range(n)])


def OT_MEDICARE_ALLOWED(codes: Any, locality: Any, dos: Any, units: Any = None, pos: Any = None, *, book: Any) -> Any:
    """Medicare PFS allowed amount: (work RVU × GPCI + PE RVU × GPCI + MP RVU × GPCI) × CF per unit,
    rounded to the cent, × units; facility PE for facility places of service. Vectorised over codes;
    locality, DOS, units and place of service are one cell or one per code."""
    from otbill_xl.domain.medicare_pfs import MedicarePFS
    from otbill_xl.domain.money import cents

    flat, reshape = _flatten(codes)
    n = len(flat)
    try:
        places, days = _same_size(pos, n, "pos"), _same_size(dos, n, "dos")
        counts, localities = _same_size(units, n, "units"), _same_size(locality, n, "locality")
    except ValueError as exc:
        return f"#ERROR: {exc}"
    apm = book.practice.qualifying_apm.strip().upper() == "Y"
    engines: dict[str, MedicarePFS] = {}

    def one(i: int) -> Any:
        if flat[i] is None or flat[i] == "":
            return ""
        try:
            day, count = _as_date(days[i]), _units(counts[i])
        except ValueError as exc:
            return f"#ERROR: {exc}"
        place = normalize_code(places[i]) if places[i] not in (None, "") else "11"
        where = normalize_code(localities[i]) if localities[i] not in (None, "") else ""
        pfs = engines.get(where)
        if pfs is None:
            pfs = engines[where] = MedicarePFS(book.medicare_rvus, book.medicare_gpcis, where, apm)
        up = pfs.unit_price(normalize_code(flat[i]), day, place)
        return f"#N/A: {up}" if isinstance(up, str) else cents(up.full * count)

    return reshape([one(i) for i in range(n)])


def OT_EXPECTED(lines: Any, *, book: Any, as_of: date | None = None) -> Any:
    """Expected allowed, payer payment and patient share for a whole range of charge lines (header
    row first, the Charges columns in any order): one row out per row in, MPPR and KX included."""
    from otbill_xl.domain.book import PracticeBook
    from otbill_xl.domain.pricing import price_book
    from otbill_xl.domain.scrub import scrub
    from otbill_xl.workbook.memory import MemoryWorkbook
    from otbill_xl.workbook.reader import read_book

    rows = lines if isinstance(lines, list) and lines and isinstance(lines[0], list) else None
    if not rows or len(rows) < 2:
        return "#ERROR: pass the charge lines with their header row"
    charges_only, _ = read_book(MemoryWorkbook({"Charges": rows}))
    merged = PracticeBook(practice=book.practice, payers=book.payers, providers=book.providers, patients=book.patients,
                          charge_master=book.charge_master, fee_schedule=book.fee_schedule,
                          medicare_rvus=book.medicare_rvus, medicare_gpcis=book.medicare_gpcis,
                          charges=charges_only.charges)
    computed = scrub(merged, as_of=as_of or date.today()).computed_units
    priced = {p.row: p for p in price_book(merged, units=computed).lines}
    out: list[list[Any]] = [["ExpectedAllowed", "ExpectedPayerPayment", "ExpectedPatientResp"]]
    for r in range(2, len(rows) + 1):
        p = priced.get(r)
        out.append(["", "", ""] if p is None else [
            p.expected_allowed if p.expected_allowed is not None else f"#N/A: {p.basis}",
            p.expected_payer_payment if p.expected_payer_payment is not None else "",
            p.expected_patient_resp if p.expected_patient_resp is not None else ""])
    return out


# -- errors ----------------------------------------------------------------------------------
#: What a worksheet function shows instead of raising (a raised exception would be a ``#VALUE!`` and,
#: with xlwings, a Python traceback in a message box). Both are text, so ``=LEFT(A2)="#"`` finds them:
#: ``#N/A: ...`` — nothing to look up (an unknown payer, no rate for the code on that date, an
#: uncatalogued CARC); ``#ERROR: ...`` — the input cannot be used (minutes that are not whole numbers,
#: ranges of different sizes, a DOS that is not a date) or otbill stopped unexpectedly.
ERROR_PREFIXES = ("#N/A:", "#ERROR:")


def excel_safe(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, with any exception turned into an ``#ERROR: ...`` cell text: the
    CLI's message for an :class:`~otbill_xl.errors.OtbillError` (it names no patient), the exception's
    type only for anything else (its text may quote a cell)."""
    from otbill_xl.errors import OtbillError

    try:
        return function(*args, **kwargs)
    except OtbillError as exc:
        return f"#ERROR: {exc.text}"
    except Exception as exc:  # noqa: BLE001 - a worksheet function must never raise into Excel
        return (f"#ERROR: otbill stopped on an unexpected {type(exc).__name__}; run `otbill check` on a copy "
                "of the workbook to see why")
