"""A practice's own workbook, as it is (issue #14 §2): sheets under their own names, title rows, text
dates in several forms, modifiers and diagnoses in one cell, totals and notes rows, no LineID column —
read, checked, priced and billed without edits."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import PRACTICE_ROWS, ROOT
from typer.testing import CliRunner
from x12util import pyx12_validate

import otbill_xl
from otbill_xl.cli import app
from otbill_xl.domain.findings import Severity
from otbill_xl.workbook import charge_rows
from otbill_xl.workbook.memory import MemoryWorkbook
from otbill_xl.workbook.reader import read_book

runner = CliRunner()
AS_OF = "2026-02-16"

INSURANCE = [
    ["Insurance we bill"],
    [],
    ["Insurance", "Payer ID", "Type", "Timely Filing"],
    ["Medicare", "12345", "Medicare", None],
    ["Acme Health", "ACM01", "Commercial", 90],
]
THERAPISTS = [
    ["Last Name", "First Name", "NPI", "Credentials"],
    ["Rivera", "Ana", 1234567893, "OT"],
]
# Small practices use names as client IDs: the LineIDs otbill derives must never show them.
CLIENTS = [
    ["Client", "Last Name", "First Name", "DOB", "Sex", "Insurance", "Member ID", "Address", "City", "State", "ZIP",
     "Referring NPI", "Referring Last Name", "Referring First Name", "POC Start", "POC End"],
    ["Doe, Jane", "Doe", "Jane", "3/4/1950", "F", "Medicare", "1EG4TE5MK73", "1 Elm St", "Boston", "MA", "02134",
     "1333333338", "Reyes", "Lena", "1/2/2026", "3/31/2026"],
    ["Roe, Sam", "Roe", "Sam", "6/1/1980", "M", "Acme Health", "XYZ123", "9 Oak Ave", "Quincy", "MA", "02169",
     "", "", "", None, None],
]
VISIT_HEADER = ["Date of Service", "Client", "CPT", "Modifier(s)", "Mins", "Units", "Dx", "Therapist NPI", "POS",
                "Charge", "Notes"]
# Units by the 8-minute rule (facts §1.2): (38 + 7) // 15 = 3, (25 + 7) // 15 = 2, (40 + 7) // 15 = 3;
# a $65.00 charge per unit: 3 × 65 = 195, 2 × 65 = 130.
VISITS = [
    ["1/5/26", "Doe, Jane", "97110", "GO", 38, 3, "M62.81, R26.89", "1234567893", "11", 195, ""],
    ["Jan 9 2026", "Doe, Jane", "97530", "GO", 25, 2, "M62.81; R26.89", "1234567893", "11", 130, "Total knee"],
    ["9-Jan-2026", "Roe, Sam", 97110, "GO-59", 38, 3, "M62.81", 1234567893, 11, 195, ""],
    ["2026-01-12", "Doe, Jane", "97110", "GO", 40, 3, "M62.81 R26.89", "1234567893", "11", 195, ""],
    [datetime(2026, 1, 14), "Doe, Jane", "97530", "GO", 25, 2, "M62.81", "1234567893", "11", 130, ""],
    # An Excel serial number, days since 1899-12-30: 2 days to 1900-01-01, 126 × 365 + 31 leap days (1904-2024)
    # to 2026-01-01 = 46023, + 13 = 46036 for 2026-01-14.
    [46036, "Roe, Sam", "97530", "GO", 25, 2, "M62.81", "1234567893", "11", 130, ""],
    ["01/16/2026", "Doe, Jane", "97110", "GO", 38, 3, "M62.81", "1234567893", "11", 195, ""],
]
#: What the visits are, typed the contract's way: (DOS, patient, code, modifiers, diagnoses).
EXPECTED = [
    (date(2026, 1, 5), "Doe, Jane", "97110", ("GO",), ("M62.81", "R26.89")),
    (date(2026, 1, 9), "Doe, Jane", "97530", ("GO",), ("M62.81", "R26.89")),
    (date(2026, 1, 9), "Roe, Sam", "97110", ("GO", "59"), ("M62.81",)),
    (date(2026, 1, 12), "Doe, Jane", "97110", ("GO",), ("M62.81", "R26.89")),
    (date(2026, 1, 14), "Doe, Jane", "97530", ("GO",), ("M62.81",)),
    (date(2026, 1, 14), "Roe, Sam", "97530", ("GO",), ("M62.81",)),
    (date(2026, 1, 16), "Doe, Jane", "97110", ("GO",), ("M62.81",)),
]


def visit_sheet(visits=VISITS) -> list[list]:
    return [
        ["Harbor Hand & OT — visit log"],
        ["January 2026"],
        [],
        VISIT_HEADER,
        *visits,
        ["Total", None, None, None, 229, 18, None, None, None, 1170, None],
        [None, None, None, None, None, None, None, None, None, None, None],
        ["Notes: Sam's auth runs out in March", None, None, None, None, None, None, None, None, None, None],
    ]


def practice_book(path: Path, *, visits_sheet: str = "Jan visits", extra: dict[str, list[list]] | None = None,
                   visits=VISITS) -> Path:
    """The workbook as a small practice keeps it: plain ranges (no Excel Tables), title rows above the
    headers, its own sheet names and headers."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    sheets = {"Practice": PRACTICE_ROWS, "Insurance": INSURANCE, "Therapists": THERAPISTS, "Clients": CLIENTS,
              visits_sheet: visit_sheet(visits), **(extra or {})}
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def rules(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.rule, []).append(f)
    return out


