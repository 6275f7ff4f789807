"""Worksheet functions called with values shaped exactly as Excel/xlwings hands them over:
floats for numbers, None for blanks, datetime for dates, 1-D lists (a single row or column with
xlwings' default ndim) and 2-D lists (ndim=2)."""

from __future__ import annotations

from datetime import datetime

from otbill_xl.excel.udfs import (
    OT_CARC,
    OT_CARC_CATEGORY,
    OT_CODE_INFO,
    OT_NEXT_ACTION,
    OT_NPI_VALID,
    OT_UNITS,
    OT_UNITS_EXPLAIN,
)


def test_ot_units_column_2d_one_visit_cms_example_1():
    # CMS §20.2 Example 1 (facts §1.4): 97112 24 min + 97110 23 min = 47 → 3 units: 97112×2, 97110×1.
    codes = [[97112.0], [97110.0]]
    minutes = [[24.0], [23.0]]
    assert OT_UNITS(codes, minutes) == [[2], [1]]
    assert OT_UNITS(codes, minutes, "ama") == [[2], [2]]  # AMA per code: 24→2, 23→2 (facts §1.5: 4 units)
    explain = OT_UNITS_EXPLAIN(codes, minutes)
    assert explain[0][0].startswith("47 timed min → 3 units")


def test_ot_units_1d_row_with_blanks_and_visit_keys():
    # Two visits in one call; blank rows (None) stay blank.
    codes = ["97110", "97140", None, "97530", "97535"]
    minutes = [10.0, 10.0, None, 7.0, 7.0]
    visits = ["P1|2026-08-03", "P1|2026-08-03", None, "P2|2026-08-03", "P2|2026-08-03"]
    # Visit 1: 20 min pooled → 1 unit (CMS), tie 10/10 → one code gets it.
    # Visit 2: 14 min pooled → 1 unit; 7/7 tie → one code gets it (facts §1.3 step 5).
    out = OT_UNITS(codes, minutes, "cms", visits)
    assert out[2] == ""
    assert sorted(out[:2]) == [0, 1] and sorted(out[3:]) == [0, 1]
    # AMA: 10 → 1 each; 7 → 0 each (facts §1.5).
    assert OT_UNITS(codes, minutes, "ama", visits) == [1, 1, "", 0, 0]


def test_untimed_and_errors_are_per_row_not_fatal():
    out = OT_UNITS([["97165"], ["97110"]], [[45.0], [None]], "cms", [["a"], ["b"]])
    assert out == [[1], [0]]
    bad = OT_UNITS([["XYZ"], ["97110"]], [[10.0], [38.0]], "cms", [["a"], ["b"]])
    assert bad[0][0].startswith("#ERROR") and bad[1][0] == 3
    assert OT_UNITS(["97110"], [12.5]).__getitem__(0).startswith("#ERROR")
    assert OT_UNITS(["97110"], [10.0], "weekly").startswith("#ERROR")


def test_scalar_inputs():
    assert OT_UNITS(97110.0, 38.0) == 3
    assert OT_NPI_VALID(1234567893.0) is True
    assert OT_NPI_VALID("1234567890") is False


def test_npi_valid_vectorised():
    assert OT_NPI_VALID([[1234567893.0], [None], ["1234567890"]]) == [[True], [""], [False]]


def test_code_info_with_datetime_dos():
    info = OT_CODE_INFO("97003", datetime(2026, 8, 3))
    assert "deleted on 2026-08-03" in info and "97165" in info
    assert "active on 2026-08-03" in OT_CODE_INFO(97110.0, datetime(2026, 8, 3))
    assert "add-on to 97129" in OT_CODE_INFO("97130")
    assert OT_CODE_INFO(["97110", None]) [1] == ""
    assert "not in the OT code catalogue" in OT_CODE_INFO("ABCDE")


# -- denials (issue 13 §6; the catalogue and rules are tested in test_denials.py) ---------------

def test_ot_carc_column_in_column_out():
    out = OT_CARC([["CO-97"], [None], [29.0], ["ZZ9"]])
    assert out[0] == ["Paid as part of another service already adjudicated (bundled)"]
    assert out[1] == [""] and out[2] == ["The filing limit passed"]
    assert out[3][0].startswith("#N/A")
    assert OT_CARC("PR-1") == "Deductible not yet met: the patient owes this part"


def test_ot_carc_category_vectorised():
    # Facts §8: 97 bundling, 1 patient responsibility, 50 medical necessity; unknown when not catalogued.
    assert OT_CARC_CATEGORY(["97", "PR-1", 50.0, "", "999"]) == [
        "bundling", "patient_responsibility", "medical_necessity", "", "unknown"]


def test_ot_next_action_with_and_without_remarks():
    out = OT_NEXT_ACTION([["PR"], ["CO"], ["CO"], [None]], [[50.0], ["16"], ["151"], [None]],
                         [[None], ["MA130, N290"], ["N362"], [None]])
    assert "bill the patient" in out[0][0]
    assert "not an appeal" in out[1][0] and "N290:" in out[1][0]
    assert "CO-151 with N362" in out[2][0]
    assert out[3] == [""]
    assert "NCCI" in OT_NEXT_ACTION("CO", "97")
    assert OT_NEXT_ACTION(["CO", "PR"], ["97"]).startswith("#ERROR")


