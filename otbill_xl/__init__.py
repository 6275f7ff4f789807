"""otbill_xl — occupational-therapy billing in Excel.

Public API::

    import otbill_xl
    book, report = otbill_xl.read_practice("practice.xlsx")
"""

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
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.port import WorkbookPort
from otbill_xl.workbook.reader import PracticeRead, ReadReport, read_book, read_practice

__all__ = [
    "ChargeLine", "ChargeMasterEntry", "CodeInfo", "CodeKind", "CodeStatus", "FeeScheduleEntry", "FileWorkbook",
    "Finding", "Location", "OtbillError", "Patient", "Payer", "PayerType", "PostedPayment", "Practice",
    "PracticeBook", "PracticeRead", "Provider", "ReadReport", "Severity", "Subscriber", "UnitRule",
    "WorkbookError", "WorkbookPort", "__version__", "catalogue", "lookup", "read_book", "read_practice",
]