# -- reading -------------------------------------------------------------------------------------


def test_small_practice_workbook_reads_as_typed(tmp_path):
    book, report = otbill_xl.read_practice(practice_book(tmp_path / "own.xlsx"))
    assert report.errors == ()
    located = {s.contract: (s.sheet, s.located) for s in report.sheets}
    assert located["Charges"] == ("Jan visits", "guessed")
    assert located["Payers"] == ("Insurance", "alias") and located["Patients"] == ("Clients", "alias")
    assert located["Providers"] == ("Therapists", "alias")
    assert report.sheet("Charges").header_row == 4 and report.sheet("Payers").header_row == 3

    got = [(c.dos, c.patient_id, c.code, c.modifiers, c.diagnoses) for c in book.charges]
    assert got == EXPECTED
    assert [c.row for c in book.charges] == list(range(5, 12))  # the totals row 12 and the notes row 14 skipped
    # The payer's name is its key (the Insurance sheet has no key column): Clients' Insurance matches it.
    assert [p.payer_key for p in book.payers] == ["Medicare", "Acme Health"]
    assert {p.payer_key for p in book.patients} == {"Medicare", "Acme Health"}

    by_rule = rules(report)
    assert [f.location.row for f in by_rule["read.totals-row"]] == [12]
    assert [f.location.row for f in by_rule["read.notes-row"]] == [14]
    (mods,) = by_rule["read.modifiers-split"]
    assert mods.message.startswith("1 modifier cell of Jan visits holds several modifiers") and mods.location.cell == "D7"
    (dx,) = by_rule["read.diagnoses-split"]
    assert dx.message.startswith("3 diagnosis cells of Jan visits hold several diagnoses") and dx.location.cell == "G5"
    assert "Jan visits" in by_rule["read.sheet-guessed"][0].message
    assert 'Charges = "Jan visits" under [sheets]' in by_rule["read.sheet-guessed"][0].fix
    assert len(by_rule["read.derived-line-ids"]) == 1
    for f in report.findings:  # patient IDs (names here) never in a message
        assert "Doe" not in f.message + f.fix and "Roe" not in f.message + f.fix


