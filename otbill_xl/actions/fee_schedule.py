"""Writing imported fee-schedule rows into a practice workbook through the port.

* :func:`import_medicare` replaces one year's rows of the ``MedicareRVU`` and ``MedicareGPCI`` sheets
  with the rows read from CMS's files, keeping every other year's rows.
* :func:`import_fee_schedule` merges a payer's contracted rates into the ``FeeSchedule`` sheet, rate by
  rate (PayerKey + Code + Modifier + EffectiveFrom): a rate already on the sheet is updated in place (its
  row and extra columns stay), a new rate is appended, and the payer's rates absent from the import are
  kept, unless ``replace=True`` (then those of the imported EffectiveFrom dates are removed, except the
  ``protect`` codes, e.g. those of rows the file had errors in). Other periods and payers are never
  touched. The result lists the rates added, changed (old -> new), unchanged, kept and removed.

The sheet is found as the reader finds it (the Excel Table of that name, or a sheet named like it with
its header in the first 20 rows, honouring a ``Columns`` sheet), and rewritten with
:meth:`~otbill_xl.workbook.port.WorkbookPort.replace_sheet`: title lines above the header, the header
(extra columns included) and the kept rows are written back as they were read, then the new rows. A
sheet that does not exist yet is created with the contract header. Kept rows keep their values; a
formula in them is written back as its last calculated value, and a sheet with formulas that were never
calculated is refused (their values are unknown). The Excel Table and cell formatting of the old sheet
are not carried over (the port rewrites the sheet); the reader finds the new sheet by its name.

The caller saves the port (a file adapter writes a new file; the input is never modified).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from otbill_xl.domain.models import FeeScheduleEntry, MedicareGPCI, MedicareRVU
from otbill_xl.domain.money import to_money
from otbill_xl.errors import WorkbookError
from otbill_xl.workbook import cells
from otbill_xl.workbook.contract import (
    FEE_SCHEDULE,
    MEDICARE_GPCI,
    MEDICARE_RVU,
    PAYERS,
    PRACTICE,
    Sheet,
    normalize_header,
)
from otbill_xl.workbook.mapping import find_header_row, map_headers, overrides_from_rows
from otbill_xl.workbook.port import WorkbookPort

COLUMNS_SHEET = "Columns"


@dataclass(frozen=True)
class SheetUpdate:
    """What happened to one contract sheet."""

    contract: str
    sheet: str
    created: bool
    #: Existing rows removed because the import replaces them.
    replaced: int
    #: Existing rows kept (other years / payers / periods).
    kept: int
    #: Rows written from the import (appended).
    added: int
    #: Existing rows whose values the import changed in place (fee schedules).
    updated: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"contract": self.contract, "sheet": self.sheet, "created": self.created, "replaced": self.replaced,
                "kept": self.kept, "added": self.added, "updated": self.updated}


@dataclass(frozen=True)
class Rate:
    """One payer rate in an import's summary (``old`` for changed and removed rates, ``new`` for added
    and changed ones; ``old`` is the cell's text when it is not an amount)."""

    code: str
    modifier: str
    effective_from: date | None
    effective_to: date | None = None
    old: Decimal | str | None = None
    new: Decimal | None = None
    old_to: date | None = None
    note: str = ""

    @property
    def label(self) -> str:
        code = f"{self.code}-{self.modifier}" if self.modifier else self.code
        return f"{code} from {self.effective_from.isoformat()}" if self.effective_from else code

    def to_dict(self) -> dict[str, Any]:
        def money(v: Decimal | str | None) -> str | None:
            return None if v is None else (f"{v:.2f}" if isinstance(v, Decimal) else v)
        out: dict[str, Any] = {"code": self.code, "modifier": self.modifier,
                               "effective_from": self.effective_from.isoformat() if self.effective_from else None,
                               "effective_to": self.effective_to.isoformat() if self.effective_to else None}
        if self.old is not None:
            out["old"] = money(self.old)
        if self.new is not None:
            out["new"] = money(self.new)
        if self.old_to != self.effective_to and self.old is not None and self.new is not None:
            out["old_effective_to"] = self.old_to.isoformat() if self.old_to else None
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class FeeScheduleUpdate(SheetUpdate):
    """A payer import's effect on the FeeSchedule sheet, row counts and rate by rate."""

    payer: str = ""
    added_rates: tuple[Rate, ...] = ()
    changed_rates: tuple[Rate, ...] = ()
    unchanged_rates: tuple[Rate, ...] = ()
    kept_rates: tuple[Rate, ...] = ()
    removed_rates: tuple[Rate, ...] = ()

    def rates_dict(self) -> dict[str, Any]:
        return {"payer": self.payer, "added": [r.to_dict() for r in self.added_rates],
                "changed": [r.to_dict() for r in self.changed_rates],
                "unchanged": [r.to_dict() for r in self.unchanged_rates],
                "kept": [r.to_dict() for r in self.kept_rates],
                "removed": [r.to_dict() for r in self.removed_rates]}


