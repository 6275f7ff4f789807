"""Writing imported fee-schedule rows into a practice workbook through the port.

* :func:`import_medicare` replaces one year's rows of the ``MedicareRVU`` and ``MedicareGPCI`` sheets
  with the rows read from CMS's files, keeping every other year's rows.
* :func:`import_fee_schedule` replaces a payer's ``FeeSchedule`` rows that have the same EffectiveFrom
  as the imported ones (a re-import of the same contract), keeping the payer's other periods and every
  other payer's rows; the imported rows are appended.

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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from otbill_xl.domain.models import FeeScheduleEntry, MedicareGPCI, MedicareRVU
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
    #: Rows written from the import.
    added: int

    def to_dict(self) -> dict[str, Any]:
        return {"contract": self.contract, "sheet": self.sheet, "created": self.created, "replaced": self.replaced,
                "kept": self.kept, "added": self.added}


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


def _merge(port: WorkbookPort, spec: Sheet, new_rows: Sequence[dict[str, Any]],
           replaces: Callable[[Callable[[str], Any]], bool]) -> SheetUpdate:
    """Rewrite ``spec``'s sheet: keep the rows ``replaces`` says no to, then append ``new_rows``
    (contract column name -> value)."""
    sheet, header_row = _locate(port, spec)
    if not sheet:
        header = list(spec.column_names)
        rows = [header] + [[r.get(c) for c in header] for r in new_rows]
        port.replace_sheet(spec.name, rows, widths=[_width(h, [r[i] for r in rows[1:]]) for i, h in enumerate(header)])
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
    header = list(values[header_row - 1]) if header_row - 1 < len(values) else []
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
    replaced = 0
    for row in values[header_row:]:
        if not any(not cells.is_blank(v) for v in row):
            continue  # blank and formatted-but-empty rows
        row = padded(row)

        def get(name: str, row: list[Any] = row) -> Any:
            return row[index[name]]

        if replaces(get):
            replaced += 1
        else:
            kept.append(row)
    added = []
    for new in new_rows:
        row = [None] * width
        for name, value in new.items():
            row[index[name]] = value
        added.append(row)
    body = kept + added
    widths = [_width(cells.text_of(h), [r[i] for r in body]) for i, h in enumerate(header)]
    port.replace_sheet(sheet, above + [header] + body, widths=widths)
    return SheetUpdate(spec.name, sheet, False, replaced, len(kept), len(added))


def _year_is(year: int) -> Callable[[Callable[[str], Any]], bool]:
    def test(get: Callable[[str], Any]) -> bool:
        try:
            return cells.to_int(get("Year")) == year
        except ValueError:
            return False
    return test


def rvu_row(r: MedicareRVU) -> dict[str, Any]:
    return {"Year": r.year, "Code": r.code, "Modifier": r.modifier, "WorkRVU": r.work_rvu,
            "PERVUNonFacility": r.pe_rvu_nonfacility, "PERVUFacility": r.pe_rvu_facility, "MPRVU": r.mp_rvu,
            "AlwaysTherapy": "Y" if r.always_therapy else "N"}


def gpci_row(g: MedicareGPCI) -> dict[str, Any]:
    return {"Year": g.year, "Locality": g.locality, "WorkGPCI": g.work_gpci, "PEGPCI": g.pe_gpci, "MPGPCI": g.mp_gpci}


def fee_row(e: FeeScheduleEntry) -> dict[str, Any]:
    return {"PayerKey": e.payer_key, "Code": e.code, "Modifier": e.modifier, "EffectiveFrom": e.effective_from,
            "EffectiveTo": e.effective_to, "AllowedPerUnit": e.allowed_per_unit}


def import_medicare(port: WorkbookPort, *, year: int, rvus: Sequence[MedicareRVU] | None = None,
                    gpcis: Sequence[MedicareGPCI] | None = None) -> list[SheetUpdate]:
    """Replace ``year``'s MedicareRVU rows with ``rvus`` and MedicareGPCI rows with ``gpcis``.

    ``None`` leaves that sheet alone. Every record must be of ``year``.
    """
    updates = []
    if rvus is not None:
        if any(r.year != year for r in rvus):
            raise ValueError("every RVU record must be of the imported year")
        rows = [rvu_row(r) for r in sorted(rvus, key=lambda r: (r.code, r.modifier))]
        updates.append(_merge(port, MEDICARE_RVU, rows, _year_is(year)))
    if gpcis is not None:
        if any(g.year != year for g in gpcis):
            raise ValueError("every GPCI record must be of the imported year")
        rows = [gpci_row(g) for g in sorted(gpcis, key=lambda g: g.locality)]
        updates.append(_merge(port, MEDICARE_GPCI, rows, _year_is(year)))
    return updates


def import_fee_schedule(port: WorkbookPort, entries: Sequence[FeeScheduleEntry], *, payer: str) -> SheetUpdate:
    """Append ``entries`` (all for ``payer``) to the FeeSchedule sheet, replacing that payer's rows
    whose EffectiveFrom equals one of the imported EffectiveFrom dates (blank matches blank)."""
    if any(e.payer_key != payer for e in entries):
        raise ValueError("every entry must belong to the imported payer")
    starts: set[date | None] = {e.effective_from for e in entries}
    key = payer.strip().casefold()

    def replaces(get: Callable[[str], Any]) -> bool:
        if cells.text_of(get("PayerKey")).casefold() != key:
            return False
        try:
            return cells.to_date(get("EffectiveFrom")) in starts
        except ValueError:
            return False

    rows = [fee_row(e) for e in sorted(entries, key=lambda e: (e.code, e.modifier, e.effective_from or date.min))]
    return _merge(port, FEE_SCHEDULE, rows, replaces)


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


__all__ = ["SheetUpdate", "import_fee_schedule", "import_medicare", "payer_keys", "practice_setting"]