def test_derived_line_ids_are_stable_unique_sendable_and_hide_the_patient(tmp_path):
    book, _ = otbill_xl.read_practice(practice_book(tmp_path / "own.xlsx"))
    ids = [c.line_id for c in book.charges]
    assert len(set(ids)) == len(ids)
    for c, lid in zip(book.charges, ids, strict=True):
        # REF*6R: 1-50 characters of letters, digits and -._/ (005010X222A1 2400 REF02).
        assert re.fullmatch(r"[A-Za-z0-9\-._/]{1,50}", lid)
        assert lid.startswith(f"{c.dos:%Y%m%d}-{c.code}-")
        assert "DOE" not in lid.upper() and "JANE" not in lid.upper() and "ROE" not in lid.upper()
    assert ids[2].startswith("20260109-97110-59-GO-")  # modifiers sorted: GO-59 and 59 GO are one line
    # The same lines, rows moved (a visit added on top, the sheet re-sorted): the same LineIDs.
    moved = [["1/2/2026", "Roe, Sam", "97165", "GO", None, 1, "M62.81", "1234567893", "11", 120, ""],
             *reversed(VISITS)]
    again, _ = otbill_xl.read_practice(practice_book(tmp_path / "moved.xlsx", visits=moved))
    by_what = {(c.dos, c.patient_id, c.code, c.modifiers): c.line_id for c in again.charges}
    assert all(by_what[(c.dos, c.patient_id, c.code, c.modifiers)] == c.line_id for c in book.charges)


def test_same_service_twice_a_day_gets_numbered_ids():
    ids = charge_rows.derived_line_ids(["P1", "P1", "P2", "P1"], [date(2026, 1, 5)] * 4, ["97110"] * 4,
                                       [["GO"] * 4, ["", "", "", "CO"], [""] * 4, [""] * 4])
    assert ids[1] == ids[0] + "-2" and ids[2] != ids[0] and ids[3] != ids[0]
    assert ids[3].startswith("20260105-97110-CO-GO-")


def contract_book(path: Path) -> Path:
    """The same practice typed the contract's way: contract sheet names and headers, Excel Tables, date
    cells, one modifier and one diagnosis per column, a LineID column, no totals or notes rows."""
    from conftest import CHARGE_HEADER, make_workbook

    rows = [CHARGE_HEADER]
    for n, ((dos, patient, code, mods, dxs), visit) in enumerate(zip(EXPECTED, VISITS, strict=True), 1):
        m, d = (*mods, "", "", "", "")[:4], (*dxs, "", "", "", "")[:4]
        rows.append([f"L{n}", patient, dos, "1234567893", code, *m, visit[4], visit[5], *d, "11", visit[9], "", "",
                     visit[10]])
    payers = [["PayerKey", "PayerName", "PayerType", "PayerID", "TimelyFilingDays"],
              *[[r[0], r[0], r[2], r[1], r[3]] for r in INSURANCE[3:]]]
    providers = [["NPI", "LastName", "FirstName", "Credential"], [1234567893, "Rivera", "Ana", "OT"]]
    patients = [["PatientID", "LastName", "FirstName", "DOB", "Sex", "PayerKey", "MemberID", "Address", "City", "State",
                 "ZIP", "ReferringNPI", "ReferringLastName", "ReferringFirstName", "POCStart", "POCEnd"], *CLIENTS[1:]]
    return make_workbook(path, {"Practice": PRACTICE_ROWS, "Payers": payers, "Providers": providers,
                                "Patients": patients, "Charges": rows})


def test_the_contract_layout_reads_the_same_book(tmp_path):
    """The oracle: the same practice typed the contract's way reads into the same records."""
    contract, _ = otbill_xl.read_practice(contract_book(tmp_path / "c.xlsx"))
    own, _ = otbill_xl.read_practice(practice_book(tmp_path / "own.xlsx"))
    strip = lambda c: c._replace(row=0, line_id="")  # noqa: E731
    assert [strip(c) for c in own.charges] == [strip(c) for c in contract.charges]
    for records in ("payers", "providers", "patients"):
        assert [r.model_copy(update={"row": 0}) for r in getattr(own, records)] == [
            r.model_copy(update={"row": 0}) for r in getattr(contract, records)], records


# -- check, price, claims ------------------------------------------------------------------------


def scrub_findings(stdout: str) -> list[tuple[str, str, int | None]]:
    """(rule, severity, row) of every finding but the reader's own (sheets, mappings, rows skipped)."""
    return sorted((f["rule"], f["severity"], f["row"]) for f in json.loads(stdout)["findings"]
                  if not f["rule"].startswith("read."))


