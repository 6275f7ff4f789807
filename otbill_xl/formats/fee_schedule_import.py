"""Reading a payer's contracted fee schedule (CSV or Excel) into :class:`FeeScheduleEntry` records.

Payers and clearinghouses send fee schedules in many shapes. This reader accepts the common ones:

* **CSV** (comma, tab, semicolon or pipe separated; UTF-8 or Windows-1252) or an **Excel** file
  (.xlsx/.xlsm/.xls/.ods, read with python-calamine: the first sheet, or the one named). The file
  type is decided by its content, not its name.
* A **header row within the first 20 rows** (title and address lines above it are skipped). Headers
  match case-, space- and punctuation-insensitively:

  ==================  ==========================================================================
  field               accepted headers
  ==================  ==========================================================================
  Code (required)     CPT, HCPCS, CPT Code, HCPCS Code, CPT/HCPCS, Procedure Code, Proc Code, Code
  AllowedPerUnit      Allowed, Allowed Amount, Allowable, Fee, Rate, Contract Rate, Amount,
  (required)          Max Allowable, Fee Schedule Amount, ... (first listed wins when several match)
  Modifier            Modifier, Mod, Modifier 1
  EffectiveFrom       Effective Date, Effective From, Start, Start Date, Begin Date, From
  EffectiveTo         End Date, Term Date, Termination Date, Effective To, Through, Thru, To
  PayerKey            Payer, Payor, Payer Key, Payer Code, Plan, Insurance
  ==================  ==========================================================================

* Any other spelling is mapped with a TOML file (``--columns``), as for the charge sheet: either
  top-level keys or a ``[FeeSchedule]`` table, ``Code = "Proc"``, ``AllowedPerUnit = "Max Allowable"``.

Values: money like ``$1,234.50`` or ``(12.00)`` becomes :class:`~decimal.Decimal` (never float; an
Excel number carrying binary noise is rounded to the cent); dates are date cells, Excel serial
numbers, ``m/d/yyyy``, ``yyyy-mm-dd`` or ``yyyymmdd``; a code typed as ``97110-GO`` is split into
code and modifier when the modifier column is blank.

When the file has a payer column, only the rows whose payer equals ``--payer`` (case and punctuation
ignored) are imported; without one, every row belongs to ``--payer``. ``--effective-from`` /
``--effective-to`` fill in dates for rows (or files) that have none; dates in the file win.

Each bad row becomes a :class:`~otbill_xl.domain.findings.Finding` naming the CSV line or worksheet
row (``Line 14: ...`` or ``Rates!D14``); the other rows are still imported. A file that cannot be
used at all (missing, empty, no header row, no rows for the payer) raises
:class:`FeeScheduleFileError` with a message saying what to do.

The tabular helpers here (:func:`read_rows`, :func:`cell_text`, :func:`norm`) are shared with
:mod:`otbill_xl.formats.cms_pfs`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from otbill_xl._cells import normalize_header, text_of, to_date
from otbill_xl._toml import read_toml
from otbill_xl.domain.findings import Finding, Location, Severity, column_letter
from otbill_xl.domain.models import FeeScheduleEntry
from otbill_xl.domain.money import CENT, to_money
from otbill_xl.errors import OtbillError

# ------------------------------------------------------------------------------------------------
# Shared tabular reading (CSV or spreadsheet) with line numbers
# ------------------------------------------------------------------------------------------------


class TabularFileError(OtbillError):
    """A CSV or spreadsheet file that cannot be read at all."""

    message = "The file cannot be read."


class FeeScheduleFileError(TabularFileError):
    """A payer fee-schedule file that cannot be used at all."""

    message = "The fee-schedule file cannot be used."


_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Rows:
    """The rows of a CSV file or one worksheet, each with its 1-based line (CSV) or row number."""

    file: str
    #: Worksheet name for a spreadsheet, ``""`` for CSV (then numbers are CSV lines).
    sheet: str
    rows: list[tuple[int, list[Any]]] = field(repr=False)

    @property
    def is_csv(self) -> bool:
        return not self.sheet

    def location(self, line: int, index: int | None = None, column: str = "") -> Location:
        """Where a cell is: ``Sheet!D14`` for a worksheet, the file and line for CSV."""
        cell = f"{column_letter(index + 1)}{line}" if index is not None and self.sheet else ""
        return Location(file=self.file, sheet=self.sheet, row=line, column=column, cell=cell)

    def where(self, line: int) -> str:
        """Message prefix: ``Line 14: `` for CSV (a worksheet location already names the cell)."""
        return f"Line {line}: " if self.is_csv else ""


def read_rows(path: str | Path, *, sheet: str | None = None, error: type[TabularFileError] = TabularFileError) -> Rows:
    """Read a CSV or spreadsheet file into numbered rows. Never modifies the file.

    ``sheet`` picks a worksheet by name (spreadsheets only; default: the first visible one).
    Raises ``error`` (a :class:`TabularFileError`) with a message naming the file and the fix.
    """
    p = Path(path)
    name = p.name
    if not p.exists():
        raise error(f"{name}: the file does not exist. Check the path.")
    if p.is_dir():
        raise error(f"{name}: this is a folder, not a file.")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({exc.strerror}).") from None
    if not data.strip():
        raise error(f"{name}: the file is empty. Export it again from the payer portal or spreadsheet.")
    if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        return _spreadsheet_rows(p, sheet, error)
    if sheet:
        raise error(f"{name}: --sheet applies to Excel files; this file is CSV text.")
    return Rows(name, "", _csv_rows(_decode(data)))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _delimiter(text: str) -> str:
    sample = [line for line in text.splitlines()[:40] if line.strip()]
    counts = {d: sum(line.count(d) for line in sample) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(text: str) -> list[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    out: list[tuple[int, list[Any]]] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # e.g. a NUL byte: report the line as unreadable, keep going
            out.append((start, ["\x00"]))
            continue
        out.append((start, row))
    return out


def _spreadsheet_rows(p: Path, sheet: str | None, error: type[TabularFileError]) -> Rows:
    import python_calamine

    name = p.name
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(p))
    except python_calamine.PasswordError:
        raise error(f"{name}: the workbook is password-protected. Remove the password in Excel and save a copy.") from None
    except Exception as exc:  # calamine raises several types for damaged or unsupported files
        raise error(f"{name}: the spreadsheet could not be opened ({type(exc).__name__}). "
                    "Open it in Excel and save it again as .xlsx, or export it as CSV.") from None
    names = list(book.sheet_names)
    if sheet is None:
        visible = {m.name for m in book.sheets_metadata
                   if m.visible == python_calamine.SheetVisibleEnum.Visible
                   and m.typ == python_calamine.SheetTypeEnum.WorkSheet}
        candidates = [n for n in names if n in visible] or names
        if not candidates:
            raise error(f"{name}: the workbook has no worksheets.")
        sheet = candidates[0]
    elif sheet not in names:
        match = next((n for n in names if norm(n) == norm(sheet)), None)
        if match is None:
            raise error(f"{name}: there is no sheet named {sheet!r}; the sheets are {', '.join(names)}.")
        sheet = match
    try:
        values = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:
        raise error(f"{name}: sheet {sheet!r} could not be read ({type(exc).__name__}).") from None
    return Rows(name, sheet, [(i, list(r)) for i, r in enumerate(values, start=1)])


#: The shared helpers under the names this module's readers use.
norm = normalize_header
cell_text = text_of


def is_blank_row(cells: list[Any]) -> bool:
    return not any(cell_text(c) for c in cells)


def cell(cells: list[Any], index: int | None) -> Any:
    """The cell at ``index`` (``None`` when the column is absent or the row is short)."""
    if index is None or index >= len(cells):
        return None
    return cells[index]


# ------------------------------------------------------------------------------------------------
# Payer fee schedules
# ------------------------------------------------------------------------------------------------

#: How far down payers' files put their header row.
HEADER_SEARCH_ROWS = 20

#: Fee-schedule fields and the headers that mean them, in priority order (the first listed header
#: present in the file wins when several columns match). The sets are disjoint.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "Code": ("Code", "CPT", "CPT Code", "HCPCS", "HCPCS Code", "CPT/HCPCS", "CPT HCPCS", "HCPCS/CPT",
             "Procedure Code", "Procedure", "Proc Code", "Proc", "Service Code", "Billing Code", "CPT Codes"),
    "AllowedPerUnit": ("AllowedPerUnit", "Allowed Per Unit", "Allowed", "Allowed Amount", "Allowable",
                       "Allowable Amount", "Max Allowable", "Maximum Allowable", "Contract Rate",
                       "Contracted Rate", "Contract Amount", "Fee Schedule Amount", "Fee Schedule Rate",
                       "Fee", "Fee Amount", "Rate", "Rate Per Unit", "Unit Rate", "Amount", "Reimbursement",
                       "Payment Amount", "Price"),
    "Modifier": ("Modifier", "Mod", "Modifier 1", "Mod 1", "Modifier1", "Mod1", "Modifiers"),
    "EffectiveFrom": ("EffectiveFrom", "Effective From", "Effective Date", "Effective", "Eff Date",
                      "Start", "Start Date", "Begin Date", "Begin", "From", "From Date", "Effective Start"),
    "EffectiveTo": ("EffectiveTo", "Effective To", "End Date", "End", "Term Date", "Termination Date",
                    "Effective End", "Expiration Date", "Expires", "Through", "Thru", "To", "To Date"),
    "PayerKey": ("PayerKey", "Payer Key", "Payer", "Payor", "Payer Code", "Payer ID", "Plan", "Plan Code",
                 "Insurance", "Carrier"),
}
REQUIRED_FIELDS = ("Code", "AllowedPerUnit")
_FIELD_BY_NORM = {norm(f): f for f in FIELD_ALIASES} | {"payer": "PayerKey", "allowed": "AllowedPerUnit"}

_CODE = re.compile(r"^[A-Z0-9]{5}$")
_CODE_WITH_MOD = re.compile(r"^([A-Z0-9]{5})[\s\-:/]+([A-Z0-9]{2})$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
#: Cells payers put where there is no rate (not covered, by report, not applicable).
_NO_RATE = {"na", "nc", "notcovered", "noncovered", "br", "byreport", "ic", "individualconsideration",
            "none", "x", "nr", "notpayable"}


def mapping_from_toml(path: str | Path) -> dict[str, str]:
    """Column overrides from a TOML file: ``Code = "Proc"`` (top level or under ``[FeeSchedule]``).

    Returns field -> header text. Raises :class:`FeeScheduleFileError` for a bad file.
    """
    p = Path(path)
    data = read_toml(p, FeeScheduleFileError, 'Code = "Proc"')
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if tables:
        section = next((v for k, v in tables.items() if norm(k) in ("feeschedule", "feeschedules")), None)
        if section is None:
            raise FeeScheduleFileError(f"{p.name}: put the mapping at the top level or under [FeeSchedule] "
                                       f"(found [{', '.join(tables)}]).")
        data = {**{k: v for k, v in data.items() if not isinstance(v, dict)}, **section}
    out: dict[str, str] = {}
    for key, header in data.items():
        name = _FIELD_BY_NORM.get(norm(key))
        if name is None:
            raise FeeScheduleFileError(f"{p.name}: {key} is not a fee-schedule column; use one of "
                                       f"{', '.join(FIELD_ALIASES)}.")
        if not isinstance(header, str) or not header.strip():
            raise FeeScheduleFileError(f"{p.name}: {key} must be the header text in quotes, e.g. {key} = \"Proc\".")
        out[name] = header
    return out


def _match_header(cells: list[Any], overrides: Mapping[str, str]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Field -> chosen 0-based column, and field -> every column that could mean it."""
    texts = [norm(cell_text(c)) if isinstance(c, str) else "" for c in cells]
    chosen: dict[str, int] = {}
    candidates: dict[str, list[int]] = {}
    used: set[int] = set()
    for fname, header in overrides.items():
        key = norm(header)
        hits = [i for i, t in enumerate(texts) if t and t == key]
        if hits:
            chosen[fname] = hits[0]
            candidates[fname] = hits
            used.update(hits)
    for fname, aliases in FIELD_ALIASES.items():
        if fname in overrides:
            continue  # an override names exactly one header: no fallback to the aliases
        hits = []
        for alias in aliases:
            hits += [i for i, t in enumerate(texts) if t == norm(alias) and i not in used and i not in hits]
        if hits:
            chosen[fname] = hits[0]
            candidates[fname] = hits
            used.update(hits)
    return chosen, candidates


