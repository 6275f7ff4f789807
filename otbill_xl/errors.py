"""Exception tree (python-stdnum style: each class has a default message a biller can act on).

Errors are for input that cannot be used at all (an unreadable file). Problems inside a usable
workbook are reported as :class:`~otbill_xl.domain.findings.Finding` records instead.
"""

from __future__ import annotations


class OtbillError(Exception):
    """Base class of otbill_xl errors."""

    message = "otbill could not complete the request."

    def __init__(self, msg: str | None = None) -> None:
        super().__init__(msg or self.message)

    @property
    def text(self) -> str:
        return str(self)


class WorkbookError(OtbillError):
    """The workbook cannot be used."""

    message = "The workbook cannot be read."


class WorkbookNotFound(WorkbookError):
    message = "The workbook file does not exist. Check the path."


class EmptyWorkbook(WorkbookError):
    message = "The file is empty (0 bytes). Save the workbook again from Excel."


class EncryptedWorkbook(WorkbookError):
    message = ("The workbook is password-protected. Remove the password in Excel "
               "(File > Info > Protect Workbook > Encrypt with Password, clear it) and save a copy.")


class NotAWorkbook(WorkbookError):
    message = "The file is not an Excel .xlsx workbook. Open it in Excel and save it as .xlsx."


class ColumnsFileError(OtbillError):
    message = "The column-mapping file cannot be read."


class OutputError(OtbillError):
    message = "The output file cannot be written."


class UnsafeWorkbook(WorkbookError):
    """The file is built to exhaust memory or attack XML readers (a zip bomb, a DTD)."""

    message = ("The workbook holds parts otbill refuses to read (too large, compressed too well, or with a DTD). "
               "Open it in Excel and save it again as .xlsx.")
