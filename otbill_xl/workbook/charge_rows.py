"""A practice's own Charges sheet, as billers keep it: totals and notes rows among the service lines,
several modifiers or diagnoses typed in one cell, and no LineID column.

Pure functions over the raw or converted columns of the sheet (lists indexed like its data rows), so
the reader can call them only when a quick look says they are needed: the common sheet (a code and
a patient on every row, one modifier per cell, a LineID column) never pays for them.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b32encode
from collections.abc import Sequence
from datetime import date
from typing import Any

from otbill_xl._cells import day_first, parse_date_text

#: A totals label: "Total", "Totals", "Subtotal", "Sub-total", "Grand Total", "Total for January",
#: "Sum", "TOTAL:". Looked for in the identifying cells only (never in a Note: "Total knee" is a line).
TOTAL_LABEL = re.compile(r"^\s*(?:grand\s*|sub\s*-?\s*|month(?:ly)?\s*|week(?:ly)?\s*|daily\s*)?(?:totals?|sum)\b",
                         re.IGNORECASE)
#: A note typed where a patient would be: "Notes: ...", "Note - ...", "NB ...", "Comment: ...", "* ...".
NOTE_LABEL = re.compile(r"^\s*(?:notes?|nb|n\.b\.|comments?|memo|reminder)\b|^\s*\*", re.IGNORECASE)


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def _is_number(value: object) -> bool:
    """A number, a date cell, or text that reads as a number ("1,234.50", "$65.00"): sums and counts."""
    if isinstance(value, (int, float, date)):
        return True
    if isinstance(value, str):
        try:
            float(value.replace(",", "").replace("$", "").strip() or "x")
        except ValueError:
            return False
        return True
    return False


def _no_date(value: object) -> bool:
    """Blank, or text that is no date ("Notes: ..." typed in the date column)."""
    if _blank(value):
        return True
    if not isinstance(value, str):
        return False
    try:
        parse_date_text(value)
    except ValueError:
        return day_first(value) is None
    return False


def not_lines(data: Sequence[Sequence[Any]], patient: Sequence[Any], code: Sequence[Any], dos: Sequence[Any] | None,
              labels: Sequence[Sequence[Any]], keep: frozenset[int] = frozenset()) -> tuple[list[int], list[int]]:
    """Indexes of the rows of ``data`` that are not service lines: ``(totals, notes)``.

    * a **totals row**: an identifying cell (``labels``: LineID, PatientID, DOS, Code, RenderingNPI),
      or the row's first filled cell, says Total / Subtotal / Grand Total / Sum; or the row has no
      patient and no code and holds only numbers (sums, counts, a date);
    * a **notes row**: no patient and no code, text but no date of service ("Notes: ..." typed
      across the bottom); or no code and no date, and the patient cell reads "Notes: ..." / "NB".

    A row with a patient or a code and no totals label is a line (an incomplete one gets its errors);
    so is a row with text, a date and no patient and no code (a line missing its patient and code).
    Rows in ``keep`` (an Excel error cell among their identifying cells) are lines, whatever they hold.
    """
    totals: list[int] = []
    notes: list[int] = []
    for i in range(len(data)):
        no_patient, no_code = _blank(patient[i]), _blank(code[i])
        if i in keep:
            continue
        labelled = any(isinstance(col[i], str) and TOTAL_LABEL.match(col[i]) for col in labels)
        if not labelled and not (no_patient or no_code):
            continue
        row = data[i]
        texts = [v for v in row if isinstance(v, str) and v.strip() and not _is_number(v) and _no_date(v)]
        first = next((v for v in row if not _blank(v)), None)
        if labelled or (no_patient and no_code and isinstance(first, str) and TOTAL_LABEL.match(first)):
            totals.append(i)
        elif no_patient and no_code:
            if not texts:
                totals.append(i)
            elif dos is None or _no_date(dos[i]):
                notes.append(i)
        elif no_code and (dos is None or _no_date(dos[i])) and isinstance(patient[i], str) and NOTE_LABEL.match(patient[i]):
            notes.append(i)
    return totals, notes


# ------------------------------------------------------------------------------------------------
# Several codes in one cell

#: What parts several modifiers or diagnoses typed in one cell.
MOD_SEPARATORS = " ,;/+-|&"
DX_SEPARATORS = " ,;/|&"
_MOD_SPLIT = re.compile(r"[\s,;/+\-|&]+")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_DX_SPLIT = re.compile(r"[\s,;/|&]+")
#: An ICD-10-CM code as typed: a letter, two characters, then up to four after an optional dot.
_DX = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_SLOTS = 4  # Mod1-Mod4, Dx1-Dx4


class Spread:
    """What spreading codes over the four slots did: the cells split (index of the row, column slot,
    the cell as typed), and the rows that held more codes than four slots."""

    def __init__(self) -> None:
        self.split: list[tuple[int, int, str]] = []
        self.over: list[tuple[int, int]] = []     # (row index, how many codes)


def _needs_split(column: Sequence[str], separators: str) -> bool:
    """Whether any cell of a converted text column may hold several codes: one look for each
    separator at the joined column, at C speed (100,000 cells: about 1 ms a column)."""
    joined = "\x00".join(column)
    return any(sep in joined for sep in separators)


def spread(columns: list[list[str]], kind: str, *, checked: bool = False) -> Spread:
    """Spread codes typed together over the four slots (``columns``: Mod1-Mod4 or Dx1-Dx4, converted
    text, changed in place). ``kind`` is ``"mod"`` or ``"dx"``.

    A cell is split only when every part reads as a code of its kind (two characters for a modifier,
    an ICD-10 shape for a diagnosis), so a typo stays as typed for the scrub to name. The parts, then
    the other slots' codes, fill the slots in order; codes beyond four are reported, not dropped
    silently. ``checked``: the caller knows a cell holds a separator (no look for one first)."""
    out = Spread()
    splitter, shape = (_MOD_SPLIT, _MODIFIER) if kind == "mod" else (_DX_SPLIT, _DX)
    seps = MOD_SEPARATORS if kind == "mod" else DX_SEPARATORS
    if not checked and not any(_needs_split(c, seps) for c in columns):
        return out
    n = len(columns[0])
    for i in range(n):
        cells = [c[i] for c in columns]
        if not any(len(v) > 2 and any(s in v for s in seps) for v in cells):
            continue
        codes: list[str] = []
        changed = False
        for slot, value in enumerate(cells):
            parts = [p for p in splitter.split(value) if p] if value else []
            if len(parts) > 1 and all(shape.match(p) for p in parts):
                codes += parts
                out.split.append((i, slot, value))
                changed = True
            elif value:
                codes.append(value)
        if not changed:
            continue
        if len(codes) > _SLOTS:
            out.over.append((i, len(codes)))
        codes = (codes + [""] * _SLOTS)[:_SLOTS]
        for slot in range(_SLOTS):
            columns[slot][i] = codes[slot]
    return out


# ------------------------------------------------------------------------------------------------
# LineIDs for a sheet without a LineID column

_NOT_ID = re.compile(r"[^A-Z0-9]")


def _patient_tag(patient: str) -> str:
    """Five characters standing for the patient (a keyed hash: the ID itself, often a name, never
    appears in a LineID)."""
    digest = hashlib.blake2s(patient.strip().encode(), digest_size=5, person=b"otbill").digest()
    return b32encode(digest).decode()[:5]


def derived_line_ids(patients: Sequence[str], dos: Sequence[date | None], codes: Sequence[str],
                     modifiers: Sequence[Sequence[str]]) -> list[str]:
    """A LineID for every line of a sheet without a LineID column, from what the line is: date of
    service, code, modifiers (sorted: GO CO is CO GO), a tag of the patient, and ``-2``, ``-3`` ...
    for the second, third identical line of that patient on that day, in sheet order.

    ``20260105-97530-CO-GO-K7QXM``: the same line gets the same LineID on every run (the ledger knows
    it as billed, and a payer's 835 returns it in REF*6R); at most 50 characters of letters, digits and
    ``-``, as the 837P's line item control number (REF*6R) requires."""
    tags: dict[str, str] = {}
    seen: dict[str, int] = {}
    out = []
    for i, patient in enumerate(patients):
        tag = tags.get(patient)
        if tag is None:
            tag = tags[patient] = _patient_tag(patient)
        day = dos[i]
        code = _NOT_ID.sub("", codes[i].upper())[:7] or "NOCODE"
        mods = "-".join(sorted(_NOT_ID.sub("", m.upper())[:4] for m in (col[i] for col in modifiers) if m))
        base = "-".join(p for p in (day.strftime("%Y%m%d") if day else "NODATE", code, mods, tag) if p)
        n = seen[base] = seen.get(base, 0) + 1
        out.append(base if n == 1 else f"{base}-{n}")
    return out