@dataclass(frozen=True)
class FeeScheduleRead:
    """The result of reading a payer fee-schedule file."""

    file: str
    sheet: str
    payer: str
    header_line: int
    #: Field -> the header text it was read from.
    columns: dict[str, str]
    entries: tuple[FeeScheduleEntry, ...]
    findings: tuple[Finding, ...]
    #: Rows skipped because they belong to another payer (file with a payer column).
    other_payer_rows: int = 0
    #: Codes of the rows skipped for an error (their current rates are kept by an import with --partial).
    rejected_codes: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def summary(self) -> dict[str, Any]:
        return {"file": self.file, "sheet": self.sheet, "payer": self.payer, "header_line": self.header_line,
                "columns": dict(self.columns), "entries": len(self.entries), "other_payer_rows": self.other_payer_rows,
                "errors": len(self.errors), "rejected_codes": list(self.rejected_codes)}


_DECIMAL_COMMA = re.compile(r",\d{1,2}\)?$|,\d{4,}")


def _amount(value: object) -> Decimal:
    if isinstance(value, str) and _DECIMAL_COMMA.search(value.strip()):
        raise ValueError("uses a comma as the decimal separator")  # 29,40 is not 2940
    amount = to_money(value)
    # (to_money keeps a float finite, so its exponent is an int, never NaN/infinity's "n", "N", "F")
    if isinstance(value, float) and isinstance(exponent := amount.as_tuple().exponent, int) and exponent < -2:
        # binary noise from a formula
        rounded = amount.quantize(CENT)
        if abs(amount - rounded) < Decimal("0.000001"):
            amount = rounded
    return amount