# -- issue 15 §5: complete, safe in Excel, and light ---------------------------------------------

BLOCKED_SCRIPT = r'''
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("python_calamine", "openpyxl"):
            raise ImportError(name + " is blocked")
        return None

sys.meta_path.insert(0, Block())
from datetime import datetime
from otbill_xl.excel import addin, udfs
from otbill_xl.templates.sample import sample_rows
from otbill_xl.workbook.memory import MemoryWorkbook
from otbill_xl.workbook.reader import read_book

book = read_book(MemoryWorkbook(sample_rows())).book
addin._practice_book = lambda: book
charges = sample_rows()["Charges"][:4]
out = [
    addin.OT_UNITS([[97112.0], [97110.0]], [[24.0], [23.0]]),
    addin.OT_UNITS_EXPLAIN([[97112.0]], [[24.0]]),
    addin.OT_NPI_VALID([[1234567893.0]]),
    addin.OT_CODE_INFO([["97110"]], datetime(2026, 8, 3)),
    addin.OT_CARC([["CO-97"]]),
    addin.OT_CARC_CATEGORY([["CO-97"]]),
    addin.OT_NEXT_ACTION([["PR"]], [["1"]]),
    addin.OT_FEE([["MEDICARE"]], [["97110"]], [["GO"]], [[46237.0]], [[1.0]]),
    addin.OT_MEDICARE_ALLOWED([["97110"]], [["03102-00"]], [[46237.0]]),
    addin.OT_EXPECTED(charges),
]
assert not any(m.split(".")[0] in ("python_calamine", "openpyxl") for m in sys.modules)
print(repr(out))
'''


def test_every_udf_runs_with_python_calamine_and_openpyxl_blocked():
    """The add-in's UDF module and everything a function needs import neither reader library (xlwings
    reads the open book; xlwings Lite has no python-calamine): run in a fresh interpreter with both blocked."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", BLOCKED_SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = eval(result.stdout.strip())  # noqa: S307 - our own repr of lists, floats and strings
    assert out[0] == [[2], [1]]                  # CMS §20.2 example 1
    assert out[2] == [[True]]
    assert out[5] == [["bundling"]]
    # 46237 is 2026-08-03; 97110 Medicare PFS at the sample's locality, as tests/test_excel_selftest.py shows
    assert isinstance(out[7][0][0], float) and out[7][0][0] > 0
    assert out[9][0] == ["ExpectedAllowed", "ExpectedPayerPayment", "ExpectedPatientResp"] and len(out[9]) == 4


def test_udfs_return_error_text_instead_of_raising(monkeypatch):
    """A worksheet function never raises into Excel (xlwings would show a traceback): bad input is
    ``#ERROR: ...``, nothing to look up ``#N/A: ...``, a bug ``#ERROR`` naming only the exception type."""
    from otbill_xl.errors import WorkbookError
    from otbill_xl.excel import addin, udfs

    assert addin.OT_UNITS([["97110"]], [["ten"]]) == [["#ERROR: minutes must be whole numbers, not 'ten'"]]
    assert addin.OT_UNITS([["97110"], ["97112"]], [[10.0]]) == "#ERROR: codes and minutes must be ranges of the same size"
    assert addin.OT_CARC([["999999"]])[0][0].startswith("#N/A: CARC 999999")
    assert addin.OT_CODE_INFO([["97110"]], "next Tuesday") == "#ERROR: dos must be a date"

    def unreadable():
        raise WorkbookError("Book1.xlsx: the Payers sheet is missing; add it from the template.")

    monkeypatch.setattr(addin, "_practice_book", unreadable)
    assert addin.OT_FEE("ACME", "97110") == "#ERROR: Book1.xlsx: the Payers sheet is missing; add it from the template."

    def bug(*args):
        raise KeyError("Jane Doe")  # a cell's text must never reach the sheet through an error

    assert udfs.excel_safe(bug, 1) == ("#ERROR: otbill stopped on an unexpected KeyError; run `otbill check` on a "
                                       "copy of the workbook to see why")
    assert all(p.startswith("#") and p.endswith(":") for p in udfs.ERROR_PREFIXES)


def test_every_range_argument_is_two_dimensional():
    """A column in gives a column out: with xlwings' default ndim a single column arrives as a flat list
    and a flat list is written back as a row, so every range argument is declared ``ndim=2``."""
    from excel_fake import declared_ndims

    scalars = {("OT_UNITS", 2), ("OT_UNITS_EXPLAIN", 2), ("OT_CODE_INFO", 1)}  # rule, rule, dos: one value
    for name, dims in declared_ndims().items():
        for i, ndim in enumerate(dims):
            assert ndim == 2 or (name, i) in scalars, f"{name} argument {i} is not ndim=2"