def test_check_price_and_claims_work_on_it_without_edits(tmp_path):
    """check, price and claims end as they do on the same practice typed the contract's way: check and
    claims clean (exit 0), price with the same warnings (no Medicare RVU sheet: exit 1), the same
    findings on the same lines (the own workbook's rows are 3 further down: three title rows)."""
    src, contract = practice_book(tmp_path / "own.xlsx"), contract_book(tmp_path / "c.xlsx")
    for command in ("check", "price"):
        own = runner.invoke(app, [command, str(src), "--out", str(tmp_path / f"{command}.xlsx"), "--as-of", AS_OF,
                                  "--json"])
        typed = runner.invoke(app, [command, str(contract), "--out", str(tmp_path / f"{command}-c.xlsx"), "--as-of",
                                    AS_OF, "--json"])
        assert own.exit_code == typed.exit_code == (0 if command == "check" else 1), own.stdout
        shifted = [(rule, sev, row - 3 if row else row) for rule, sev, row in scrub_findings(own.stdout)]
        assert shifted == scrub_findings(typed.stdout)
        assert not [f for f in json.loads(own.stdout)["findings"] if f["severity"] == "error"]
    priced = json.loads(own.stdout)["lines"]
    book, _ = otbill_xl.read_practice(src)
    assert [x["LineID"] for x in priced] == [c.line_id for c in book.charges]

    ledger = str(tmp_path / "l.sqlite")
    first = runner.invoke(app, ["claims", str(src), "--out", str(tmp_path / "o"), "--ledger", ledger, "--as-of", AS_OF,
                                "--json"])
    assert first.exit_code == 0, first.stdout
    data = json.loads(first.stdout)
    assert data["lines_billed"] == 7 and data["lines_held_back"] == []
    sent = []
    for f in data["files"]:
        text = Path(f["path"]).read_text(encoding="ascii")
        ok, errors = pyx12_validate(text)
        assert ok, "\n".join(errors[:20])
        sent += re.findall(r"REF\*6R\*([^~]+)~", text)
    assert sorted(sent) == sorted(c.line_id for c in book.charges)  # the derived LineIDs are the REF*6R
    typed = runner.invoke(app, ["claims", str(contract), "--out", str(tmp_path / "oc"), "--ledger",
                                str(tmp_path / "lc.sqlite"), "--as-of", AS_OF, "--json"])
    assert typed.exit_code == 0 and json.loads(typed.stdout)["lines_billed"] == 7
    assert not [x for x in sent if "DOE" in x.upper() or "ROE" in x.upper()]

    # Billing twice is impossible: a re-run holds every line back, saying in words how to bill one again.
    again = json.loads(runner.invoke(app, ["claims", str(src), "--out", str(tmp_path / "o2"), "--ledger", ledger,
                                           "--as-of", AS_OF, "--json"]).stdout)
    assert again["lines_billed"] == 0 and len(again["lines_held_back"]) == 7
    for held in again["lines_held_back"]:
        (reason,) = held["reasons"]
        assert reason.startswith("already billed") and f"--rebill {held['line_id']} " in reason and held["line_id"]
    # ... and --rebill takes a derived LineID.
    one = book.charges[0].line_id
    rebilled = json.loads(runner.invoke(app, ["claims", str(src), "--out", str(tmp_path / "o3"), "--ledger", ledger,
                                              "--as-of", AS_OF, "--json", "--rebill", one]).stdout)
    assert rebilled["lines_billed"] == 1


def test_a_duplicate_without_lineid_says_what_to_do_in_words():
    from otbill_xl.domain.identity import BilledService, BillingHistory, ServiceKeys, prior_billing

    billed = BilledService("L1", "C1", "1", "", "2026-01-20T10:00:00", "97110", "GO", "3", "k", "svc", "")
    held = prior_billing([ServiceKeys(7, "", "1", "97110", "GO", 3, "", "svc", "")],
                         BillingHistory({}, {"svc": billed}, {}))
    assert "--rebill " not in held[7].reason.replace("--rebill and", "")
    assert "type one in this line's LineID cell" in held[7].reason


# -- sheet mapping and look-alikes ---------------------------------------------------------------


