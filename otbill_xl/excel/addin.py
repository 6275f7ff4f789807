"""xlwings registration of the worksheet functions. Imported only inside Excel (``UDF_MODULES``);
the functions themselves live in :mod:`otbill_xl.excel.udfs` and are tested without Excel."""

from __future__ import annotations

import time
from decimal import Decimal

import xlwings as xw  # pragma: no cover - needs Excel

from otbill_xl.excel import udfs

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


@xw.func
@xw.arg("codes", ndim=2)
@xw.arg("minutes", ndim=2)
@xw.arg("visits", ndim=2)
def OT_UNITS(codes, minutes, rule=None, visits=None):  # noqa: N802 - Excel function name
    """Billable units per row (CMS 8-minute rule or AMA per code)."""
    return udfs.OT_UNITS(codes, minutes, rule, visits)


@xw.func
@xw.arg("codes", ndim=2)
@xw.arg("minutes", ndim=2)
@xw.arg("visits", ndim=2)
def OT_UNITS_EXPLAIN(codes, minutes, rule=None, visits=None):  # noqa: N802
    """How each row's units were worked out."""
    return udfs.OT_UNITS_EXPLAIN(codes, minutes, rule, visits)


@xw.func
def OT_NPI_VALID(npis):  # noqa: N802
    """TRUE when the NPI's check digit is right."""
    return udfs.OT_NPI_VALID(npis)


@xw.func
def OT_CODE_INFO(codes, dos=None):  # noqa: N802
    """What a code is and whether it is valid on a date of service."""
    return udfs.OT_CODE_INFO(codes, dos)


@xw.func
@xw.arg("codes", ndim=2)
def OT_CARC(codes):  # noqa: N802
    """What a claim adjustment reason code (CARC) means."""
    return udfs.OT_CARC(codes)


@xw.func
@xw.arg("codes", ndim=2)
def OT_CARC_CATEGORY(codes):  # noqa: N802
    """The CARC's denial category."""
    return udfs.OT_CARC_CATEGORY(codes)


@xw.func
@xw.arg("groups", ndim=2)
@xw.arg("carcs", ndim=2)
@xw.arg("rarcs", ndim=2)
def OT_NEXT_ACTION(groups, carcs, rarcs=None):  # noqa: N802
    """The next step for a group code + CARC (+ remark codes)."""
    return udfs.OT_NEXT_ACTION(groups, carcs, rarcs)


@xw.func
def OT_FEE(payer, code, modifiers=None, dos=None, units=None):  # noqa: N802
    """Allowed amount for a payer, code, modifiers, DOS and units (contract rate or Medicare PFS)."""
    return _excel(udfs.OT_FEE(payer, code, modifiers, dos, units, book=_practice_book()))


@xw.func
def OT_MEDICARE_ALLOWED(code, locality, dos, units=None, pos=None):  # noqa: N802
    """Medicare PFS allowed amount from the workbook's MedicareRVU/MedicareGPCI tables."""
    return _excel(udfs.OT_MEDICARE_ALLOWED(code, locality, dos, units, pos, book=_practice_book()))


@xw.func
@xw.arg("lines", ndim=2)
def OT_EXPECTED(lines):  # noqa: N802
    """Expected allowed / payer payment / patient share for a range of charge lines (with header)."""
    return _excel(udfs.OT_EXPECTED(lines, book=_practice_book()))
