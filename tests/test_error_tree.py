"""Every exception otbill_xl raises derives from OtbillError (issue #10 §4): a surface catches one type,
prints its message, and never shows a traceback for the project's own errors."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import otbill_xl
from otbill_xl.errors import OtbillError

SKIP = {"otbill_xl.excel.addin", "otbill_xl.__main__"}  # needs xlwings / runs the CLI


def project_exceptions() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(otbill_xl.__path__, "otbill_xl."):
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_every_project_exception_is_an_otbill_error():
    found = project_exceptions()
    assert len(found) >= 15  # the walk really finds them (X12, ledger, workbook, units, NPI, ...)
    # Control-flow signals that must unwind through ``except Exception`` (like KeyboardInterrupt) are
    # BaseExceptions on purpose; they are never shown to a user as an error.
    signals = [e.__qualname__ for e in found if not issubclass(e, Exception)]
    assert signals == ["BatchStopped"]
    assert [e.__qualname__ for e in found if issubclass(e, Exception) and not issubclass(e, OtbillError)] == []


def test_value_error_stays_a_mixin_where_it_was_one():
    from otbill_xl.domain.icd10 import InvalidICD10
    from otbill_xl.domain.npi import InvalidNPI
    from otbill_xl.domain.units import UnitsInputError
    from otbill_xl.formats.x12 import X12Error

    for exc in (InvalidNPI, InvalidICD10, UnitsInputError, X12Error):
        assert issubclass(exc, ValueError) and issubclass(exc, OtbillError)
    assert str(X12Error("claim OT1: bad")) == "claim OT1: bad"