def test_two_lookalike_sheets_are_never_guessed_between(tmp_path):
    feb = [["Date of Service", "Client", "CPT", "Mins"], ["2/2/2026", "Doe, Jane", "97110", 38]]
    src = practice_book(tmp_path / "own.xlsx", extra={"Feb visits": feb})
    book, report = otbill_xl.read_practice(src)
    assert book.charges == () and report.sheet("Charges").found_as == "missing"
    (missing,) = [f for f in report.errors if f.rule == "read.sheet-missing"]
    assert "'Jan visits', 'Feb visits' all look like one" in missing.fix and "Charges | Sheet | Jan visits" in missing.fix
    # Mapped, it is read (and no longer guessed).
    mapping = tmp_path / "cols.toml"
    mapping.write_text('[sheets]\nCharges = "Feb visits"\n')
    book, report = otbill_xl.read_practice(src, columns=mapping)
    assert [c.dos for c in book.charges] == [date(2026, 2, 2)] and report.sheet("Charges").located == "mapped"
    assert "read.sheet-guessed" not in rules(report)
    check = runner.invoke(app, ["check", str(src), "--out", str(tmp_path / "c.xlsx"), "--as-of", AS_OF])
    assert check.exit_code == 2 and not (tmp_path / "c.xlsx").exists()  # no Charges sheet: nothing to check
    said = " ".join(check.output.split())
    assert 'or map it: a Columns-sheet row Charges | Sheet | <its name>, or Charges = "<its name>"' in said
    assert "'Jan visits', 'Feb visits' all look like one" in said


def test_columns_sheet_row_maps_a_sheet(tmp_path):
    columns = [["Sheet", "Column", "Header"], ["Charges", "Sheet", "Jan visits"], ["Patients", "", "Clients"]]
    book, report = otbill_xl.read_practice(practice_book(tmp_path / "own.xlsx", extra={"Columns": columns}))
    assert report.sheet("Charges").located == "mapped" and report.sheet("Patients").located == "mapped"
    assert len(book.charges) == 7 and "read.sheet-guessed" not in rules(report)


def test_a_mapping_to_a_missing_sheet_is_an_error(tmp_path):
    columns = [["Sheet", "Column", "Header"], ["Charges", "Sheet", "Janvisits 2026"]]
    _, report = otbill_xl.read_practice(practice_book(tmp_path / "own.xlsx", extra={"Columns": columns}))
    (f,) = rules(report)["read.mapped-sheet-missing"]
    assert f.severity is Severity.ERROR and "'Janvisits 2026'" in f.message


