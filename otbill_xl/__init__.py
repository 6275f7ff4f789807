"""otbill_xl — occupational-therapy billing in Excel.

Public API (everything in ``__all__``; other modules are internal)::

    import otbill_xl
    book, report = otbill_xl.read_practice("practice.xlsx")
    checked = otbill_xl.check("practice.xlsx")            # findings per cell
    priced = otbill_xl.price("practice.xlsx")             # expected payments
    plan = otbill_xl.claims("practice.xlsx", out_dir="out")   # a dry run unless dry_run=False
    otbill_xl.units([{"code": "97110", "minutes": 38}])   # CMS 8-minute rule

Importing the package loads only the domain: the file adapter (python-calamine, openpyxl) is imported
when a workbook is first read, so the Excel worksheet functions run where only the domain is installed.
"""

from __future__ import annotations

from typing import Any

from otbill_xl._version import __version__
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.codes import CodeInfo, CodeKind, CodeStatus, catalogue, lookup
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.models import (
    ChargeLine,
    ChargeMasterEntry,
    FeeScheduleEntry,
    Patient,
    Payer,
    PayerType,
    PostedPayment,
    Practice,
    Provider,
    Subscriber,
    UnitRule,
)
from otbill_xl.errors import OtbillError, WorkbookError

#: Names loaded on first use (they import the file adapter: python-calamine, openpyxl).
_LAZY = {
    "check": "otbill_xl.api", "price": "otbill_xl.api", "claims": "otbill_xl.api", "units": "otbill_xl.api",
    "FileWorkbook": "otbill_xl.workbook.files", "WorkbookPort": "otbill_xl.workbook.port",
    "PracticeRead": "otbill_xl.workbook.reader", "ReadReport": "otbill_xl.workbook.reader",
    "read_book": "otbill_xl.workbook.reader", "read_practice": "otbill_xl.workbook.reader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otbill_xl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ChargeLine", "ChargeMasterEntry", "CodeInfo", "CodeKind", "CodeStatus", "FeeScheduleEntry", "FileWorkbook",
    "Finding", "Location", "OtbillError", "Patient", "Payer", "PayerType", "PostedPayment", "Practice",
    "PracticeBook", "PracticeRead", "Provider", "ReadReport", "Severity", "Subscriber", "UnitRule",
    "WorkbookError", "WorkbookPort", "__version__", "catalogue", "check", "claims", "lookup", "price",
    "read_book", "read_practice", "units",
]