def _overrides(port: WorkbookPort, spec: Sheet) -> dict[str, str]:
    if COLUMNS_SHEET in port.sheet_names():
        return overrides_from_rows(port.values(COLUMNS_SHEET)).get(spec.name, {})
    return {}


def _locate(port: WorkbookPort, spec: Sheet) -> tuple[str, int | None]:
    """(sheet name, 1-based header row when known from an Excel Table); ``("", None)`` when missing."""
    names = port.sheet_names()
    for table in port.tables():
        if table.name.lower() == spec.name.lower() and table.sheet in names:
            return table.sheet, table.header_row
    wanted = {normalize_header(spec.name)} | {normalize_header(a) for a in spec.aliases}
    for name in names:
        if normalize_header(name) in wanted:
            return name, None
    return "", None


def _width(header: str, values: Iterable[Any]) -> float:
    longest = max([len(header) + 3, 10] + [len(cells.text_of(v)) + 2 for v in list(values)[:300] if v is not None])
    return float(min(longest, 42))


Getter = Callable[[str], Any]


def _merge(port: WorkbookPort, spec: Sheet, new_rows: Sequence[dict[str, Any]] | Callable[[], Sequence[dict[str, Any]]],
           replaces: Callable[[Getter], bool],
           update: Callable[[Getter], dict[str, Any] | None] | None = None) -> SheetUpdate:
    """Rewrite ``spec``'s sheet: keep the rows ``replaces`` says no to (``update`` may return new values
    for some of their columns, set in place), then append ``new_rows`` (contract column name -> value;
    a callable is called after every existing row was seen)."""
    sheet, header_row = _locate(port, spec)
    if not sheet:
        if callable(new_rows):
            new_rows = new_rows()
        names = list(spec.column_names)
        rows = [names] + [[r.get(c) for c in names] for r in new_rows]
        port.replace_sheet(spec.name, rows, widths=[_width(h, [r[i] for r in rows[1:]]) for i, h in enumerate(names)])
        return SheetUpdate(spec.name, spec.name, True, 0, 0, len(new_rows))

    overrides = _overrides(port, spec)
    values = [list(r) for r in port.values(sheet)]
    if header_row is None:
        found = find_header_row(values, spec, overrides)
        if found is None:
            raise WorkbookError(
                f"{port.name}: the {sheet} sheet has no header row naming the {spec.name} columns in its first 20 rows, "
                f"so otbill cannot tell which rows to keep. Fix: put the headers ({', '.join(spec.column_names)}) in "
                "one row at the top, or rename the sheet if it holds something else."
            )
        header_row = found + 1
    stale = {row for row, _ in port.formulas_without_values(sheet)}
    if stale:
        raise WorkbookError(
            f"{port.name}: the {sheet} sheet has formulas whose results were never saved (e.g. row {min(stale)}), "
            "so otbill cannot copy their values. Fix: open the workbook in Excel, let it calculate, save it, and "
            "import again."
        )
    header: list[Any] = list(values[header_row - 1]) if header_row - 1 < len(values) else []
    mapping, _extras, _problems = map_headers(header, spec, overrides)
    index = {name: m.index - 1 for name, m in mapping.items() if m.index}
    for col in spec.columns:  # a contract column the sheet lacks gets a header at the end
        if col.name not in index:
            header.append(col.name)
            index[col.name] = len(header) - 1
    width = max([len(header)] + [len(r) for r in values])
    header += [None] * (width - len(header))

    def padded(row: list[Any]) -> list[Any]:
        return row + [None] * (width - len(row))

    above = [padded(r) for r in values[:header_row - 1]]
    kept: list[list[Any]] = []
    replaced = updated = 0
    for row in values[header_row:]:
        if not any(not cells.is_blank(v) for v in row):
            continue  # blank and formatted-but-empty rows
        row = padded(row)

        def get(name: str, row: list[Any] = row) -> Any:
            return row[index[name]]

        if replaces(get):
            replaced += 1
            continue
        changes = update(get) if update is not None else None
        if changes:
            for name, value in changes.items():
                row[index[name]] = value
            updated += 1
        kept.append(row)
    if callable(new_rows):
        new_rows = new_rows()
    added = []
    for new in new_rows:
        row = [None] * width
        for name, value in new.items():
            row[index[name]] = value
        added.append(row)
    body = kept + added
    widths = [_width(cells.text_of(h), [r[i] for r in body]) for i, h in enumerate(header)]
    port.replace_sheet(sheet, above + [header] + body, widths=widths)
    return SheetUpdate(spec.name, sheet, False, replaced, len(kept) - updated, len(added), updated)


