"""Every coded element of the 837P, mutated (issue #12 §3): never a file a validator would reject for a
reason the tool could know.

Each value the writer puts into a coded or identifier element comes from a workbook cell. For each
such column, and for each kind of bad value a biller's workbook holds (blank, X12 separators, letters
outside the X12 character set, too long, a code that does not exist, lower case), the small sample
workbook (tests/test_fuzz.py's base) gets that value in one row; `check`, `price` and `claims` run
through the file adapter; the test asserts that no exception escapes, that every 837P file written
passes pyx12, and that a mutated charge row is either billed in such a file or held back with a
reason. To keep the run short the Charges and Patients columns are mutated together, each column on
its own row; Payers, Providers and Practice settings one at a time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from test_fuzz import Mutation, base_rows, run_case, write_mutated

from otbill_xl.actions.claims import create_claims
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook

AS_OF_CREATED = ("2026-11-27", "2026-11-27T09:30")

#: Columns whose values end up in coded or identifier elements of the 837P (with the element).
CHARGE_COLUMNS = ("Code", "Mod1", "Mod2", "POS", "Dx1", "Dx2", "Units", "Charge", "RenderingNPI", "ClaimID",
                  "Frequency", "OriginalClaimNumber", "LineID")
PATIENT_COLUMNS = ("Sex", "State", "ZIP", "Relationship", "MemberID", "GroupNumber", "ReferringNPI",
                   "ReferringLastName", "AuthNumber", "LastName", "Address", "City", "PayerKey")
PAYER_COLUMNS = ("PayerID", "PayerType", "PayerName")
PROVIDER_COLUMNS = ("NPI", "Taxonomy", "LastName", "Credential", "SupervisorNPI")
PRACTICE_SETTINGS = ("BillingNPI", "TaxID", "Taxonomy", "State", "ZIP", "SubmitterID", "ReceiverID",
                     "InterchangeSenderQualifier", "Phone", "PracticeName", "BillingEntityType", "PayToZIP")

#: Bad values of the kinds billers' workbooks hold.
BAD = {
    "blank": None,
    "separators": "A*B~C:D^E",
    "non-ascii": "ÉÑ名",
    "too long": "X" * 90,
    "no such code": "00",
    "lower case": "go",
    "digits": "1",
}


def _column(sheet: str, name: str) -> int | None:
    header = base_rows()[sheet][0]
    return header.index(name) + 1 if name in header else None


def _practice_row(setting: str) -> int | None:
    for i, row in enumerate(base_rows()["Practice"][1:], start=2):
        if row and row[0] == setting:
            return i
    return None


def _mutations(kind: str, sheet: str, columns: tuple[str, ...], first_row: int) -> list[Mutation]:
    out = []
    for k, name in enumerate(columns):
        column = _column(sheet, name)
        if column is not None:
            out.append(Mutation(sheet, first_row + k, column, BAD[kind]))
    return out


def _claims(src: Path, work: Path):
    with Ledger(work / "probe.sqlite") as ledger:
        from datetime import date, datetime

        return create_claims(FileWorkbook(src), out_dir=work / "probe", ledger=ledger, as_of=date(2026, 11, 27),
                             created=datetime(2026, 11, 27, 9, 30), dry_run=True)


def _assert_case(mutations: list[Mutation], charge_rows: set[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="otbill-coded-") as tmp:
        work = Path(tmp)
        src = work / "mutated.xlsx"
        write_mutated(src, mutations)
        result = run_case(src, work)
        assert not result.failures, [str(f) for f in result.failures]
        assert not result.known, [str(f) for f in result.known]
        assert not result.problems, result.problems        # every 837P passes pyx12; input unchanged
        if charge_rows:
            outcome = _claims(src, work)  # (a dry run: which rows would be billed, which held back)
            billed = {line.row for claim in outcome.assembly.claims for line in claim.lines}
            held = {h.row: h.reasons for h in outcome.assembly.held_back}
            for row in charge_rows:
                assert row in billed or held.get(row), f"Charges row {row}: neither billed nor held back with a reason"


@pytest.mark.parametrize("kind", sorted(BAD))
def test_charge_and_patient_columns(kind):
    # Charges: one column per row from row 3; Patients: one column per row from row 3.
    mutations = _mutations(kind, "Charges", CHARGE_COLUMNS, 3) + _mutations(kind, "Patients", PATIENT_COLUMNS, 3)
    _assert_case(mutations, {m.row for m in mutations if m.sheet == "Charges"})


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize(("sheet", "column"), [*(("Payers", c) for c in PAYER_COLUMNS),
                                               *(("Providers", c) for c in PROVIDER_COLUMNS)])
def test_payer_and_provider_columns(sheet, column, kind):
    index = _column(sheet, column)
    assert index is not None, f"the sample's {sheet} sheet has no {column} column"
    _assert_case([Mutation(sheet, 2, index, BAD[kind])], set())


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("setting", PRACTICE_SETTINGS)
def test_practice_settings(setting, kind):
    row = _practice_row(setting)
    assert row is not None, setting
    _assert_case([Mutation("Practice", row, 2, BAD[kind])], set())