def test_info_suggests_a_lookalike_of_an_optional_sheet(tmp_path):
    fees = [["Our fees"], ["CPT", "Charge Per Unit", "Effective From"], ["97110", 65, "1/1/2026"]]
    src = practice_book(tmp_path / "own.xlsx", extra={"Fees 2026": fees})
    result = runner.invoke(app, ["info", str(src)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stdout
    text = " ".join(result.stdout.split())
    assert "The sheet 'Fees 2026' looks like your ChargeMaster sheet (it has CPT, Charge Per Unit, Effective From)" in text
    assert 'ChargeMaster = "Fees 2026" under [sheets]' in text
    as_json = json.loads(runner.invoke(app, ["info", str(src), "--json"]).stdout)
    (hint,) = as_json["suggestions"]
    assert hint.startswith("The sheet 'Fees 2026' looks like your ChargeMaster sheet")
    # Nothing is picked for an optional sheet: a suggestion only.
    _, report = otbill_xl.read_practice(src)
    assert report.sheet("ChargeMaster").found_as == "missing"


def test_output_sheets_are_never_lookalikes():
    """Every sheet otbill writes is excluded from the look-alikes (a Findings sheet has PatientID, DOS
    and Code): a copy otbill wrote, read again, never has its outputs guessed as input sheets."""
    from otbill_xl.actions import batch, check, claims, price, receivables, reconcile
    from otbill_xl.actions.sheets import SheetSpec
    from otbill_xl.workbook.contract import SHEETS_BY_NAME, normalize_header
    from otbill_xl.workbook.lookalike import OUTPUT_SHEETS

    written = {v.name for m in (batch, check, claims, price, receivables, reconcile) for v in vars(m).values()
               if isinstance(v, SheetSpec)}
    assert {"Findings", "Pricing", "Held Back", "Reconciliation"} <= written
    for name in written - set(SHEETS_BY_NAME):  # (Payments is a contract sheet: found by its name)
        assert normalize_header(name) in OUTPUT_SHEETS, name
    findings = [["Rule", "Severity", "LineID", "PatientID", "DOS", "Code", "Message"],
                ["scrub.x", "error", "L1", "P1", "1/5/2026", "97110", "..."]]
    _, report = read_book(MemoryWorkbook({"Findings": findings, "Clients": CLIENTS}))
    assert report.sheet("Charges").found_as == "missing" and "read.sheet-guessed" not in rules(report)


# -- totals and notes rows -----------------------------------------------------------------------


def read_charges(rows: list[list]):
    return read_book(MemoryWorkbook({"Charges": [VISIT_HEADER, *rows]}))


@pytest.mark.parametrize("label", ["Total", "TOTAL:", "Subtotal", "Sub-total", "Grand Total", "Totals", "total for January"])
def test_a_totals_row_is_skipped_with_one_info(label):
    book, report = read_charges([VISITS[0], [None, label, None, None, 38, 3, None, None, None, 195, None],
                                 VISITS[1], [label, None, None, None, 25, 2, None, None, None, 130, None]])
    assert [c.row for c in book.charges] == [2, 4]
    (f,) = rules(report)["read.totals-row"]
    assert f.severity is Severity.INFO and f.message.startswith("Rows 3, 5 of Charges are a total")
    assert not [e for e in report.errors if e.location.row in (3, 5)]


def test_a_sums_only_row_is_a_total_and_a_notes_row_is_a_note():
    book, report = read_charges([VISITS[0], [None, None, None, None, 38, 3, None, None, None, 195, None],
                                 [None, None, None, None, None, None, None, None, None, None, "N.B. recheck auth"],
                                 [None, "Notes: call Medicare", None, None, None, None, None, None, None, None, None]])
    assert [c.row for c in book.charges] == [2]
    assert rules(report)["read.totals-row"][0].location.row == 3
    (notes,) = rules(report)["read.notes-row"]
    assert notes.message.startswith("Rows 4, 5 of Charges are a note") and "call Medicare" not in notes.message


def test_incomplete_lines_are_never_skipped_as_totals():
    """A false skip loses a billable line: a line with a code but no patient, a patient but no code,
    or a date and text but no patient and no code stays a line (with its errors); "Total" in the Note
    column is a note about the line."""
    rows = [
        ["1/5/2026", None, "97110", "GO", 38, 3, "M62.81", "1234567893", "11", 195, ""],          # no patient
        ["1/5/2026", "Doe, Jane", None, "GO", 38, 3, "M62.81", "1234567893", "11", 195, ""],      # no code
        ["1/5/2026", None, None, "GO", 38, 3, "M62.81", "1234567893", "11", 195, "Total knee"],   # no patient, no code
        VISITS[1],                                                                                 # Note: "Total knee"
    ]
    book, report = read_charges(rows)
    assert [c.row for c in book.charges] == [2, 3, 4, 5]
    assert "read.totals-row" not in rules(report) and "read.notes-row" not in rules(report)


# -- several codes in one cell -------------------------------------------------------------------


@pytest.mark.parametrize("typed, mods", [
    ("GO CO", ("GO", "CO")), ("GO,59", ("GO", "59")), ("GO-KX", ("GO", "KX")), ("GO/KX", ("GO", "KX")),
    ("go, kx , 59", ("GO", "KX", "59")), ("GO+CO+KX+59", ("GO", "CO", "KX", "59")),
])
def test_modifiers_in_one_cell_are_spread_over_mod1_to_mod4(typed, mods):
    row = list(VISITS[0])
    row[3] = typed
    book, report = read_charges([row])
    assert book.charges[0].modifiers == mods
    (f,) = rules(report)["read.modifiers-split"]
    assert f.location.cell == "D2" and f.severity is Severity.INFO


@pytest.mark.parametrize("typed", ["GOCO", "GO CX1", "GO (therapy)", "G0"])
def test_a_cell_that_is_not_modifiers_is_left_as_typed(typed):
    row = list(VISITS[0])
    row[3] = typed
    book, report = read_charges([row])
    assert book.charges[0].mod1 == typed.upper() and "read.modifiers-split" not in rules(report)


@pytest.mark.parametrize("typed, dxs", [
    ("M62.81, R26.89", ("M62.81", "R26.89")), ("M62.81; R26.89", ("M62.81", "R26.89")),
    ("M6281 R2689 / S52.501A", ("M6281", "R2689", "S52.501A")), ("m62.81,r26.89", ("M62.81", "R26.89")),
])
def test_diagnoses_in_one_cell_are_spread_over_dx1_to_dx4(typed, dxs):
    row = list(VISITS[0])
    row[6] = typed
    book, report = read_charges([row])
    assert book.charges[0].diagnoses == dxs and "read.diagnoses-split" in rules(report)


def test_a_diagnosis_with_words_is_left_as_typed():
    row = list(VISITS[0])
    row[6] = "M62.81 (weakness)"
    book, report = read_charges([row])
    assert book.charges[0].diagnoses == ("M62.81 (WEAKNESS)",) and "read.diagnoses-split" not in rules(report)


def test_more_than_four_codes_is_an_error_on_the_row():
    row = list(VISITS[0])
    row[3] = "GO CO KX 59 76"
    book, report = read_charges([row, VISITS[1]])
    assert book.charges[0].modifiers == ("GO", "CO", "KX", "59")
    (f,) = rules(report)["read.too-many-codes"]
    assert f.severity is Severity.ERROR and f.location.row == 2 and "5 modifiers" in f.message


def test_many_split_cells_make_one_finding():
    rows = [list(VISITS[0]) for _ in range(500)]
    for r in rows:
        r[3] = "GO KX"
    _, report = read_charges(rows)
    (f,) = rules(report)["read.modifiers-split"]
    assert f.message.startswith("500 modifier cells of Charges hold several modifiers")


# -- the README lists every alias ----------------------------------------------------------------


def test_templates_aliases_prints_the_list_and_rewrites_a_readme(tmp_path):
    from otbill_xl.workbook.aliases_doc import BEGIN, END, markdown

    printed = runner.invoke(app, ["templates", "aliases"])
    assert printed.exit_code == 0 and printed.stdout == markdown() and "`Insurance`" in printed.stdout
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    assert runner.invoke(app, ["templates", "aliases", "--readme", str(readme)]).exit_code == 0
    assert readme.read_text() == f"# x\n\n{BEGIN}\n\n{markdown()}\n{END}\n\nafter\n"
    readme.write_text("# no markers\n")
    assert runner.invoke(app, ["templates", "aliases", "--readme", str(readme)]).exit_code == 2


def test_readme_alias_section_equals_a_fresh_generation():
    from otbill_xl.workbook.aliases_doc import BEGIN, END, markdown, section

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert section(readme) == f"{BEGIN}\n\n{markdown()}\n{END}", (
        "README's alias section is stale: run `otbill templates aliases --readme README.md`")


def test_every_alias_is_documented_and_none_means_two_columns():
    from otbill_xl.workbook.aliases_doc import markdown
    from otbill_xl.workbook.contract import SHEETS, normalize_header

    text = markdown()
    known_clash = {("Payments", "payment")}  # "Payment #" (PaymentID) and "Payment" (Paid): the first wins
    names: dict[str, str] = {}
    for sheet in SHEETS:
        assert f"**{sheet.name}**" in text
        for alias in (sheet.name, *sheet.aliases):
            assert alias == sheet.name or f"`{alias}`" in text
            assert names.setdefault(normalize_header(alias), sheet.name) == sheet.name, alias
        headers: dict[str, str] = {}
        for col in sheet.columns:
            for alias in (col.name, *col.aliases):
                assert f"`{alias}`" in text
                key = normalize_header(alias)
                if (sheet.name, key) not in known_clash:
                    assert headers.setdefault(key, col.name) == col.name, (sheet.name, alias)
