"""Cell-value text helpers shared by every layer that reads spreadsheets or CSV files (the
workbook reader and the fee-schedule importers). No otbill imports, so any layer may use it."""

from __future__ import annotations

import re
from datetime import date, datetime

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
