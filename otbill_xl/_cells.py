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
# Month names as billers type them: "Jan 9 2026", "January 9, 2026", "Mon, Jan 5, 2026" (month first) and
# "9-Jan-2026", "9 Jan 26", "09/Jan/2026" (day first: unambiguous, the month is a word).
_MONTH = r"([A-Za-z]{3,9})\.?"
_WEEKDAY = r"(?:[A-Za-z]{3,9}\.?,?\s+)?"
_NAMED_MDY = re.compile(r"^" + _WEEKDAY + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}|\d{2})" + _TIME + "$")
_NAMED_DMY = re.compile(r"^" + _WEEKDAY + r"(\d{1,2})(?:st|nd|rd|th)?[\s/-]+" + _MONTH + r"[\s/,-]+(\d{4}|\d{2})" + _TIME + "$")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
# An Excel serial typed or exported as text ("46027"): five digits are 1927-03-11 to 2173-10-14.
_SERIAL_TEXT = re.compile(r"^\d{5}(?:\.0+)?$")


def parse_date_text(text: str) -> date:
    """Dates typed as text: US month/day/year (``1/5/2026``, ``01-05-26``), ISO ``2026-01-05`` and
    ``20260105``; dotted dates (``03.08.2026``) are day.month.year, as everywhere dots are used; month
    names (``Jan 9 2026``, ``January 9, 2026``, ``9-Jan-2026``, ``9 Jan 26``); an Excel serial exported
    as text (``46031``).
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
    if t[:1].isalpha() and (m := _NAMED_MDY.match(t)):
        return date(_year(m[3]), _month(m[1]), int(m[2]))
    if (m := _NAMED_DMY.match(t)):
        return date(_year(m[3]), _month(m[2]), int(m[1]))
    if _SERIAL_TEXT.match(t):
        return excel_serial_to_date(float(t))
    raise ValueError("not a date")


def _month(word: str) -> int:
    """1-12 for a month name or its abbreviation ("Jan", "Sept", "December"), case-insensitive."""
    w = word.lower()
    for number, name in enumerate(_MONTHS, 1):
        if len(w) >= 3 and name.startswith(w):
            return number
    raise ValueError("not a month name")


def day_first(text: str) -> date | None:
    """The date a slash or dash date means when it can only be day first (``13/01/2026``: there is no
    month 13), else ``None``. Such text is never read as a date silently: US billing writes the month
    first, so the same column's ``05/01/2026`` may be day first too."""
    m = _US_DATE.match(text.strip())
    if not m or int(m[1]) <= 12 or int(m[3]) > 12:
        return None
    try:
        return date(_year(m[4]), int(m[3]), int(m[1]))
    except ValueError:
        return None


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
