"""xlwings registration of the worksheet functions. Imported only inside Excel (``UDF Modules``); the
functions themselves live in :mod:`otbill_xl.excel.udfs` and are tested without Excel.

Each ``@xw.func`` here is what Excel's Insert Function dialog shows: its docstring (first 255 characters)
is the function's description and each ``@xw.arg(doc=...)`` an argument's help; ``otbill excel build``
writes them into the add-in, which registers them with ``Application.MacroOptions`` when it opens.
Every range argument is 2-D (``ndim=2``) so a column in gives a column out (a dynamic array), and every
function returns ``#N/A: ...`` / ``#ERROR: ...`` text instead of raising (:func:`udfs.excel_safe`).
This module imports neither python-calamine nor openpyxl: the open book is read through xlwings.
"""

from __future__ import annotations

import time
from decimal import Decimal

import xlwings as xw  # pragma: no cover - needs Excel

from otbill_xl.excel import udfs

CATEGORY = "otbill"

_BOOK_CACHE: dict[str, tuple[float, object]] = {}
_BOOK_TTL = 30.0  # seconds: re-read the practice tables at most twice a minute


def _practice_book():
    """The calling workbook's practice tables (payers, fee schedule, RVUs...), read through the port."""
    from otbill_xl.workbook.live import LiveWorkbook
    from otbill_xl.workbook.reader import read_book

    book = xw.Book.caller()
    hit = _BOOK_CACHE.get(book.fullname)
    if hit is None or time.monotonic() - hit[0] > _BOOK_TTL:
        hit = (time.monotonic(), read_book(LiveWorkbook(book)).book)
        _BOOK_CACHE[book.fullname] = hit
    return hit[1]


def _excel(value):
    """Decimal money becomes an Excel number only here, at the boundary."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_excel(v) for v in value]
    return value


def _priced(function, *args):
    """A pricing function called with the calling workbook's tables, its money as Excel numbers."""
    return _excel(function(*args, book=_practice_book()))


_CODES = "CPT/HCPCS codes: a cell or a column (e.g. Charges[Code])"
_MINUTES = "Treatment minutes, a range the size of codes"
_RULE = '"cms" (8-minute rule, minutes pooled per visit; default) or "ama" (each code on its own)'
_VISITS = "Optional: a visit key per row (e.g. patient & DOS); rows with the same key are one visit"
_DOS = "Date of service: a date, or a range the size of codes"


@xw.func(category=CATEGORY)
@xw.arg("codes", ndim=2, doc=_CODES)
@xw.arg("minutes", ndim=2, doc=_MINUTES)
@xw.arg("rule", doc=_RULE)
@xw.arg("visits", ndim=2, doc=_VISITS)
def OT_UNITS(codes, minutes, rule=None, visits=None):  # noqa: N802 - Excel function name
    """Billable units per row: CMS 8-minute rule (timed minutes pooled per visit) or the AMA per-code rule."""
    return udfs.excel_safe(udfs.OT_UNITS, codes, minutes, rule, visits)


@xw.func(category=CATEGORY)
@xw.arg("codes", ndim=2, doc=_CODES)
@xw.arg("minutes", ndim=2, doc=_MINUTES)
@xw.arg("rule", doc=_RULE)
@xw.arg("visits", ndim=2, doc=_VISITS)
def OT_UNITS_EXPLAIN(codes, minutes, rule=None, visits=None):  # noqa: N802
    """How each row's units were worked out, e.g. "47 timed min -> 3 units: 97112 24 min -> 2, 97110 23 min -> 1"."""
    return udfs.excel_safe(udfs.OT_UNITS_EXPLAIN, codes, minutes, rule, visits)


@xw.func(category=CATEGORY)
@xw.arg("npis", ndim=2, doc="NPIs: a cell or a column")
def OT_NPI_VALID(npis):  # noqa: N802
    """TRUE when an NPI has 10 digits, starts with 1 or 2 and its check digit (Luhn with 80840) is right."""
    return udfs.excel_safe(udfs.OT_NPI_VALID, npis)


