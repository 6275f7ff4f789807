"""Sheets whose headers look like a contract sheet although their name does not say so ("Jan visits"
with Date of Service, CPT, Mins looks like the Charges sheet).

The reader picks such a sheet for a *required* contract sheet only when exactly one sheet looks like
it (all its required columns found, and more like it than like any other contract sheet); two
look-alikes ("Jan visits", "Feb visits") are never guessed between — a wrong pick bills the wrong
month — and the finding names them with the mapping that settles it. ``otbill info`` also lists
look-alikes of the optional sheets, as suggestions (:func:`suggestions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from otbill_xl.errors import WorkbookError
from otbill_xl.workbook.contract import SHEETS, Sheet, normalize_header
from otbill_xl.workbook.mapping import (
    HEADER_SEARCH_ROWS,
    Overrides,
    column_overrides,
    map_headers,
    mapping_hint,
)
from otbill_xl.workbook.port import WorkbookPort

#: Sheets otbill writes into its copies (and the template's own): never a practice's data sheet.
#: ``tests/test_own_workbook.py`` checks every output sheet the actions declare is listed.
OUTPUT_SHEETS = frozenset(normalize_header(n) for n in (
    "Columns", "Instructions", "Findings", "Check Summary", "Pricing", "Pricing Totals", "Claims", "Held Back",
    "Batch", "Reconciliation", "Exceptions", "Denials", "Denials by Category", "Denials by Code", "AR Aging",
    "AR by Payer", "Remittances", "Provider Adjustments",
))
#: Fewest contract columns a look-alike's header row names (two could be any list: "Name", "Date").
MIN_COLUMNS = 3


@dataclass(frozen=True)
class Lookalike:
    """A sheet whose header row looks like a contract sheet's."""

    sheet: str                  # the workbook's sheet name
    contract: str               # the contract sheet it looks like
    headers: tuple[str, ...]    # the headers that name contract columns, as typed
    complete: bool              # every required column of the contract sheet is there

    def hint(self) -> str:
        shown = ", ".join(self.headers[:4]) + (", ..." if len(self.headers) > 4 else "")
        return (f"The sheet {self.sheet!r} looks like your {self.contract} sheet (it has {shown}); "
                f"map it with {mapping_hint(self.contract, self.sheet)}.")


def _best_row(values: list[list], spec: Sheet, overrides: dict[str, str]) -> tuple[int, tuple[str, ...], bool]:
    """(contract columns named, the headers naming them, whether every required one is there) for
    the header row of ``values`` that names most of ``spec``'s columns."""
    best: tuple[int, tuple[str, ...], bool] = (0, (), False)
    for row in values[:HEADER_SEARCH_ROWS]:
        if not any(isinstance(v, str) and v.strip() for v in row):
            continue
        mapping, _, _ = map_headers(row, spec, overrides)
        found = [m for m in mapping.values() if m.index]
        if len(found) > best[0]:
            complete = all(mapping[c.name].index for c in spec.columns if c.required)
            best = (len(found), tuple(m.header for m in sorted(found, key=lambda m: m.index)), complete)
    return best


def lookalikes(port: WorkbookPort, sheets: Iterable[str], overrides: Overrides) -> list[Lookalike]:
    """The look-alike among ``sheets`` (names not claimed by a contract sheet), each for the one
    contract sheet its headers name most columns of (a tie is no look-alike). A sheet that cannot be
    read is no look-alike: otbill does not need it."""
    out = []
    for name in sheets:
        if normalize_header(name) in OUTPUT_SHEETS:
            continue
        try:
            values = port.values(name)
        except WorkbookError:
            continue
        scored = sorted(((_best_row(values, spec, column_overrides(overrides, spec.name)), spec.name) for spec in SHEETS),
                        key=lambda s: s[0][0], reverse=True)
        (count, headers, complete), contract = scored[0]
        if count >= MIN_COLUMNS and count > scored[1][0][0]:
            out.append(Lookalike(name, contract, headers, complete))
    return out


def suggestions(port: WorkbookPort, found: dict[str, str], overrides: Overrides) -> list[Lookalike]:
    """Look-alikes of the contract sheets the workbook does not have (``found``: contract sheet ->
    the sheet read for it, '' when missing), among the sheets no contract sheet was read from."""
    used = {normalize_header(s) for s in found.values() if s}
    missing = {c for c, s in found.items() if not s}
    return [x for x in lookalikes(port, [n for n in port.sheet_names() if normalize_header(n) not in used], overrides)
            if x.contract in missing]
