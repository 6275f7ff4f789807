"""Reading a practice workbook into a typed :class:`~otbill_xl.domain.book.PracticeBook`.

Every problem becomes a :class:`Finding` that names the sheet and cell and says how to fix it; a bad
cell never stops the rest of the sheet from being read. Values of patient-identifying columns are
never echoed in messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.findings import Finding, Location, Severity, column_letter
from otbill_xl.domain.models import (
    AssistantsBill,
    ChargeLine,
    ChargeMasterEntry,
    FeeScheduleEntry,
    MedicareGPCI,
    MedicareRVU,
    Patient,
    Payer,
    PayerType,
    PostedPayment,
    Practice,
    Provider,
    Subscriber,
    UnitRule,
)
from otbill_xl.workbook import cells, charge_rows
from otbill_xl.workbook.contract import (
    CHARGE_MASTER,
    CHARGES,
    FEE_SCHEDULE,
    MEDICARE_GPCI,
    MEDICARE_RVU,
    PATIENTS,
    PAYERS,
    PAYMENTS,
    PRACTICE_SETTINGS,
    PROVIDERS,
    SHEETS,
    CellKind,
    Column,
    Sheet,
    normalize_header,
)
from otbill_xl.workbook.lookalike import Lookalike, lookalikes
from otbill_xl.workbook.mapping import (
    ColumnMapping,
    Overrides,
    column_overrides,
    find_header_row,
    map_headers,
    mapping_hint,
    merge_overrides,
    overrides_from_rows,
    overrides_from_toml,
    sheet_override,
)
from otbill_xl.workbook.port import WorkbookPort

COLUMNS_SHEET = "Columns"


@dataclass(frozen=True)
class SheetReport:
    """How one contract sheet was found and mapped."""

    contract: str
    sheet: str = ""
    found_as: str = "missing"          # table | range | missing | not read (the command skipped it)
    header_row: int = 0                # 1-based worksheet row of the header
    rows: int = 0                      # data rows read (blank rows skipped)
    columns: tuple[ColumnMapping, ...] = ()
    extra_headers: tuple[str, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    #: How the sheet was told apart: name | alias | mapped (Columns sheet or TOML) | guessed (its headers)
    located: str = ""

    def __post_init__(self) -> None:
        self._index.update({m.column: m.index for m in self.columns if m.index})

    def index_of(self, column: str) -> int:
        """1-based worksheet column of a contract column (0 when it is not in the sheet)."""
        return self._index.get(column, 0)

    def cell(self, column: str, row: int) -> str:
        index = self.index_of(column)
        return f"{column_letter(index)}{row}" if index and row else ""

    @property
    def missing_required(self) -> tuple[str, ...]:
        if self.found_as in ("missing", "not read"):
            return ()
        spec = {s.name: s for s in SHEETS}[self.contract]
        return tuple(m.column for m in self.columns if not m.index and spec.column(m.column).required)

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract, "sheet": self.sheet, "found_as": self.found_as,
            "header_row": self.header_row, "rows": self.rows,
            "columns": [{"column": m.column, "header": m.header, "cell": f"{m.letter}{self.header_row}" if m.index else "",
                         "how": m.how} for m in self.columns],
            "extra_headers": list(self.extra_headers), "missing_required": list(self.missing_required),
            "located": self.located,
        }


@dataclass(frozen=True)
class ReadReport:
    """What was found in the workbook, how each column was mapped, and what was wrong."""

    file: str
    sheets: tuple[SheetReport, ...]
    findings: tuple[Finding, ...]

    def sheet(self, contract: str) -> SheetReport | None:
        return next((s for s in self.sheets if s.contract == contract), None)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def locate(self, finding: Finding) -> Finding:
        """Fill in the A1 cell of a domain finding (which knows sheet, row and column name only)."""
        loc = finding.location
        if loc.cell or not loc.sheet or not loc.row or not loc.column:
            return finding
        report = self.sheet(loc.sheet)
        cell = report.cell(loc.column, loc.row) if report else ""
        if not cell:
            return finding
        return finding.model_copy(update={"location": loc.model_copy(update={"cell": cell, "sheet": report.sheet or loc.sheet})})

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sheets": [s.to_dict() for s in self.sheets],
            "findings": [f.to_dict() for f in self.findings],
        }


def _unread(spec: Sheet, sheet: str = "", found_as: str = "missing") -> _SheetRead:
    """A contract sheet with no rows read: missing, without a header row, or skipped (``not read``)."""
    return _SheetRead(SheetReport(spec.name, sheet, found_as,
                                  columns=tuple(ColumnMapping(c.name) for c in spec.columns)), [], {})


class PracticeRead(NamedTuple):
    """The result of :func:`read_practice`: the typed book and the read report."""

    book: PracticeBook
    report: ReadReport


# ------------------------------------------------------------------------------------------------

_CONVERTERS: dict[CellKind, Callable[[list], tuple[list, list]]] = {
    CellKind.TEXT: cells.text_column,
    CellKind.ID: cells.text_column,
    CellKind.CODE: lambda v: cells.text_column(v, upper=True),
    CellKind.DATE: cells.date_column,
    CellKind.INT: cells.int_column,
    CellKind.MONEY: cells.money_column,
    CellKind.FLAG: cells.flag_column,
    CellKind.DECIMAL: cells.decimal_column,
}
_BLANK_OF = {CellKind.TEXT: "", CellKind.ID: "", CellKind.CODE: "", CellKind.CHOICE: ""}
_FIX_OF = {
    CellKind.DATE: "Type a date such as 1/5/2026, or format the cell as a date.",
    CellKind.INT: "Type a whole number.",
    CellKind.MONEY: "Type an amount such as 125.00 (no text).",
    CellKind.DECIMAL: "Type a number such as 0.45.",
    CellKind.FLAG: "Type Y or N.",
    CellKind.CHOICE: "Pick one of the listed values.",
}
_RULE_OF = {CellKind.DATE: "read.bad-date", CellKind.INT: "read.bad-number", CellKind.MONEY: "read.bad-amount",
            CellKind.DECIMAL: "read.bad-number",
            CellKind.FLAG: "read.bad-flag", CellKind.CHOICE: "read.bad-choice"}

#: Values otbill accepts, per kind (a column's own ``limits`` narrow them): beyond these, dates
#: overflow date arithmetic and numbers overflow money arithmetic, and no billing value is there.
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2199, 12, 31)
MAX_AMOUNT = Decimal("9999999.99")
_LIMITS: dict[CellKind, tuple[Any, Any]] = {
    CellKind.DATE: (FIRST_DATE, LAST_DATE),
    CellKind.MONEY: (-MAX_AMOUNT, MAX_AMOUNT),
    CellKind.DECIMAL: (Decimal("-9999999"), Decimal("9999999")),
    CellKind.INT: (0, 999_999),
}

#: What each Excel error value means, for the message on its cell.
EXCEL_ERRORS = {
    "#N/A": "a lookup found no match",
    "#REF!": "a formula refers to cells that were deleted",
    "#VALUE!": "a formula got text where it needs a number",
    "#DIV/0!": "a formula divides by zero or by a blank cell",
    "#NAME?": "a formula uses a name or function Excel does not know",
    "#NULL!": "a formula's ranges do not meet",
    "#NUM!": "a formula's result is not a valid number",
}


def _range_reason(kind: CellKind, low: Any, high: Any) -> str:
    if kind is CellKind.DATE:
        return f"is outside the dates otbill accepts (years {low.year} to {high.year})"
    if kind is CellKind.MONEY:
        return f"is outside the amounts otbill accepts ({low:,} to {high:,})"
    return f"is outside the values otbill accepts ({low:,} to {high:,})"


#: Charges columns converted with :func:`cells.text_facts` (blank cells, separators) and the separators
#: that may part several codes in one of their cells.
_TEXT_FACTS = {"PatientID": "", "Code": "",
               **dict.fromkeys(("Mod1", "Mod2", "Mod3", "Mod4"), charge_rows.MOD_SEPARATORS),
               **dict.fromkeys(("Dx1", "Dx2", "Dx3", "Dx4"), charge_rows.DX_SEPARATORS)}


class _SheetRead(NamedTuple):
    report: SheetReport
    rows: list[int]                      # worksheet row numbers of the data rows kept
    columns: dict[str, list]             # contract column -> converted values


class _Reader:
    def __init__(self, port: WorkbookPort, overrides: Overrides) -> None:
        self.port = port
        self.file = port.name
        self.findings: list[Finding] = []
        self.names = port.sheet_names()
        self.tables = {t.name.lower(): t for t in port.tables()}
        self.overrides = overrides
        self.located: dict[str, str] = {}
        self._lookalikes: list[Lookalike] | None = None

    def finding(self, rule: str, severity: Severity, message: str, fix: str = "", *, sheet: str = "",
                row: int | None = None, column: str = "", cell: str = "") -> None:
        self.findings.append(Finding(rule=rule, severity=severity, message=message, fix=fix,
                                     location=Location(file=self.file, sheet=sheet, row=row, column=column, cell=cell)))

    def _found(self, name: str) -> tuple[str, int | None]:
        tables_here = [t for t in self.tables.values() if t.sheet == name]
        if len(tables_here) == 1:
            return "table", tables_here[0].header_row
        return "range", None

    def _by_name(self, spec: Sheet) -> tuple[str, str, int | None, str]:
        """(sheet, found_as, header row from a table, located) of a contract sheet found by its
        mapping, its table, its name or an alias; ('', 'missing', None, '') when none names it."""
        mapped = sheet_override(self.overrides, spec.name)
        if mapped:
            name = next((n for n in self.names if n == mapped), None) or next(
                (n for n in self.names if normalize_header(n) == normalize_header(mapped)), None)
            if name:
                return name, *self._found(name), "mapped"
        table = self.tables.get(spec.name.lower())
        if table is not None and table.sheet in self.names:
            return table.sheet, "table", table.header_row, "name"
        wanted = {normalize_header(spec.name)} | {normalize_header(a) for a in spec.aliases}
        for name in self.names:
            if normalize_header(name) in wanted:
                return name, *self._found(name), "name" if normalize_header(name) == normalize_header(spec.name) else "alias"
        return "", "missing", None, ""

    def lookalikes(self) -> list[Lookalike]:
        """Sheets no contract sheet names whose headers look like one (read once, only when a
        contract sheet is missing)."""
        if self._lookalikes is None:
            claimed = {self._by_name(spec)[0] for spec in SHEETS}
            self._lookalikes = lookalikes(self.port, [n for n in self.names if n not in claimed and n != COLUMNS_SHEET],
                                          self.overrides)
        return self._lookalikes

    def locate_sheet(self, spec: Sheet) -> tuple[str, str, int | None]:
        """(actual sheet name, found_as, 1-based header row if known from a table)."""
        mapped = sheet_override(self.overrides, spec.name)
        name, found_as, header_row, located = self._by_name(spec)
        if mapped and located != "mapped":
            self.finding("read.mapped-sheet-missing", Severity.ERROR,
                         f"The {spec.name} sheet is mapped to a sheet named {mapped!r}, but the workbook has no sheet "
                         f"of that name" + (f"; otbill reads {name!r} instead." if name else "."),
                         f"Correct the sheet name in the mapping (the workbook's sheets: {', '.join(self.names)}).",
                         sheet=spec.name)
        if not name and spec.required:
            alike = [x for x in self.lookalikes() if x.contract == spec.name and x.complete]
            if len(alike) == 1:
                name, (found_as, header_row), located = alike[0].sheet, self._found(alike[0].sheet), "guessed"
                self.finding("read.sheet-guessed", Severity.INFO,
                             f"The workbook has no sheet named {spec.name}; otbill reads {name!r}, whose headers "
                             f"({', '.join(alike[0].headers[:4])}{', ...' if len(alike[0].headers) > 4 else ''}) "
                             f"are those of a {spec.name} sheet, and no other sheet's are.",
                             f"If that is right, make it explicit (and stop this note) with "
                             f"{mapping_hint(spec.name, name)}. If not, map the right sheet the same way.",
                             sheet=name)
        self.located[spec.name] = located
        return name, found_as, header_row

    def missing_sheet(self, spec: Sheet) -> None:
        alike = [x for x in self.lookalikes() if x.contract == spec.name] if spec.required else []
        if len(alike) > 1:
            names = ", ".join(repr(x.sheet) for x in alike)
            hint = (f" Sheets {names} all look like one, so otbill does not guess: map the one to read with "
                    f"{mapping_hint(spec.name, alike[0].sheet)}.")
        elif alike:
            hint = " " + alike[0].hint()
        else:
            hint = ""
        severity = Severity.ERROR if spec.required else Severity.INFO
        self.finding("read.sheet-missing", severity, f"The workbook has no {spec.name} sheet.",
                     (f"Add a {spec.name} sheet ({spec.purpose}) Copy it from "
                      "workbook_templates/otbill-practice.xlsx, or map your own sheet to it." + hint) if spec.required else
                     f"Optional: add a {spec.name} sheet if you use it.",
                     sheet=spec.name)

    def read_sheet(self, spec: Sheet) -> _SheetRead:
        name, found_as, header_row = self.locate_sheet(spec)
        overrides = column_overrides(self.overrides, spec.name)
        if not name:
            self.missing_sheet(spec)
            return _unread(spec)
        values = self.port.values(name)
        self.check_hidden_sheet(spec, name)
        if header_row is None:
            h = find_header_row(values, spec, overrides)
            if h is None:
                self.finding("read.header-not-found", Severity.ERROR,
                             f"No header row naming the {spec.name} columns was found in the first 20 rows.",
                             f"Put the column names ({', '.join(c.name for c in spec.columns if c.required)}, ...) "
                             "in one row at the top, or map your headers in a Columns sheet.",
                             sheet=name)
                return _unread(spec, name, found_as)
            header_row = h + 1
        header = values[header_row - 1] if header_row - 1 < len(values) else []
        mapping, extras, problems = map_headers(header, spec, overrides)
        if spec is PAYERS and not mapping["PayerKey"].index and mapping["PayerName"].index:
            # A practice's own insurance list names each payer once ("Insurance": Medicare, BCBS ...) and
            # its patients by the same name: the name is the payer's key.
            mapping["PayerKey"] = ColumnMapping("PayerKey", mapping["PayerName"].header, mapping["PayerName"].index, "alias")
        for p in problems:
            self.finding(p.rule, Severity.ERROR, p.message, p.fix, sheet=name, row=header_row,
                         cell=f"{column_letter(p.index)}{header_row}")
        self.check_merged_header(name, header_row)
        for col in spec.columns:
            if col.required and not mapping[col.name].index:
                self.finding("read.column-missing", Severity.ERROR,
                             f"The {name} sheet has no {col.name} column (accepted headers: "
                             f"{', '.join((col.name,) + col.aliases[:4])}).",
                             f"Add a {col.name} column to the header row (row {header_row}), or map your "
                             "header to it in a Columns sheet.",
                             sheet=name, row=header_row, column=col.name)
        report_columns = tuple(mapping[c.name] for c in spec.columns)
        rows, converted = self.convert(spec, name, values, header_row, mapping)
        report = SheetReport(spec.name, name, found_as, header_row, len(rows), report_columns, tuple(extras),
                             located=self.located.get(spec.name, ""))
        return _SheetRead(report, rows, converted)

    def check_hidden_sheet(self, spec: Sheet, sheet: str) -> None:
        state_of = getattr(self.port, "sheet_state", None)
        state = state_of(sheet) if state_of else "visible"
        if state == "visible":
            return
        very = state == "veryHidden"
        self.finding("read.hidden-sheet", Severity.INFO,
                     f"The {sheet} sheet ({spec.name}) is {'very hidden (only a macro can show it)' if very else 'hidden'} "
                     "in Excel; otbill reads it like any other sheet.",
                     ("To see it: Developer > Visual Basic, select the sheet, set its Visible property to "
                      "xlSheetVisible." if very else "To see it: right-click a sheet tab > Unhide.")
                     + " Delete or rename it if it should not be read.",
                     sheet=sheet)

    def check_hidden_rows(self, sheet: str, rows: list[int]) -> None:
        hidden_of = getattr(self.port, "hidden_rows", None)
        hidden = hidden_of(sheet) if hidden_of else []
        if not hidden or not rows:
            return
        kept = set(rows)
        read = sorted(r for r in set(hidden) if r in kept)
        if not read:
            return
        first = ", ".join(map(str, read[:5])) + (", ..." if len(read) > 5 else "")
        self.finding("read.hidden-rows", Severity.INFO,
                     f"{len(read)} hidden row{'s' if len(read) != 1 else ''} of {sheet} "
                     f"{'are' if len(read) != 1 else 'is'} read like any other (row{'s' if len(read) != 1 else ''} {first}).",
                     "To see them: select the sheet, Home > Format > Hide & Unhide > Unhide Rows. Delete rows "
                     "that should not be billed.",
                     sheet=sheet, row=read[0])

    def error_cells(self, sheet: str, header_row: int, present: list[tuple[Column, int]]) -> dict[tuple[int, int], str]:
        """Excel error cells in the mapped columns below the header: (row, column) -> error."""
        errors_of = getattr(self.port, "error_cells", None)
        if errors_of is None:
            return {}
        columns = {index + 1 for _, index in present}
        return {(row, column): code for row, column, code in errors_of(sheet)
                if row > header_row and column in columns}

    def check_merged_header(self, sheet: str, header_row: int) -> None:
        for r1, c1, r2, c2 in self.port.merged_ranges(sheet):
            if r1 <= header_row <= r2 and c2 > c1:
                ref = f"{column_letter(c1)}{r1}:{column_letter(c2)}{r2}"
                self.finding("read.merged-header", Severity.ERROR,
                             f"Header cells {ref} are merged, so the columns under them have no header of their own.",
                             "Unmerge the cells (Home > Merge & Center > Unmerge) and give each column its own header.",
                             sheet=sheet, row=header_row, cell=f"{column_letter(c1)}{r1}")

    def convert(self, spec: Sheet, sheet: str, values: list[list], header_row: int,
                mapping: dict[str, ColumnMapping]) -> tuple[list[int], dict[str, list]]:
        data = values[header_row:]
        present = [(c, mapping[c.name].index - 1) for c in spec.columns if mapping[c.name].index]
        if not data or not present:
            return [], {}
        idx = [i for _, i in present]
        need = max(idx) + 1
        picked = cells.columns(data, idx)
        if picked is None:  # ragged rows (live Excel) or rows shorter than the header: pad them
            data = [list(r) + [""] * (need - len(r)) if len(r) < need else r for r in data]
        first_row = header_row + 1
        errors = self.error_cells(sheet, header_row, present)
        unreadable_of = getattr(self.port, "unreadable_cells", None)
        unreadable = {row: cols for row, cols in (unreadable_of(sheet) if unreadable_of else {}).items()
                      if row > header_row}
        for row in unreadable:  # the row's values are all blank: keep it as a row with errors
            errors.setdefault((row, 0), "")
        # A mapped column without a blank cell means no row is blank (the common case, found at C speed).
        if (picked is not None and any(map(all, picked))) or all(map(any, data)):
            rows = list(range(first_row, first_row + len(data)))
        else:  # drop blank and formatted-but-empty rows (judged on the mapped columns)
            pick = itemgetter(*idx) if len(idx) > 1 else (lambda r: (r[idx[0]],))
            keep = [i for i, r in enumerate(data) if any(not cells.is_blank(v) for v in pick(r))]
            if errors:  # an error cell reads as blank, but its row is not blank
                keep = sorted(set(keep) | {row - first_row for row, _ in errors if row - first_row < len(data)})
            data = [data[i] for i in keep]
            rows = [first_row + i for i in keep]
            if picked is not None:
                picked = [list(map(column.__getitem__, keep)) for column in picked]
        if not data:
            return [], {}
        raw_columns: list[Sequence[Any]]
        if picked is not None:
            raw_columns = list(picked)
        # Ragged rows: transposing the whole sheet at C speed beats picking columns row by row, unless
        # the sheet carries many more columns than otbill reads.
        elif len(data[0]) <= 2 * len(idx):
            transposed = list(zip(*data, strict=False))
            raw_columns = [transposed[i] for i in idx]
        else:
            raw_columns = list(zip(*map(itemgetter(*idx), data), strict=True)) if len(idx) > 1 else [tuple(r[idx[0]] for r in data)]
        facts: dict[str, tuple[list, bool, bool]] = {}
        if spec is CHARGES:
            for (col, _), raw in zip(present, raw_columns, strict=True):
                if col.name in _TEXT_FACTS:
                    facts[col.name] = cells.text_facts(raw, upper=col.kind is CellKind.CODE,
                                                       separators=_TEXT_FACTS[col.name])
            skipped = self.skip_not_lines(sheet, present, raw_columns, data, rows, errors, facts)
            if skipped:
                keep = [i for i in range(len(rows)) if i not in skipped]
                rows = [rows[i] for i in keep]
                raw_columns = [[column[i] for i in keep] for column in raw_columns]
                facts = {name: ([out[i] for i in keep], blank, several) for name, (out, blank, several) in facts.items()}
                if not rows:
                    return [], {}
        converted: dict[str, list] = {}
        for (col, index), raw in zip(present, raw_columns, strict=True):
            fact = facts.get(col.name)
            out, problems = (fact[0], []) if fact is not None else self.convert_column(col, raw)
            converted[col.name] = out
            for i, reason in problems:
                if col.kind is CellKind.DATE and self.day_first_date(sheet, col, index + 1, rows[i], raw[i], out, i):
                    continue
                self.cell_problem(spec, sheet, col, index + 1, rows[i], raw[i], reason)
            self.check_range(sheet, col, index + 1, rows, raw, out, col.limits or _LIMITS.get(col.kind))
            if col.kind is CellKind.DATE:
                self.check_dotted_dates(sheet, col, index + 1, rows, raw, out)
        if spec is CHARGES:
            self.spread_codes(sheet, present, rows, converted, {name for name, f in facts.items() if f[2]})
            if "LineID" not in converted:
                self.derive_line_ids(sheet, rows, converted)
        if errors:
            self.use_no_error_values(sheet, rows, present, converted, errors)
        if unreadable:
            self.report_unreadable(sheet, present, unreadable)
        self.check_formulas(sheet, rows, present)
        self.check_hidden_rows(sheet, rows)
        return rows, converted

    def check_range(self, sheet: str, col: Column, index: int, rows: list[int], raw: Sequence[Any], out: list,
                    limits: tuple[Any, Any] | None) -> None:
        """Values beyond what billing can mean (DOS 12/31/9999, Units 1e30) are errors on their cell
        and are not used (they would overflow date and money arithmetic)."""
        if limits is None:
            return
        low, high = limits
        for i in cells.out_of_range(out, low, high):
            out[i] = None
            self.cell_problem(None, sheet, col, index, rows[i], raw[i], _range_reason(col.kind, low, high),
                              rule="read.out-of-range",
                              fix="Correct the value: a typo, a number in the wrong column, or a wrong cell format?")

    def skip_not_lines(self, sheet: str, present: list[tuple[Column, int]], raw_columns: list[Sequence[Any]],
                       data: list, rows: list[int], errors: dict[tuple[int, int], str],
                       facts: dict[str, tuple[list, bool, bool]]) -> set[int]:
        """Totals and notes rows of a Charges sheet (indexes into ``rows``): skipped, with one info
        finding for each kind naming the rows, instead of five errors on each."""
        if "PatientID" not in facts or "Code" not in facts or not (facts["PatientID"][1] or facts["Code"][1]):
            return set()  # every row has a patient and a code (the common case, known from the conversion)
        raw = {col.name: column for (col, _), column in zip(present, raw_columns, strict=True)}
        patient, code = raw["PatientID"], raw["Code"]
        # A row with an Excel error cell, or one that could not be read at all, looks blank where the
        # error is: it stays a line, with its errors, whatever else it holds.
        error_rows = {row for row, _ in errors}
        keep = frozenset(i for i, row in enumerate(rows) if row in error_rows)
        labels = [raw[n] for n in ("LineID", "PatientID", "DOS", "Code", "RenderingNPI") if n in raw]
        totals, notes = charge_rows.not_lines(data, patient, code, raw.get("DOS"), labels, keep)  # data lines up with rows
        for kind, found in (("totals", totals), ("notes", notes)):
            if not found:
                continue
            listed = [rows[i] for i in found]
            many = len(listed) > 1
            shown = ", ".join(map(str, listed[:8])) + (", ..." if len(listed) > 8 else "")
            what = ("a total (Total, Subtotal, or sums with no patient and no code)" if kind == "totals" else
                    "a note (text with no patient, code or date of service)")
            self.finding(f"read.{kind}-row", Severity.INFO,
                         f"{'Rows' if many else 'Row'} {shown} of {sheet} {'are' if many else 'is'} {what}, not "
                         f"{'service lines' if many else 'a service line'}; otbill skips {'them' if many else 'it'}.",
                         "Nothing to do if that is right. If one is a service line, fill in its PatientID, DOS and "
                         "Code" + (" and take the word Total out of it." if kind == "totals" else "."),
                         sheet=sheet, row=listed[0])
        return set(totals) | set(notes)

    def day_first_date(self, sheet: str, col: Column, index: int, row: int, raw: Any, out: list, i: int) -> bool:
        """A slash date that can only be day first (13/01/2026) is read as the date it means, with one
        error on its cell saying how to type it: never a second finding for a blank date, and never
        billed as typed (the column's other day-first dates, 05/01/2026, read month first)."""
        meant = cells.day_first(raw) if isinstance(raw, str) else None
        if meant is None:
            return False
        out[i] = meant
        us = f"{meant.month}/{meant.day}/{meant.year}"
        shown = "" if col.phi else f" {cells.excerpt(raw)}"
        said = "" if col.phi else f" ({meant.day} {meant:%B} {meant.year})"
        self.finding("read.day-first-date", Severity.ERROR,
                     f"{col.name}{shown} is written day first{said}; otbill reads dates month first, as US "
                     "claims do, so the line is held back until the date is retyped.",
                     f"Type it month first{'' if col.phi else ': ' + us} (or use a date cell). If this column has "
                     "other dates typed day first, retype those too: 05/01/2026 reads as May 1.",
                     sheet=sheet, row=row, column=col.name, cell=f"{column_letter(index)}{row}")
        return True

    def spread_codes(self, sheet: str, present: list[tuple[Column, int]], rows: list[int],
                     converted: dict[str, list], several: set[str]) -> None:
        """Several modifiers ("GO CO", "GO,59", "GO-KX") or diagnoses ("M62.81, R26.89") in one cell are
        spread over Mod1-Mod4 / Dx1-Dx4, with one info finding per sheet and kind (a count and the
        first cell), and an error on a row holding more than four."""
        where = {col.name: index + 1 for col, index in present}
        n = len(rows)
        for kind, names, word in (("mod", ("Mod1", "Mod2", "Mod3", "Mod4"), "modifier"),
                                  ("dx", ("Dx1", "Dx2", "Dx3", "Dx4"), "diagnosis")):
            if not several.intersection(names):  # no cell holds a separator (known from the conversion)
                continue
            slots = [converted.get(name) or [""] * n for name in names]
            done = charge_rows.spread(slots, kind, checked=True)
            if not done.split:
                continue
            for name, column in zip(names, slots, strict=True):
                converted[name] = column
            i, slot, typed = done.split[0]
            cell = f"{column_letter(where[names[slot]])}{rows[i]}"
            parts = ", ".join(c for c in (column[i] for column in slots) if c)
            many = len(done.split) > 1
            plural = "modifiers" if kind == "mod" else "diagnoses"
            self.finding(f"read.{plural}-split", Severity.INFO,
                         f"{len(done.split)} {word} cell{'s' if many else ''} of {sheet} hold{'' if many else 's'} several "
                         f"{plural}, such as {cells.excerpt(typed)} at {cell}; otbill reads them one per "
                         f"{names[0][:-1]}1-{names[0][:-1]}4 ({parts}).",
                         f"Nothing to do. To see them as otbill does, put one {word} in each of the "
                         f"{names[0][:-1]}1-{names[0][:-1]}4 columns.",
                         sheet=sheet, row=rows[i], column=names[slot], cell=cell)
            for i, count in done.over:
                self.finding("read.too-many-codes", Severity.ERROR,
                             f"Row {rows[i]} holds {count} {plural}; a claim line carries at most four, so otbill "
                             f"reads the first four and holds the line back.",
                             f"Keep the four {plural} that matter for this line (the first is the primary), "
                             "or split the service over two lines.",
                             sheet=sheet, row=rows[i], column=names[0], cell=f"{column_letter(where[names[0]])}{rows[i]}"
                             if names[0] in where else "")

    def derive_line_ids(self, sheet: str, rows: list[int], converted: dict[str, list]) -> None:
        """A Charges sheet without a LineID column: each line gets a LineID from what it is (see
        :func:`charge_rows.derived_line_ids`), stable from run to run; one info finding says so."""
        n = len(rows)
        blank = [""] * n
        ids = charge_rows.derived_line_ids(
            converted.get("PatientID") or blank, converted.get("DOS") or [None] * n, converted.get("Code") or blank,
            [converted.get(m) or blank for m in ("Mod1", "Mod2", "Mod3", "Mod4")])
        converted["LineID"] = ids
        self.finding("read.derived-line-ids", Severity.INFO,
                     f"The {sheet} sheet has no LineID column, so otbill gives each line a LineID made of its date "
                     f"of service, code, modifiers and a tag standing for the patient (row {rows[0]}: {ids[0]}). "
                     "Pricing, Claims, Held Back and the 837P (REF*6R) show it; a line keeps its LineID from run "
                     "to run, and the ledger still bills it once.",
                     "Nothing to do. To use your own line numbers, add a LineID column.",
                     sheet=sheet, row=rows[0], column="LineID")

    def check_dotted_dates(self, sheet: str, col: Column, index: int, rows: list[int], raw: Sequence[Any], out: list) -> None:
        dotted = [i for i in cells.dotted_dates(raw) if out[i] is not None]
        if not dotted:
            return
        first = dotted[0]
        cell = f"{column_letter(index)}{rows[first]}"
        example = "" if col.phi else f" such as {cells.excerpt(raw[first])}"
        count = f"{len(dotted)} {col.name} cells hold" if len(dotted) > 1 else f"{col.name} holds"
        self.finding("read.dotted-date", Severity.INFO,
                     f"{count} a dotted date{example} (first at {cell}); otbill reads dotted dates day first, "
                     "as everywhere dots are used: 03.08.2026 is 3 August 2026.",
                     "If the month comes first, type the date as m/d/yyyy (8/3/2026 for August 3) or use a date cell.",
                     sheet=sheet, row=rows[first], column=col.name, cell=cell)

    def report_unreadable(self, sheet: str, present: list[tuple[Column, int]], unreadable: dict[int, list[int]]) -> None:
        """Rows python-calamine could not convert (a number far beyond Excel's dates under a date or
        duration format, e.g. a duration of a billion days): an error on the cell, or on the row."""
        by_index = {index + 1: col for col, index in present}
        for row, columns in sorted(unreadable.items()):
            what = "a number far outside Excel's dates (over 2,958,465) under a date or duration format"
            fix = "Type the right value, or format the cell as a number (Home > Number Format > Number)."
            if not columns:
                self.finding("read.unreadable-row", Severity.ERROR,
                             f"Row {row} cannot be read: one of its cells holds {what}.", fix, sheet=sheet, row=row)
            for index in columns:
                col = by_index.get(index)
                name = col.name if col else f"The cell in column {column_letter(index)}"
                self.finding("read.unreadable-row", Severity.ERROR,
                             f"{name} holds {what}; otbill cannot read it, so none of row {row} is read.", fix,
                             sheet=sheet, row=row, column=col.name if col else "",
                             cell=f"{column_letter(index)}{row}")

    def use_no_error_values(self, sheet: str, rows: list[int], present: list[tuple[Column, int]],
                            converted: dict[str, list], errors: dict[tuple[int, int], str]) -> None:
        """An Excel error cell (#N/A, #REF! ...) is an error on its cell, never a blank: its line is
        held back, and nothing is computed in its place."""
        position = {row: i for i, row in enumerate(rows)}
        by_index = {index + 1: col for col, index in present}
        for (row, index), code in sorted(errors.items()):
            col, i = by_index.get(index), position.get(row)
            if col is None or i is None:
                continue
            converted[col.name][i] = _BLANK_OF.get(col.kind)
            shown = code[:20] or "an error value"
            meaning = EXCEL_ERRORS.get(code)
            self.finding("read.error-cell", Severity.ERROR,
                         f"{col.name} holds the Excel error {shown}"
                         + (f" ({meaning})" if meaning else "")
                         + "; otbill does not read it as blank, so the line cannot be used.",
                         "Correct the formula or type the value, so the cell shows a value instead of "
                         f"{shown}.",
                         sheet=sheet, row=row, column=col.name, cell=f"{column_letter(index)}{row}")

    def convert_column(self, col: Column, raw: Sequence[Any]) -> tuple[list, list]:
        if raw[0] == "" and raw[-1] == "" and raw.count("") == len(raw):  # all blank (unused modifiers, notes)
            return [_BLANK_OF.get(col.kind)] * len(raw), []
        if col.kind is CellKind.CHOICE:
            return cells.choice_column(raw, col.choices)
        if col.name == "ZIP":
            return [cells.zip_code(v) for v in raw], []
        return _CONVERTERS[col.kind](raw)

    def cell_problem(self, spec: Sheet | None, sheet: str, col: Column, index: int, row: int, value: Any, reason: str,
                     *, rule: str = "", fix: str = "") -> None:
        # At most a short excerpt of the value, and none at all of patient-identifying columns.
        shown = "" if col.phi else f" {cells.excerpt(value)}"
        self.finding(rule or _RULE_OF.get(col.kind, "read.bad-value"), Severity.ERROR,
                     f"{col.name}{shown} {reason}.", fix or _FIX_OF.get(col.kind, ""),
                     sheet=sheet, row=row, column=col.name, cell=f"{column_letter(index)}{row}")

    def check_formulas(self, sheet: str, rows: list[int], present: list[tuple[Column, int]]) -> None:
        missing = self.port.formulas_without_values(sheet)
        if not missing:
            return
        by_index = {i + 1: c for c, i in present}
        kept = set(rows)
        for row, index in missing:
            col = by_index.get(index)
            if col is None or row not in kept:
                continue
            self.finding("read.formula-no-value", Severity.ERROR,
                         f"{col.name} holds a formula whose result was never saved (the file was written by a "
                         "program that does not calculate), so otbill cannot see its value.",
                         "Open the workbook in Excel, let it calculate, and save it; or type the value.",
                         sheet=sheet, row=row, column=col.name, cell=f"{column_letter(index)}{row}")


def _column(read: _SheetRead, spec: Sheet, name: str, n: int) -> list:
    values = read.columns.get(name)
    if values is not None:
        return values
    return [_BLANK_OF.get(spec.column(name).kind)] * n


def _records(read: _SheetRead, spec: Sheet) -> list[dict[str, Any]]:
    n = len(read.rows)
    names = [c.name for c in spec.columns]
    cols = [_column(read, spec, name, n) for name in names]
    attrs = [spec.column(name).attribute for name in names]
    return [dict(zip(["row", *attrs], vals, strict=True)) for vals in zip(read.rows, *cols, strict=True)]


# ------------------------------------------------------------------------------------------------

def _practice(reader: _Reader, read: _SheetRead) -> Practice:
    if not read.rows:
        return Practice()
    fields = {normalize_header(s): _snake_setting(s) for s in PRACTICE_SETTINGS}
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    settings = read.columns.get("Setting", [])
    raw_values = read.columns.get("Value", [""] * len(settings))
    for setting, value in zip(settings, raw_values, strict=False):
        if not setting:
            continue
        key = fields.get(normalize_header(setting))
        if key is None:
            extra[setting] = value
        else:
            values[key] = cells.zip_code(value) if key in ("zip", "pay_to_zip") else value
    usage = values.get("usage_indicator", "").upper() or "T"
    if usage not in ("T", "P"):
        reader.finding("read.bad-choice", Severity.ERROR, "UsageIndicator must be T (test) or P (production).",
                       "Set UsageIndicator to T until the clearinghouse approves production.",
                       sheet=read.report.sheet, column="UsageIndicator")
        usage = "T"
    values["usage_indicator"] = usage
    return Practice(**values, extra=extra)


def _snake_setting(name: str) -> str:
    special = {"QualifyingAPM": "qualifying_apm", "PayToZIP": "pay_to_zip", "BillingNPI": "billing_npi", "TaxID": "tax_id", "ZIP": "zip", "SubmitterID": "submitter_id",
               "ReceiverID": "receiver_id", "InterchangeSenderID": "interchange_sender_id",
               "InterchangeReceiverID": "interchange_receiver_id"}
    if name in special:
        return special[name]
    out = "".join("_" + ch.lower() if ch.isupper() else ch for ch in name).lstrip("_")
    return out


def _build(reader: _Reader, read: _SheetRead, spec: Sheet, key: str, make: Callable[[dict], Any]) -> list:
    out = []
    for rec in _records(read, spec):
        row = rec["row"]
        if key and not rec.get(spec.column(key).attribute):
            reader.finding("read.blank-key", Severity.WARNING, f"Row {row} has no {key}; it is skipped.",
                           f"Fill in {key} or delete the row.", sheet=read.report.sheet, row=row, column=key,
                           cell=read.report.cell(key, row))
            continue
        try:
            out.append(make(rec))
        except ValidationError as exc:
            err = exc.errors()[0]
            reader.finding("read.bad-value", Severity.ERROR,
                           f"Row {row} cannot be read: {err.get('loc', ('',))[0]} {err.get('msg', '')}.",
                           "Correct the value.", sheet=read.report.sheet, row=row)
    return out


def _payer(rec: dict) -> Payer:
    ptype = PayerType(rec["payer_type"]) if rec["payer_type"] else PayerType.COMMERCIAL
    medicare_like = ptype in (PayerType.MEDICARE, PayerType.MEDICARE_ADVANTAGE)
    rule = rec["unit_rule"] or (UnitRule.CMS if medicare_like else UnitRule.AMA)
    go = rec["requires_go"] if rec["requires_go"] is not None else medicare_like
    mppr = rec["apply_mppr"] if rec["apply_mppr"] is not None else ptype is PayerType.MEDICARE
    # A blank TimelyFilingDays stays blank: for Medicare the domain applies one calendar year after the
    # DOS (42 CFR 424.44, facts §7: a 29 February DOS by 28 February), which a day count cannot say.
    filing = rec["timely_filing_days"]
    return Payer(payer_key=rec["payer_key"], row=rec["row"], payer_name=rec["payer_name"], payer_type=ptype, payer_id=rec["payer_id"],
                 unit_rule=rule, requires_go=go, requires_auth=bool(rec["requires_auth"]),
                 visit_limit_per_year=rec["visit_limit_per_year"], timely_filing_days=filing, apply_mppr=mppr,
                 assistants_bill=rec["assistants_bill"] or AssistantsBill.SUPERVISOR,
                 requires_referring=bool(rec["requires_referring"]),
                 appeal_days=rec["appeal_days"], corrected_claim_days=rec["corrected_claim_days"])


def _patient(rec: dict) -> Patient:
    sub_fields = {k.removeprefix("subscriber_"): rec.pop(k) for k in list(rec) if k.startswith("subscriber_")}
    rec["relationship"] = rec["relationship"] or "self"
    for money in ("prior_therapy_spend", "deductible_remaining"):
        if rec[money] is None:
            rec[money] = Decimal("0")
    rec["sex"] = rec["sex"].upper()
    sub_fields["sex"] = sub_fields["sex"].upper()
    subscriber = Subscriber(**sub_fields) if any(sub_fields.values()) else None
    return Patient(**rec, subscriber=subscriber)




def read_book(port: WorkbookPort, *, overrides: Overrides | None = None,
              skip: frozenset[str] = frozenset()) -> PracticeRead:
    """Read a practice book through any workbook port (file or live Excel). Contract sheets named in
    ``skip`` (a command that does not use them, e.g. Payments for check/price/claims) are not read at
    all: their records are empty and their report says ``not read``."""
    with gc_paused():
        return _read_book(port, overrides, skip)


def _read_book(port: WorkbookPort, overrides: Overrides | None, skip: frozenset[str] = frozenset()) -> PracticeRead:
    sheet_overrides = {}
    if COLUMNS_SHEET in port.sheet_names():
        sheet_overrides = overrides_from_rows(port.values(COLUMNS_SHEET))
    reader = _Reader(port, merge_overrides(sheet_overrides, overrides or {}))
    reads = {spec.name: _unread(spec, found_as="not read") if spec.name in skip else reader.read_sheet(spec) for spec in SHEETS}
    practice = _practice(reader, reads["Practice"])
    payers = _build(reader, reads["Payers"], PAYERS, "PayerKey", _payer)
    providers = _build(reader, reads["Providers"], PROVIDERS, "NPI", _provider)
    patients = _build(reader, reads["Patients"], PATIENTS, "PatientID", _patient)
    charge_master = _build(reader, reads["ChargeMaster"], CHARGE_MASTER, "Code", _charge_master_entry)
    fee_schedule = _build(reader, reads["FeeSchedule"], FEE_SCHEDULE, "Code", _fee_entry)
    medicare_rvus = _build(reader, reads["MedicareRVU"], MEDICARE_RVU, "Code", _rvu)
    medicare_gpcis = _build(reader, reads["MedicareGPCI"], MEDICARE_GPCI, "Locality", _gpci)
    charges = _charge_lines(reads["Charges"])
    payments = _payments(reads["Payments"])
    book = PracticeBook(practice=practice, payers=tuple(payers), providers=tuple(providers),
                        patients=tuple(patients), charge_master=tuple(charge_master),
                        fee_schedule=tuple(fee_schedule), medicare_rvus=tuple(medicare_rvus),
                        medicare_gpcis=tuple(medicare_gpcis), charges=charges, payments=payments)
    findings = sorted(reader.findings, key=lambda f: f.severity.rank)  # stable: sheet order kept within a severity
    report = ReadReport(port.name, tuple(r.report for r in reads.values()), tuple(findings))
    return PracticeRead(book, report)


def _provider(rec: dict) -> Provider:
    return Provider(**rec)


def _rvu(rec: dict) -> MedicareRVU:
    rec["always_therapy"] = bool(rec["always_therapy"])
    return MedicareRVU(**rec)


def _gpci(rec: dict) -> MedicareGPCI:
    return MedicareGPCI(**rec)


def _charge_master_entry(rec: dict) -> ChargeMasterEntry:
    return ChargeMasterEntry(code=rec["code"], charge_per_unit=rec["charge_per_unit"], effective_from=rec["effective_from"])


def _fee_entry(rec: dict) -> FeeScheduleEntry:
    return FeeScheduleEntry(**rec)


def _charge_lines(read: _SheetRead) -> tuple[ChargeLine, ...]:
    """Charge lines straight from the converted columns (no per-row dicts: this is the hot path)."""
    n = len(read.rows)
    if not n:
        return ()
    cols = [_column(read, CHARGES, c.name, n) for c in CHARGES.columns]
    # Plain construction: building the tuples with tuple.__new__ saved only 2% of the load (bench_load).
    return tuple(map(ChargeLine, read.rows, *cols))


def _payments(read: _SheetRead) -> tuple[PostedPayment, ...]:
    n = len(read.rows)
    if not n:
        return ()
    cols = {c.name: _column(read, PAYMENTS, c.name, n) for c in PAYMENTS.columns}
    cols["Modifiers"] = [tuple(m for m in _split_mods(v)) for v in cols["Modifiers"]]
    return tuple(map(PostedPayment._make, zip(read.rows, *cols.values(), strict=True)))


def _split_mods(text: str) -> list[str]:
    return [m for m in text.replace(";", ",").replace(":", ",").replace(" ", ",").split(",") if m]


def read_practice(path: str | Path, *, columns: str | Path | None = None) -> PracticeRead:
    """Read a practice workbook file into a typed book plus a report of mappings and problems.

    ``columns`` names an optional TOML file mapping your headers to contract columns; a ``Columns``
    sheet in the workbook does the same. Raises :class:`~otbill_xl.errors.WorkbookError` (with a
    message naming the file and what to do) when the file cannot be read at all.
    """
    overrides = overrides_from_toml(columns) if columns else None
    # imported here: the worksheet functions read the open book through this module without python-calamine
    from otbill_xl.workbook.files import FileWorkbook

    return read_book(FileWorkbook(path), overrides=overrides)


__all__ = ["PracticeRead", "ReadReport", "SheetReport", "read_book", "read_practice"]
