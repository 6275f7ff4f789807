"""Cell-value helpers shared by every layer that reads spreadsheets or CSV files (the workbook
reader and the fee-schedule importers): header normalisation, cell text, and dates as Excel and
billers write them. No otbill imports, so any layer may use it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def normalize_header(text: object) -> str:
    """Header text reduced to lower-case letters and digits: "Date of Service" -> "dateofservice"."""
    return _NOT_ALNUM.sub("", str(text).lower()) if text is not None else ""


def text_of(value: object) -> str:
    """A cell as text: numbers typed into an identifier cell (1234567893.0) lose the ``.0``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_EXCEL_EPOCH = date(1899, 12, 30)
#: Excel's largest date serial (9999-12-31).
_MAX_SERIAL = 2958465


def excel_serial_to_date(serial: float) -> date:
    """Excel 1900 date system: serial 1 is 1900-01-01; Excel counts a fictitious 1900-02-29
    (serial 60), so serials from 61 on are days since 1899-12-30. The time of day is dropped."""
    whole = int(serial)
    if whole < 1 or whole > _MAX_SERIAL:
        raise ValueError("number out of Excel's date range")
    if whole < 60:
        return date(1899, 12, 31) + timedelta(days=whole)
    if whole == 60:
        raise ValueError("1900-02-29 does not exist")
    return _EXCEL_EPOCH + timedelta(days=whole)


# A US date, optionally followed by the time a CSV export or Excel adds ("1/5/2026 0:00", "... 12:00 AM").
_TIME = r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?"
_US_DATE = re.compile(r"^(\d{1,2})([/\-])(\d{1,2})\2(\d{2}|\d{4})" + _TIME + "$")
# A dotted date (03.08.2026) is day.month.year wherever dots are used (Germany, Switzerland,
# Russia, ...): read day first.
DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})" + _TIME + "$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date_text(text: str) -> date:
    """Dates typed as text: US month/day/year (``1/5/2026``, ``01-05-26``), ISO ``2026-01-05`` and
    ``20260105``; dotted dates (``03.08.2026``) are day.month.year, as everywhere dots are used.
    Two-digit years follow Excel's rule: 00-29 are 2000-2029, 30-99 are 1930-1999.
    Day/month/year text with slashes or dashes is not accepted (US billing); such a date fails with
    a clear message when the day is above 12, and is read as month/day otherwise."""
    t = text.strip()
    if m := _ISO_DATE.match(t):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := _US_DATE.match(t):
        return date(_year(m[4]), int(m[1]), int(m[3]))
    if m := DOTTED_DATE.match(t):
        return date(_year(m[3]), int(m[2]), int(m[1]))
    if m := _COMPACT_DATE.match(t):
        return date(int(m[1]), int(m[2]), int(m[3]))
    raise ValueError("not a date")


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year <= 29 else 1900
    return year


def to_date(value: object) -> date | None:
    """One cell to a date; raises ``ValueError`` with a short reason."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise ValueError("a true/false value is not a date")
    if isinstance(value, (int, float)):
        return excel_serial_to_date(value)
    if isinstance(value, str):
        if not value.strip():
            return None
        return parse_date_text(value)
    raise ValueError("not a date")