@xw.func(category=CATEGORY)
@xw.arg("codes", ndim=2, doc=_CODES)
@xw.arg("dos", doc="Optional date of service: says whether each code is valid that day")
def OT_CODE_INFO(codes, dos=None):  # noqa: N802
    """What a CPT/HCPCS code is (timed or not, discipline, add-on base) and whether it is valid on a date of service."""
    return udfs.excel_safe(udfs.OT_CODE_INFO, codes, dos)


@xw.func(category=CATEGORY)
@xw.arg("codes", ndim=2, doc="Claim adjustment reason codes (97 or CO-97): a cell or a column")
def OT_CARC(codes):  # noqa: N802
    """What a claim adjustment reason code (CARC) on a remittance means, in plain words."""
    return udfs.excel_safe(udfs.OT_CARC, codes)


@xw.func(category=CATEGORY)
@xw.arg("codes", ndim=2, doc="Claim adjustment reason codes (97 or CO-97): a cell or a column")
def OT_CARC_CATEGORY(codes):  # noqa: N802
    """The CARC's denial category: contractual, patient_responsibility, coding, bundling, eligibility, ..."""
    return udfs.excel_safe(udfs.OT_CARC_CATEGORY, codes)


@xw.func(category=CATEGORY)
@xw.arg("groups", ndim=2, doc="Group codes (CO, PR, OA, PI, CR): a cell or a column")
@xw.arg("carcs", ndim=2, doc="CARCs, a range the size of groups")
@xw.arg("rarcs", ndim=2, doc="Optional remark codes (RARCs), several per cell allowed, the size of groups")
def OT_NEXT_ACTION(groups, carcs, rarcs=None):  # noqa: N802
    """The next step for an adjustment (group code + CARC + remark codes): bill the patient, correct and resubmit, appeal..."""
    return udfs.excel_safe(udfs.OT_NEXT_ACTION, groups, carcs, rarcs)


@xw.func(category=CATEGORY)
@xw.arg("payer", ndim=2, doc="PayerKey from the Payers sheet: a cell, or one per code")
@xw.arg("code", ndim=2, doc=_CODES)
@xw.arg("modifiers", ndim=2, doc="Optional modifiers: a row of cells (or GO,59 in one cell) per code")
@xw.arg("dos", ndim=2, doc="Optional date of service (default today): a cell, or one per code")
@xw.arg("units", ndim=2, doc="Optional units (default 1): a cell, or one per code")
def OT_FEE(payer, code, modifiers=None, dos=None, units=None):  # noqa: N802
    """Allowed amount for a payer, code, modifiers, date and units: the contracted FeeSchedule rate, or Medicare's PFS."""
    return udfs.excel_safe(_priced, udfs.OT_FEE, payer, code, modifiers, dos, units)


@xw.func(category=CATEGORY)
@xw.arg("codes", ndim=2, doc=_CODES)
@xw.arg("locality", ndim=2, doc="Medicare locality (MedicareGPCI sheet): a cell, or one per code")
@xw.arg("dos", ndim=2, doc=_DOS)
@xw.arg("units", ndim=2, doc="Optional units (default 1): a cell, or one per code")
@xw.arg("pos", ndim=2, doc="Optional place of service (default 11, office; facility places use facility PE)")
def OT_MEDICARE_ALLOWED(codes, locality, dos, units=None, pos=None):  # noqa: N802
    """Medicare PFS allowed amount: RVUs x GPCIs x conversion factor per unit, rounded to the cent, x units."""
    return udfs.excel_safe(_priced, udfs.OT_MEDICARE_ALLOWED, codes, locality, dos, units, pos)


@xw.func(category=CATEGORY)
@xw.arg("lines", ndim=2, doc="Charge lines with their header row (Charges columns, any order)")
def OT_EXPECTED(lines):  # noqa: N802
    """Expected allowed, payer payment and patient share for each charge line (MPPR, KX, sequestration included)."""
    return udfs.excel_safe(_priced, udfs.OT_EXPECTED, lines)