def _year_is(year: int, column: str = "", keep: Collection[str] = ()) -> Callable[[Getter], bool]:
    """Rows of ``year`` are replaced, except those whose ``column`` value is one of ``keep``."""
    keep = {k.upper() for k in keep}

    def test(get: Getter) -> bool:
        try:
            if cells.to_int(get("Year")) != year:
                return False
        except ValueError:
            return False
        return not (keep and cells.text_of(get(column)).upper() in keep)
    return test


def rvu_row(r: MedicareRVU) -> dict[str, Any]:
    return {"Year": r.year, "Code": r.code, "Modifier": r.modifier, "WorkRVU": r.work_rvu,
            "PERVUNonFacility": r.pe_rvu_nonfacility, "PERVUFacility": r.pe_rvu_facility, "MPRVU": r.mp_rvu,
            "AlwaysTherapy": "Y" if r.always_therapy else "N", "Status": r.status or "A"}


def gpci_row(g: MedicareGPCI) -> dict[str, Any]:
    return {"Year": g.year, "Locality": g.locality, "WorkGPCI": g.work_gpci, "PEGPCI": g.pe_gpci, "MPGPCI": g.mp_gpci}


def fee_row(e: FeeScheduleEntry) -> dict[str, Any]:
    return {"PayerKey": e.payer_key, "Code": e.code, "Modifier": e.modifier, "EffectiveFrom": e.effective_from,
            "EffectiveTo": e.effective_to, "AllowedPerUnit": e.allowed_per_unit}


def import_medicare(port: WorkbookPort, *, year: int, rvus: Sequence[MedicareRVU] | None = None,
                    gpcis: Sequence[MedicareGPCI] | None = None, keep_codes: Collection[str] = (),
                    keep_localities: Collection[str] = ()) -> list[SheetUpdate]:
    """Replace ``year``'s MedicareRVU rows with ``rvus`` and MedicareGPCI rows with ``gpcis``.

    ``None`` leaves that sheet alone. Every record must be of ``year``. The current rows of ``year`` for
    ``keep_codes`` / ``keep_localities`` (e.g. those of rows the file had errors in) are kept as they are.
    """
    updates = []
    if rvus is not None:
        if any(r.year != year for r in rvus):
            raise ValueError("every RVU record must be of the imported year")
        rows = [rvu_row(r) for r in sorted(rvus, key=lambda r: (r.code, r.modifier))]
        keep = set(keep_codes) - {r.code for r in rvus}
        updates.append(_merge(port, MEDICARE_RVU, rows, _year_is(year, "Code", keep)))
    if gpcis is not None:
        if any(g.year != year for g in gpcis):
            raise ValueError("every GPCI record must be of the imported year")
        rows = [gpci_row(g) for g in sorted(gpcis, key=lambda g: g.locality)]
        keep = set(keep_localities) - {g.locality for g in gpcis}
        updates.append(_merge(port, MEDICARE_GPCI, rows, _year_is(year, "Locality", keep)))
    return updates


def _rate_key(code: str, modifier: str, start: date | None) -> tuple[str, str, date | None]:
    return code.strip().upper(), modifier.strip().upper(), start


