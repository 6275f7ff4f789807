"""Finding a sheet's header row and mapping its headers to contract columns.

Order of precedence for each header cell: the user's override (``Columns`` sheet or TOML file),
then the contract name itself, then an alias ("Svc Date" → DOS). Headers match case-, space- and
punctuation-insensitively. Extra columns are kept in the report and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from otbill_xl._toml import read_toml
from otbill_xl.domain.findings import column_letter
from otbill_xl.errors import ColumnsFileError
from otbill_xl.workbook.contract import SHEETS_BY_NAME, Sheet, normalize_header

#: How far down billers' sheets put their header row.
HEADER_SEARCH_ROWS = 20

#: Overrides: contract sheet name -> contract column -> the header text the user's sheet uses. The key
#: :data:`SHEET` (never a column name) holds the name of the user's sheet for that contract sheet.
Overrides = dict[str, dict[str, str]]

#: The key of a sheet mapping among a sheet's overrides ("Charges | Sheet | Jan visits").
SHEET = "(sheet)"
#: What the Column cell of a Columns-sheet row says to map the sheet itself (normalized): "Sheet",
#: "Sheet Name", "(sheet)" or blank.
_SHEET_WORDS = {"", "sheet", "sheetname", "tab", "tabname"}


@dataclass(frozen=True)
class ColumnMapping:
    """Where one contract column was found: the header text, its worksheet column and how."""

    column: str
    header: str = ""
    index: int = 0          # 1-based worksheet column; 0 when the column is missing
    how: str = "missing"    # exact | alias | override | missing

    @property
    def letter(self) -> str:
        return column_letter(self.index) if self.index else ""


@dataclass(frozen=True)
class HeaderProblem:
    rule: str
    index: int
    message: str
    fix: str


def _alias_table(spec: Sheet) -> tuple[dict[str, str], dict[str, str]]:
    exact = {normalize_header(c.name): c.name for c in spec.columns}
    alias: dict[str, str] = {}
    for c in spec.columns:
        for a in c.aliases:
            alias.setdefault(normalize_header(a), c.name)
    return exact, alias


def score_header_row(row: list, spec: Sheet) -> int:
    """How many cells of ``row`` name a column of ``spec`` (exact or alias)."""
    exact, alias = _alias_table(spec)
    seen = set()
    for value in row:
        if isinstance(value, str) and value.strip():
            key = normalize_header(value)
            col = exact.get(key) or alias.get(key)
            if col:
                seen.add(col)
    return len(seen)


def column_overrides(overrides: Overrides, sheet: str) -> dict[str, str]:
    """The column mappings of one contract sheet (its sheet mapping left out)."""
    return {col: header for col, header in overrides.get(sheet, {}).items() if col != SHEET}


def sheet_override(overrides: Overrides, sheet: str) -> str:
    """The user's sheet name mapped to a contract sheet ('' when none is)."""
    return overrides.get(sheet, {}).get(SHEET, "")


def find_header_row(values: list[list], spec: Sheet, overrides: dict[str, str] | None = None) -> int | None:
    """0-based index of the row (within the first 20) that best matches the sheet's columns.

    A row qualifies when it names at least two contract columns, or every required one.
    """
    override_keys = {normalize_header(h) for c, h in (overrides or {}).items() if c != SHEET}
    best, best_score = None, 0
    required = sum(1 for c in spec.columns if c.required)
    for i, row in enumerate(values[:HEADER_SEARCH_ROWS]):
        score = score_header_row(row, spec) + sum(
            1 for v in row if isinstance(v, str) and normalize_header(v) in override_keys
        )
        if score > best_score:
            best, best_score = i, score
    if best is None or best_score < min(2, max(1, required)):
        return None
    return best


def map_headers(
    header: list, spec: Sheet, overrides: dict[str, str] | None = None
) -> tuple[dict[str, ColumnMapping], list[str], list[HeaderProblem]]:
    """Map a header row to contract columns.

    Returns the mapping per contract column (missing ones included), the extra headers, and
    problems (duplicate headers).
    """
    exact, alias = _alias_table(spec)
    override = {normalize_header(h): col for col, h in (overrides or {}).items() if col != SHEET}
    cells = [(j + 1, str(v).strip()) for j, v in enumerate(header) if v is not None and str(v).strip()]
    claimed: dict[str, ColumnMapping] = {}
    used: set[int] = set()
    problems: list[HeaderProblem] = []
    for how, table in (("override", override), ("exact", exact), ("alias", alias)):
        for index, text in cells:
            if index in used:
                continue
            col = table.get(normalize_header(text))
            if col is None:
                continue
            if col in claimed:
                if claimed[col].how == how:
                    first = claimed[col]
                    problems.append(HeaderProblem(
                        "read.duplicate-header", index,
                        f"Two columns are headed as {col}: {first.letter} ({first.header!r}) and "
                        f"{column_letter(index)} ({text!r}). otbill reads {first.letter}.",
                        "Rename or delete one of them, or say which to use in a Columns sheet.",
                    ))
                    used.add(index)
                continue
            claimed[col] = ColumnMapping(col, text, index, how)
            used.add(index)
    extras = [text for index, text in cells if index not in used]
    mapping = {c.name: claimed.get(c.name, ColumnMapping(c.name)) for c in spec.columns}
    return mapping, extras, problems


