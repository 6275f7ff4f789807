"""Claims end to end: the "Create claims" action through the file adapter, the ledger that never bills
twice, `otbill claims`, and every 837P file passing pyx12 4.0.0 (005010X222A1)."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import (
    CHARGE_HEADER,
    PATIENT_ROWS,
    PAYER_ROWS,
    ROOT,
    contract_sheets,
    fingerprint,
    make_workbook,
)
from typer.testing import CliRunner
from x12util import check_structure, pyx12_validate

from otbill_xl import read_practice
from otbill_xl.actions.claims import CLAIMS_SHEET, HELD_SHEET, create_claims
from otbill_xl.cli import app
from otbill_xl.formats.x12 import ControlNumbers, read_837p
from otbill_xl.ledger import Ledger
from otbill_xl.templates.sample import PLANTED_ERRORS
from otbill_xl.workbook.files import FileWorkbook

SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
AS_OF = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 9, 30)
runner = CliRunner()


def assert_valid(path: str | Path) -> str:
    text = Path(path).read_text(encoding="ascii")
    ok, errors = pyx12_validate(text)
    assert ok, "\n".join(errors[:20])
    parsed = read_837p(text)
    control = ControlNumbers(parsed.interchange_control, parsed.group_control, parsed.transaction_control)
    assert check_structure(text, control) == []
    return text


def run(src: Path, out: Path, ledger: Path, **kw):
    port = FileWorkbook(src)
    with Ledger(ledger) as lg:
        outcome = create_claims(port, out_dir=out, ledger=lg, as_of=kw.pop("as_of", AS_OF), created=CREATED, **kw)
    copy = out / f"{src.stem}.claims.xlsx"
    port.save(str(copy))
    return outcome, copy


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("claims")
    src = d / "sample.xlsx"
    shutil.copy(SAMPLE, src)
    before = fingerprint(src)
    outcome, copy = run(src, d / "out", d / "ledger.sqlite")
    assert fingerprint(src) == before
    return d, src, outcome, copy


def test_sample_files_pass_pyx12_and_round_trip(sample_run):
    _, src, outcome, _ = sample_run
    line_of = {c.row: c for c in read_practice(src).book.charges}
    assert {f.payer_key for f in outcome.files} == {"BLUEPEAK", "MAPLAN", "MEDICAID", "MEDICARE", "SUMMIT"}
    by_id = {c.claim_id: c for c in outcome.assembly.claims}
    for f in outcome.files:
        parsed = read_837p(assert_valid(f.path))
        assert parsed.interchange_control == f.interchange and len(parsed.claims) == f.claims
        for pc in parsed.claims:
            claim = by_id[pc.claim_id]
            assert pc.total_charge == claim.total_charge == sum(line.charge for line in pc.lines)  # CLM02 = Σ SV102
            assert [(pl.code, pl.modifiers, int(pl.units), pl.charge, pl.dos, pl.pointers) for pl in pc.lines] == [
                (s.code, s.modifiers, s.units, s.charge, s.dos, s.pointers) for s in claim.lines]
            assert pc.diagnoses == claim.diagnoses
            # Every pointer names the charge line's own Dx1-Dx4 (without the dot) in the claim's HI list.
            for s in claim.lines:
                want = list(dict.fromkeys(d.replace(".", "").upper() for d in line_of[s.row].diagnoses))
                assert [claim.diagnoses[p - 1] for p in s.pointers] == want[:4]
            assert pc.frequency == "1" and len(pc.claim_id) <= 20
    interchanges = [f.interchange for f in outcome.files]
    assert len(set(interchanges)) == len(interchanges)


def test_planted_errors_are_held_back_and_the_rest_billed(sample_run):
    _, _, outcome, _ = sample_run
    held = {e.line_id for e in outcome.assembly.held_back}
    planted = {p.line_id for p in PLANTED_ERRORS}
    assert planted <= held
    assert all(e.reasons for e in outcome.assembly.held_back)  # every held line says why
    billed = {s.line_id for c in outcome.assembly.claims for s in c.lines}
    assert not billed & held
    assert outcome.lines_billed + len(outcome.assembly.held_back) == 1740


def test_annotated_copy_has_claim_ids_status_and_reports(sample_run):
    _, _, outcome, copy = sample_run
    wb = openpyxl.load_workbook(copy)
    ws = wb["Charges"]
    header = [c.value for c in ws[1]]
    claim_col, status_col = header.index("ClaimID") + 1, header.index("Status") + 1
    first = outcome.assembly.claims[0]
    row = first.lines[0].row
    assert ws.cell(row=row, column=claim_col).value == first.claim_id
    assert ws.cell(row=row, column=status_col).value == f"billed {AS_OF.isoformat()}"
    held = outcome.assembly.held_back[0]
    assert ws.cell(row=held.row, column=status_col).value.startswith("held back: ")
    assert wb[CLAIMS_SHEET].max_row == len(outcome.assembly.claims) + 2  # the header, the claims, the totals row
    assert wb[HELD_SHEET].max_row == len(outcome.assembly.held_back) + 1


def test_second_run_bills_nothing_then_rebill_and_corrected(sample_run, tmp_path):
    d, src, first, _ = sample_run
    out, ledger = tmp_path / "out", d / "ledger.sqlite"
    again, _ = run(src, out, ledger)
    assert again.assembly.claims == () and again.files == ()
    assert all(any(r.startswith("already billed") for r in e.reasons) for e in again.assembly.held_back
               if e.line_id not in {p.line_id for p in PLANTED_ERRORS})
    target = first.assembly.claims[0].lines[0].line_id
    rebilled, _ = run(src, out, ledger, rebill=frozenset({target}))
    assert [s.line_id for c in rebilled.assembly.claims for s in c.lines] == [target]
    assert_valid(rebilled.files[0].path)


def test_corrected_claim_frequency_7(tmp_path):
    sheets = contract_sheets(Charges=[CHARGE_HEADER + ["Frequency", "OriginalClaimNumber"],
                                      ["L1", "P001", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 38, 3, "M62.81",
                                       "", "", "", "11", 195.0, "", "", "", "", ""]])
    src = make_workbook(tmp_path / "p.xlsx", sheets)
    ledger = tmp_path / "l.sqlite"
    first, _ = run(src, tmp_path / "o", ledger, as_of=date(2026, 8, 20))
    assert len(first.assembly.claims) == 1
    wb = openpyxl.load_workbook(src)
    wb["Charges"]["U2"], wb["Charges"]["V2"] = "corrected", "ICN-2026-0001"
    wb.save(src)
    corrected, _ = run(src, tmp_path / "o", ledger, as_of=date(2026, 8, 20))
    (claim,) = corrected.assembly.claims
    assert corrected.problems == ()
    assert (claim.frequency, claim.original_claim_number) == ("7", "ICN-2026-0001")
    pc = read_837p(assert_valid(corrected.files[0].path)).claims[0]
    assert (pc.frequency, pc.original_claim_number) == ("7", "ICN-2026-0001")


def _allocate(path: str, n: int, queue) -> None:
    with Ledger(path) as ledger:
        queue.put([ledger.next_numbers()[0] for _ in range(n)])


def test_two_processes_never_share_a_control_number(tmp_path, ledger_at):
    path = ledger_at
    Ledger(path).close()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(path, 150, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    got = queue.get(timeout=120) + queue.get(timeout=120)
    for p in procs:
        p.join(timeout=120)
    assert len(got) == 300 and len(set(got)) == 300 and sorted(got) == list(range(1, 301))


def clean_sheets():
    """Two clean Medicare visits: 97110 38 min = 3 units on 8/3, 97530 25 min = 2 units on 8/4
    ((38 + 7) // 15 = 3, (25 + 7) // 15 = 2; facts §1.2)."""
    return contract_sheets(Charges=[CHARGE_HEADER, claim_row("L1"),
                                    claim_row("L2", dos="8/4/2026", code="97530", minutes=25, units=2)])


def test_dry_run_writes_nothing_and_shows_what_would_be_billed(tmp_path):
    src = make_workbook(tmp_path / "p.xlsx", clean_sheets())
    ledger = tmp_path / "l.sqlite"
    port = FileWorkbook(src)
    dry = create_claims(port, out_dir=tmp_path / "dry", ledger=Ledger(ledger, readonly=True),
                        as_of=date(2026, 8, 20), created=CREATED, dry_run=True)
    assert not (tmp_path / "dry").exists() and not ledger.exists()  # no file, no folder, no ledger
    assert [f.state for f in dry.files] == ["planned"] and dry.lines_billed == 0 and dry.lines_planned == 2
    assert [w["line_ids"] for w in dry.to_dict()["would_bill"]] == [["L1"], ["L2"]]
    real, _ = run(src, tmp_path / "real", ledger, as_of=date(2026, 8, 20))
    assert real.lines_billed == dry.lines_planned == 2
    assert Path(real.files[0].path).name.endswith("-000000001.837")  # the dry run used no control number


def claim_row(line_id, patient="P001", dos="8/3/2026", code="97110", mods=("GO",), minutes=38, units=3,
              dx=("M62.81",), npi="1234567893"):
    m = (*mods, "", "", "", "")[:4]
    d = (*dx, "", "", "", "")[:4]
    return [line_id, patient, dos, npi, code, *m, minutes, units, *d, "11", 65.0 * units, "", "", ""]


def test_special_claims_pass_pyx12(tmp_path):
    """Dependent patient, referring provider, rendering ≠ billing, 12+ diagnoses, 50+ lines, CO/KX/59."""
    ota = "1555555550"
    providers = [["NPI", "LastName", "FirstName", "Credential", "Taxonomy"], ["1234567893", "Rivera", "Ana", "OT", "225X00000X"],
                 [ota, "Lee", "Kim", "OTA", "224Z00000X"]]
    # (PATIENT_ROWS ends with ReferringNPI, ReferringLastName, ReferringFirstName)
    patients = [PATIENT_ROWS[0] + ["AuthNumber", "AuthVisits", "AuthStart", "AuthEnd"],
                PATIENT_ROWS[1][:-3] + ["1333333338", "Ashworth", "Linus", "", None, None, None],
                PATIENT_ROWS[2][:-3] + ["", "", "", "A-77", 90, "8/1/2026", "12/31/2026"]]
    dx = ["M62.81", "R26.89", "M19.041", "S52.501D", "G81.94", "I69.351", "M79.641", "R27.8", "M25.511", "M25.512",
          "M25.521", "M25.522", "M25.531", "M25.532"]
    rows = [CHARGE_HEADER]
    # Dependent (P002, ACME, child) visit with rendering OTA (CO) and 59 on the second code.
    rows.append(claim_row("D1", patient="P002", npi=ota, mods=("GO", "CO")))
    rows.append(claim_row("D2", patient="P002", npi=ota, code="97140", mods=("GO", "CO", "59"), minutes=23, units=2))
    # Medicare patient P001: 56 lines in August (period grouping → split at 50) with 14 diagnoses (→ split at 12).
    for i in range(56):
        day = 3 + (i // 4) * 1
        rows.append(claim_row(f"M{i:02d}", dos=f"8/{day}/2026", code=("97110", "97112", "97530", "97535")[i % 4],
                              mods=("GO", "KX") if i % 5 == 0 else ("GO",), minutes=15, units=1,
                              dx=(dx[i % len(dx)],)))
    # ACME credentials assistants: the OTA renders on its claims (AssistantsBill = self, facts §7a).
    payers = [[*PAYER_ROWS[0], "AssistantsBill"], [*PAYER_ROWS[1], ""], [*PAYER_ROWS[2], "self"]]
    sheets = contract_sheets(Providers=providers, Patients=patients, Payers=payers, Charges=rows)
    src = make_workbook(tmp_path / "special.xlsx", sheets)
    outcome, _ = run(src, tmp_path / "o", tmp_path / "l.sqlite", as_of=date(2026, 9, 1), group="period")
    held = {e.line_id: e.reasons for e in outcome.assembly.held_back}
    assert not held, held
    medicare = [c for c in outcome.assembly.claims if c.payer.payer_key == "MCR"]
    assert all(len(c.lines) <= 50 and len(c.diagnoses) <= 12 for c in medicare)
    assert sum(len(c.lines) for c in medicare) == 56 and len(medicare) >= 2
    dependent = next(c for c in outcome.assembly.claims if c.payer.payer_key == "ACME")
    assert dependent.is_dependent and dependent.rendering.npi == ota and dependent.prior_auth == "A-77"
    assert next(c for c in medicare).referring.npi == "1333333338"
    for f in outcome.files:
        text = assert_valid(f.path)
        if f.payer_key == "ACME":
            assert "HL*3*2*23*0" in text and "PAT*19" in text and "NM1*82*1*LEE*KIM" in text and "REF*G1*A-77" in text
            assert "HC:97140:GO:CO:59" in text
        else:
            assert "NM1*DN*1*ASHWORTH*LINUS****XX*1333333338" in text and "HC:97110:GO:KX" in text


def test_claims_cli_json(tmp_path):
    src = make_workbook(tmp_path / "p.xlsx", clean_sheets())
    result = runner.invoke(app, ["claims", str(src), "--out", str(tmp_path / "o"), "--json", "--as-of", "2026-08-20",
                                 "--ledger", str(tmp_path / "l.sqlite")])
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    # Two visits → two claims: 3 × $65.00 + 2 × $65.00 = $325.00.
    assert data["claims"] == 2 and data["lines_billed"] == 2 and data["lines_held_back"] == []
    assert data["totals_by_payer"]["MCR"]["charges"] == f"{Decimal('65.00') * 5:.2f}"
    assert Path(data["files"][0]["path"]).name.endswith("-MCR-000000001.837")


def test_create_claims_ribbon_action_headless(tmp_path):
    """The ribbon action through the file adapter: files beside the workbook, ClaimID/Status filled."""
    from otbill_xl.excel.macros import create_claims_action

    src = make_workbook(tmp_path / "p.xlsx", clean_sheets())
    port = FileWorkbook(src)
    outcome = create_claims_action(port, tmp_path, tmp_path / ".otbill" / "ledger.sqlite", date(2026, 8, 20), CREATED)
    port.save(str(tmp_path / "after.xlsx"))
    assert [Path(f.path).parent for f in outcome.files] == [tmp_path]
    assert_valid(outcome.files[0].path)
    ws = openpyxl.load_workbook(tmp_path / "after.xlsx")["Charges"]
    assert ws["R2"].value == outcome.assembly.claims[0].claim_id and ws["S2"].value == "billed 2026-08-20"


def test_ledger_rechecks_lines_inside_the_recording_transaction(tmp_path, ledger_at):
    """Two runs that both saw a line as unbilled: the second to record it is refused (and its file
    is not renamed into place), unless the line is being re-billed on purpose."""
    from otbill_xl.ledger import ClaimRecord, LineRecord
    from otbill_xl.ledger.store import AlreadyBilled

    renamed = []
    line = LineRecord("L1", "L1|P001|2026-08-03", "1234567893|P001|2026-08-03|97110|GO|1234567893|1", "", "97110",
                      "GO", "1")
    claims = [ClaimRecord("OTAAAA", "P001", "1", "", Decimal("65.00"), [line])]
    with Ledger(ledger_at) as lg:
        lg.record_file(path="a.837", sha256="x", practice="1234567893", payer_key="MCR", numbers=lg.next_numbers(),
                       claims=claims, total=Decimal("65.00"), created=CREATED, then=lambda: renamed.append("a"))
        with pytest.raises(AlreadyBilled, match="line L1 was billed by another run"):
            lg.record_file(path="b.837", sha256="y", practice="1234567893", payer_key="MCR",
                           numbers=lg.next_numbers(), claims=claims, total=Decimal("65.00"), created=CREATED,
                           then=lambda: renamed.append("b"))
        lg.record_file(path="c.837", sha256="z", practice="1234567893", payer_key="MCR", numbers=lg.next_numbers(),
                       claims=claims, total=Decimal("65.00"), created=CREATED,
                       may_rebill=frozenset({"L1|P001|2026-08-03"}), then=lambda: renamed.append("c"))
        assert renamed == ["a", "c"] and [f["path"] for f in lg.files()] == ["a.837", "c.837"]