def import_fee_schedule(port: WorkbookPort, entries: Sequence[FeeScheduleEntry], *, payer: str,
                        replace: bool = False, protect: Collection[str] = ()) -> FeeScheduleUpdate:
    """Merge ``entries`` (all for ``payer``) into the FeeSchedule sheet, rate by rate.

    A row of the payer with the same Code, Modifier and EffectiveFrom (blank matches blank) as an entry
    gets the entry's AllowedPerUnit and EffectiveTo in place; entries matching no row are appended. The
    payer's other rows are kept, unless ``replace``: then those whose EffectiveFrom is one of the
    imported dates are removed, except rows of the ``protect`` codes. Other payers' rows are kept.
    """
    if any(e.payer_key != payer for e in entries):
        raise ValueError("every entry must belong to the imported payer")
    starts: set[date | None] = {e.effective_from for e in entries}
    key = payer.strip().casefold()
    by_key = {_rate_key(e.code, e.modifier, e.effective_from): e for e in entries}
    protected = {c.strip().upper() for c in protect}
    matched: set[tuple[str, str, date | None]] = set()
    changed: list[Rate] = []
    unchanged: list[Rate] = []
    kept: list[Rate] = []
    removed: list[Rate] = []

    def existing(get: Getter) -> tuple[tuple[str, str, date | None] | None, Rate] | None:
        """(rate key, the row as a Rate) for a row of the payer, None for other rows. A row whose
        EffectiveFrom is not a date has no key: it matches no imported rate and is kept as it is."""
        if cells.text_of(get("PayerKey")).casefold() != key:
            return None
        try:
            start = cells.to_date(get("EffectiveFrom"))
        except ValueError:
            start, bad_start = None, True
        else:
            bad_start = False
        try:
            end = cells.to_date(get("EffectiveTo"))
        except ValueError:
            end = None
        raw = get("AllowedPerUnit")
        try:
            old: Decimal | str = to_money(raw)
        except ValueError:
            old = cells.text_of(raw)
        code, modifier = cells.text_of(get("Code")).upper(), cells.text_of(get("Modifier")).upper()
        return (None if bad_start else _rate_key(code, modifier, start)), Rate(code, modifier, start, end, old=old)

    def replaces(get: Getter) -> bool:
        found = existing(get)
        if found is None or not replace:
            return False
        rate_key, rate = found
        if rate_key is None or rate_key in by_key or rate.effective_from not in starts:
            return False
        if rate.code in protected:
            return False
        removed.append(Rate(rate.code, rate.modifier, rate.effective_from, rate.effective_to, old=rate.old,
                            note="not in the imported file (--replace)"))
        return True

    def update(get: Getter) -> dict[str, Any] | None:
        found = existing(get)
        if found is None:
            return None
        rate_key, rate = found
        if rate_key is None or (entry := by_key.get(rate_key)) is None:
            note = "a row of this code had errors in the file" if rate.code in protected else "not in the imported file"
            kept.append(Rate(rate.code, rate.modifier, rate.effective_from, rate.effective_to, old=rate.old, note=note))
            return None
        matched.add(rate_key)
        new = entry.allowed_per_unit
        same = isinstance(rate.old, Decimal) and rate.old == new and rate.effective_to == entry.effective_to
        result = Rate(entry.code, entry.modifier, entry.effective_from, entry.effective_to, old=rate.old, new=new,
                      old_to=rate.effective_to)
        if same:
            unchanged.append(result)
            return None
        changed.append(result)
        return {"AllowedPerUnit": new, "EffectiveTo": entry.effective_to}

    def new_rows() -> list[dict[str, Any]]:
        fresh = [e for k, e in by_key.items() if k not in matched]
        return [fee_row(e) for e in sorted(fresh, key=lambda e: (e.code, e.modifier, e.effective_from or date.min))]

    sheet = _merge(port, FEE_SCHEDULE, new_rows, replaces, update)
    added = tuple(Rate(e.code, e.modifier, e.effective_from, e.effective_to, new=e.allowed_per_unit)
                  for k, e in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or date.min))
                  if k not in matched)
    return FeeScheduleUpdate(sheet.contract, sheet.sheet, sheet.created, sheet.replaced, sheet.kept, sheet.added,
                             sheet.updated, payer=payer, added_rates=added, changed_rates=tuple(changed),
                             unchanged_rates=tuple(unchanged), kept_rates=tuple(kept), removed_rates=tuple(removed))


def _settings_rows(port: WorkbookPort, spec: Sheet) -> list[list[Any]]:
    sheet, _ = _locate(port, spec)
    return port.values(sheet) if sheet else []


def practice_setting(port: WorkbookPort, name: str) -> str | None:
    """A setting's value from the Practice sheet (``None`` when the sheet or the setting is missing)."""
    key = normalize_header(name)
    for row in _settings_rows(port, PRACTICE):
        texts = [cells.text_of(v) for v in row]
        for i, text in enumerate(texts):
            if text and normalize_header(text) == key:
                return next((t for t in texts[i + 1:] if t), "")
    return None


def payer_keys(port: WorkbookPort) -> set[str] | None:
    """The PayerKeys on the Payers sheet (``None`` when there is no readable Payers sheet)."""
    sheet, header_row = _locate(port, PAYERS)
    if not sheet:
        return None
    values = port.values(sheet)
    overrides = _overrides(port, PAYERS)
    if header_row is None:
        found = find_header_row(values, PAYERS, overrides)
        if found is None:
            return None
        header_row = found + 1
    mapping, _, _ = map_headers(values[header_row - 1], PAYERS, overrides)
    col = mapping["PayerKey"].index
    if not col:
        return None
    return {cells.text_of(r[col - 1]) for r in values[header_row:] if len(r) >= col and cells.text_of(r[col - 1])}


__all__ = ["FeeScheduleUpdate", "Rate", "SheetUpdate", "import_fee_schedule", "import_medicare", "payer_keys", "practice_setting"]
