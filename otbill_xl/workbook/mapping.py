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

#: Overrides: contract sheet name -> contract column -> the header text the user's sheet uses.
Overrides = dict[str, dict[str, str]]


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


def find_header_row(values: list[list], spec: Sheet, overrides: dict[str, str] | None = None) -> int | None:
    """0-based index of the row (within the first 20) that best matches the sheet's columns.

    A row qualifies when it names at least two contract columns, or every required one.
    """
    override_keys = {normalize_header(h) for h in (overrides or {}).values()}
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
    override = {normalize_header(h): col for col, h in (overrides or {}).items()}
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
    mapping (e.g. ``Charges | DOS | Visit Date``)."""
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
        if sheet and col and hdr:
            out.setdefault(_canonical_sheet(sheet), {})[_canonical_column(sheet, col)] = hdr
    return out


def overrides_from_toml(path: str | Path) -> Overrides:
    """Overrides from a TOML file: one table per sheet, ``Column = "Header in my sheet"``::

        [Charges]
        DOS = "Visit Date"
        Code = "CPT Code"
    """
    p = Path(path)
    data = read_toml(p, ColumnsFileError, 'DOS = "Visit Date" under [Charges]')
    out: Overrides = {}
    for sheet, table in data.items():
        if not isinstance(table, dict):
            raise ColumnsFileError(f"{p.name}: {sheet!r} must be a [section] naming a sheet, e.g. [Charges].")
        canonical = _canonical_sheet(sheet)
        if canonical not in SHEETS_BY_NAME:
            raise ColumnsFileError(f"{p.name}: [{sheet}] is not a sheet otbill reads ({', '.join(SHEETS_BY_NAME)}).")
        for col, header in table.items():
            name = _canonical_column(canonical, col)
            if name not in SHEETS_BY_NAME[canonical].column_names:
                raise ColumnsFileError(f"{p.name}: [{sheet}] {col} is not a column of {canonical}.")
            out.setdefault(canonical, {})[name] = str(header)
    return out


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