def overrides_from_rows(rows: list[list]) -> Overrides:
    """Overrides from a ``Columns`` sheet: a header row with Sheet, Column, Header, then one row per
    mapping — a column (``Charges | DOS | Visit Date``: the Charges sheet's DOS is headed "Visit
    Date") or a whole sheet (``Charges | Sheet | Jan visits``: the Charges sheet is the sheet named
    "Jan visits"; a blank Column cell means the same)."""
    out: Overrides = {}
    if not rows:
        return out
    head = [normalize_header(v) for v in rows[0]]
    try:
        si, ci, hi = head.index("sheet"), head.index("column"), head.index("header")
    except ValueError:
        return out
    for row in rows[1:]:
        sheet, col, hdr = (str(row[i]).strip() if i < len(row) and row[i] is not None else "" for i in (si, ci, hi))
        if not (sheet and hdr):
            continue
        if normalize_header(col) in _SHEET_WORDS and _canonical_sheet(sheet) in SHEETS_BY_NAME:
            out.setdefault(_canonical_sheet(sheet), {})[SHEET] = hdr
        elif col:
            out.setdefault(_canonical_sheet(sheet), {})[_canonical_column(sheet, col)] = hdr
    return out


def overrides_from_toml(path: str | Path) -> Overrides:
    """Overrides from a TOML file: one table per sheet, ``Column = "Header in my sheet"``, and the
    sheets' own names under ``[sheets]``, ``Contract sheet = "My sheet"``::

        [sheets]
        Charges = "Jan visits"
        Payers = "Insurance"

        [Charges]
        DOS = "Visit Date"
        Code = "CPT Code"

    (``Sheet = "Jan visits"`` under ``[Charges]`` says the same as ``Charges = "Jan visits"`` under
    ``[sheets]``, as the Columns-sheet row ``Charges | Sheet | Jan visits`` does.)
    """
    p = Path(path)
    data = read_toml(p, ColumnsFileError, 'DOS = "Visit Date" under [Charges]')
    out: Overrides = {}
    for sheet, table in data.items():
        if not isinstance(table, dict):
            raise ColumnsFileError(f"{p.name}: {sheet!r} must be a [section] naming a sheet, e.g. [Charges], "
                                   'or [sheets] mapping sheet names, e.g. Charges = "Jan visits".')
        if normalize_header(sheet) == "sheets":
            for contract, name in table.items():
                canonical = _canonical_sheet(contract)
                if canonical not in SHEETS_BY_NAME or not isinstance(name, str):
                    raise ColumnsFileError(f"{p.name}: [sheets] {contract} must name a sheet otbill reads "
                                           f"({', '.join(SHEETS_BY_NAME)}) = your sheet's name, "
                                           'e.g. Charges = "Jan visits".')
                out.setdefault(canonical, {})[SHEET] = name.strip()
            continue
        canonical = _canonical_sheet(sheet)
        if canonical not in SHEETS_BY_NAME:
            raise ColumnsFileError(f"{p.name}: [{sheet}] is not a sheet otbill reads ({', '.join(SHEETS_BY_NAME)}).")
        for col, header in table.items():
            if normalize_header(col) in _SHEET_WORDS:
                out.setdefault(canonical, {})[SHEET] = str(header).strip()
                continue
            name = _canonical_column(canonical, col)
            if name not in SHEETS_BY_NAME[canonical].column_names:
                raise ColumnsFileError(f"{p.name}: [{sheet}] {col} is not a column of {canonical}.")
            out.setdefault(canonical, {})[name] = str(header)
    return out


def mapping_hint(contract: str, sheet: str) -> str:
    """How to map a contract sheet to the user's sheet, in the two ways otbill reads."""
    quoted = sheet.replace('"', '\\"')
    return (f"a Columns-sheet row {contract} | Sheet | {sheet} (columns Sheet, Column, Header), or "
            f'{contract} = "{quoted}" under [sheets] in a --columns TOML file')


def _canonical_sheet(name: str) -> str:
    key = normalize_header(name)
    for s in SHEETS_BY_NAME:
        if normalize_header(s) == key:
            return s
    return name


def _canonical_column(sheet: str, name: str) -> str:
    spec = SHEETS_BY_NAME.get(_canonical_sheet(sheet))
    if spec:
        key = normalize_header(name)
        for c in spec.columns:
            if normalize_header(c.name) == key:
                return c.name
    return name


def merge_overrides(*many: Overrides) -> Overrides:
    out: Overrides = {}
    for o in many:
        for sheet, cols in o.items():
            out.setdefault(sheet, {}).update(cols)
    return out