def read_fee_schedule(
    path: str | Path,
    *,
    payer: str,
    sheet: str | None = None,
    columns: Mapping[str, str] | None = None,
    effective_from: date | None = None,
    effective_to: date | None = None,
) -> FeeScheduleRead:
    """Read a payer fee schedule (CSV or spreadsheet) into entries for ``payer`` (a workbook PayerKey).

    ``columns`` maps fields to the file's header text (see :func:`mapping_from_toml`). Bad rows are
    reported as findings with their line/row numbers and left out; the rest are returned.
    """
    payer = payer.strip()
    if not payer:
        raise FeeScheduleFileError("--payer is blank; give the PayerKey from the workbook's Payers sheet.")
    if effective_from and effective_to and effective_to < effective_from:
        raise FeeScheduleFileError(f"--effective-to {effective_to} is before --effective-from {effective_from}.")
    table = read_rows(path, sheet=sheet, error=FeeScheduleFileError)
    overrides = {k: v for k, v in (columns or {}).items()}
    return _parse(table, payer, overrides, effective_from, effective_to)


def _parse(table: Rows, payer: str, overrides: dict[str, str], default_from: date | None,
           default_to: date | None) -> FeeScheduleRead:
    findings: list[Finding] = []
    rejected: list[str] = []
    file = table.file

    def add(rule: str, severity: Severity, line: int, message: str, fix: str = "", index: int | None = None,
            column: str = "", code: str = "") -> None:
        if code and severity is Severity.ERROR and code not in rejected:
            rejected.append(code)
        findings.append(Finding(rule=rule, severity=severity, location=table.location(line, index, column),
                                message=table.where(line) + message, fix=fix))

    # -- header -----------------------------------------------------------------------------
    best: tuple[int, int, dict[str, int], dict[str, list[int]]] | None = None
    for pos, (line, cells) in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        chosen, candidates = _match_header(cells, overrides)
        score = len(chosen)
        if score and (best is None or score > len(best[2])):
            best = (pos, line, chosen, candidates)
    if best is None or any(f not in best[2] for f in REQUIRED_FIELDS):
        wanted = [f for f in REQUIRED_FIELDS if best is None or f not in best[2]]
        best_text = ""
        if best is not None:
            heads = [cell_text(c) for c in table.rows[best[0]][1] if cell_text(c)]
            best_text = f" The best candidate, line {best[1]}, has: {', '.join(heads[:12])}."
        missing_overrides = [f"{f} = {h!r}" for f, h in overrides.items()
                             if best is None or f not in best[2]]
        hint = f" These --columns headers were not found: {', '.join(missing_overrides)}." if missing_overrides else ""
        raise FeeScheduleFileError(
            f"{file}{' sheet ' + table.sheet if table.sheet else ''}: no header row naming "
            f"{' and '.join(_label(f) for f in wanted)} in the first {HEADER_SEARCH_ROWS} rows.{best_text}{hint} "
            "Fix: name the columns (e.g. CPT and Allowed), or map your headers with --columns "
            "(a TOML file with lines like Code = \"Proc\" and AllowedPerUnit = \"Max Allowable\")."
        )
    header_pos, header_line, idx, candidates = best
    header_cells = table.rows[header_pos][1]
    col_names = {f: cell_text(header_cells[i]) for f, i in idx.items()}
    for fname, hits in candidates.items():
        if len(hits) > 1:
            used, others = cell_text(header_cells[hits[0]]), [cell_text(header_cells[i]) for i in hits[1:]]
            add("fees.column-choice", Severity.WARNING, header_line,
                f"Several columns could be {_label(fname)}: {used!r} and {', '.join(map(repr, others))}; "
                f"otbill used {used!r}.",
                f"If that is the wrong one, map it with --columns: {fname} = \"{others[0]}\".",
                index=hits[0], column=fname)

    # -- rows -------------------------------------------------------------------------------
    payer_key = norm(payer)
    entries: list[FeeScheduleEntry] = []
    seen: dict[tuple[str, str, date | None], tuple[int, Decimal]] = {}
    other_payers: dict[str, int] = {}
    ix = idx.get
    for line, cells in table.rows[header_pos + 1:]:
        if is_blank_row(cells):
            continue
        if cells == ["\x00"]:
            add("fees.unreadable-line", Severity.ERROR, line, "The line cannot be read as CSV (stray NUL byte).",
                "Export the file again.")
            continue
        if "PayerKey" in idx:
            row_payer = cell_text(cell(cells, ix("PayerKey")))
            if norm(row_payer) != payer_key:
                if row_payer:
                    other_payers[row_payer] = other_payers.get(row_payer, 0) + 1
                else:
                    add("fees.no-payer", Severity.WARNING, line, f"The {col_names['PayerKey']} cell is blank; "
                        "the row is skipped.", f"Fill in the payer ({payer}) or delete the row.",
                        index=ix("PayerKey"), column="PayerKey")
                continue
        raw_code = cell_text(cell(cells, ix("Code"))).upper()
        raw_amount = cell(cells, ix("AllowedPerUnit"))
        amount_text = cell_text(raw_amount)
        if not raw_code:
            if amount_text:
                add("fees.no-code", Severity.ERROR, line, f"There is an amount ({amount_text}) but no code.",
                    "Fill in the CPT/HCPCS code or delete the row.", index=ix("Code"), column="Code")
            continue  # section headings and notes carry neither
        modifier = cell_text(cell(cells, ix("Modifier"))).upper()
        if not _CODE.match(raw_code):
            m = _CODE_WITH_MOD.match(raw_code)
            if m and not modifier:
                raw_code, modifier = m[1], m[2]
            elif not amount_text:
                continue  # a heading such as "EVALUATIONS" in the code column
            else:
                add("fees.bad-code", Severity.ERROR, line, f"{raw_code[:30]!r} is not a CPT/HCPCS code "
                    "(5 letters/digits, e.g. 97110 or G0283); the row is skipped.",
                    "Correct the code.", index=ix("Code"), column="Code")
                continue
        code = raw_code
        if modifier and not _MODIFIER.match(modifier):
            add("fees.bad-modifier", Severity.ERROR, line, f"Modifier {modifier[:20]!r} is not one 2-character "
                f"modifier (code {code}); the row is skipped.",
                "Use one modifier per row (e.g. GO), or leave it blank when the rate applies to any modifier.",
                index=ix("Modifier"), column="Modifier", code=code)
            continue
        if not amount_text:
            add("fees.no-amount", Severity.ERROR, line, f"Code {code} has no allowed amount; the row is skipped.",
                "Fill in the allowed amount per unit, or delete the row.", index=ix("AllowedPerUnit"),
                column="AllowedPerUnit", code=code)
            continue
        if norm(amount_text) in _NO_RATE or set(amount_text) <= set("-–—"):
            add("fees.no-rate", Severity.WARNING, line, f"Code {code} has no rate ({amount_text!r}); the row is "
                "skipped.", "Nothing to do unless the payer does pay this code.", index=ix("AllowedPerUnit"),
                column="AllowedPerUnit")
            continue
        try:
            amount = _amount(raw_amount)
        except ValueError as exc:
            reason = "uses a comma as the decimal separator" if "comma" in str(exc) else "is not an amount"
            add("fees.bad-amount", Severity.ERROR, line, f"{col_names['AllowedPerUnit']} {amount_text[:30]!r} for "
                f"code {code} {reason}; the row is skipped.", "Type an amount such as 29.40 or $1,234.50 (a dot "
                "before the cents).", index=ix("AllowedPerUnit"), column="AllowedPerUnit", code=code)
            continue
        if amount < 0:
            add("fees.bad-amount", Severity.ERROR, line, f"The allowed amount for code {code} is negative "
                f"({amount_text}); the row is skipped.", "Allowed amounts are zero or more.",
                index=ix("AllowedPerUnit"), column="AllowedPerUnit", code=code)
            continue
        dates: dict[str, date | None] = {}
        bad_date = False
        for fname, default in (("EffectiveFrom", default_from), ("EffectiveTo", default_to)):
            raw = cell(cells, ix(fname))
            try:
                value = to_date(raw)
            except ValueError:
                add("fees.bad-date", Severity.ERROR, line, f"{col_names[fname]} {cell_text(raw)[:30]!r} for code "
                    f"{code} is not a date; the row is skipped.", "Type a date such as 1/1/2026 or 2026-01-01.",
                    index=ix(fname), column=fname, code=code)
                bad_date = True
                break
            dates[fname] = value if value is not None else default
        if bad_date:
            continue
        start, end = dates["EffectiveFrom"], dates["EffectiveTo"]
        if start and end and end < start:
            add("fees.date-order", Severity.ERROR, line, f"Code {code} ends ({end}) before it starts ({start}); the "
                "row is skipped.", "Correct the dates.", index=ix("EffectiveTo"), column="EffectiveTo", code=code)
            continue
        key = (code, modifier, start)
        if key in seen:
            first_line, first_amount = seen[key]
            label = f"{code}{'-' + modifier if modifier else ''}"
            if first_amount == amount:
                add("fees.duplicate", Severity.WARNING, line, f"{label} is listed again with the same amount "
                    f"(first at {_line_word(table)} {first_line}); the repeat is ignored.", "", index=ix("Code"),
                    column="Code")
            else:
                add("fees.duplicate", Severity.ERROR, line, f"{label} is listed again with a different amount "
                    f"({amount} here, {first_amount} at {_line_word(table)} {first_line}); otbill kept the first.",
                    "Delete the wrong row, or give the rows different effective dates.", index=ix("Code"),
                    column="Code", code=code)
            continue
        seen[key] = (line, amount)
        entries.append(FeeScheduleEntry(payer_key=payer, code=code, modifier=modifier, effective_from=start,
                                        effective_to=end, allowed_per_unit=amount, row=line))
    other = sum(other_payers.values())
    if "PayerKey" in idx and not entries and other and not any(f.severity is Severity.ERROR for f in findings):
        names = ", ".join(sorted(other_payers)[:10])
        raise FeeScheduleFileError(
            f"{file}: no rows for payer {payer!r} in the {col_names['PayerKey']} column (it holds: {names}). "
            f"Fix: pass --payer with the value used in the file, or filter the file to your payer."
        )
    return FeeScheduleRead(file=file, sheet=table.sheet, payer=payer, header_line=header_line, columns=col_names,
                           entries=tuple(entries), findings=tuple(findings), other_payer_rows=other,
                           rejected_codes=tuple(rejected))


def _label(fname: str) -> str:
    return {"Code": "a code column (CPT/HCPCS)", "AllowedPerUnit": "an allowed-amount column (Allowed/Fee/Rate)",
            "PayerKey": "the payer", "EffectiveFrom": "the effective date", "EffectiveTo": "the end date",
            "Modifier": "the modifier"}[fname]


def _line_word(table: Rows) -> str:
    return "line" if table.is_csv else "row"


__all__ = [
    "FIELD_ALIASES", "FeeScheduleFileError", "FeeScheduleRead", "Rows", "TabularFileError", "cell_text",
    "mapping_from_toml", "norm", "read_fee_schedule", "read_rows", "to_date",
]
