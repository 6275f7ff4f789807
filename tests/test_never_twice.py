"""Issue #8 — never bill twice, never bill the wrong patient.

Each test here failed on the code before the issue: a ledger per submitter found by default, the file
and the ledger agreeing whatever fails (a crash at every step of the two-phase recording), services
identified by what they are (not only by LineID), duplicate and unsendable patient records, dry runs
that write nothing submittable, and re-runs that never erase earlier results.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, PRACTICE_ROWS, contract_sheets, make_workbook
from typer.testing import CliRunner
from x12util import pyx12_validate

from otbill_xl.actions import claims as claims_action
from otbill_xl.actions.batch import run_batch
from otbill_xl.actions.claims import create_claims
from otbill_xl.cli import app
from otbill_xl.formats.x12 import read_837p
from otbill_xl.ledger import Ledger, LedgerChoice
from otbill_xl.ledger.location import submitter_ledger_path
from otbill_xl.workbook.files import FileWorkbook

runner = CliRunner()
AS_OF = "2026-08-20"
DAY = date(2026, 8, 20)
CREATED = datetime(2026, 8, 20, 9, 0)
SUBMITTER = "HHOT01"  # conftest's Practice sheet: SubmitterID (ISA06 when no InterchangeSenderID)


def line(line_id, patient="P001", dos="8/3/2026", code="97110", mods=("GO",), minutes=38, units=3, freq="",
         original=""):
    """A Charges row with Frequency/OriginalClaimNumber; charge $65.00 a unit."""
    m = (*mods, "", "", "", "")[:4]
    return [line_id, patient, dos, "1234567893", code, *m, minutes, units, "M62.81", "", "", "", "11",
            65.0 * units, "", "", "", freq, original]


HEADER = CHARGE_HEADER + ["Frequency", "OriginalClaimNumber"]


def book(path: Path, rows, **sheets) -> Path:
    return make_workbook(path, contract_sheets(Charges=[HEADER, *rows], **sheets))


def two_payer_rows():
    """P001 (Medicare, self) 97110 ×3 on 8/3 and 97530 ×2 on 8/4; P002 (ACME, child) 97110 ×3 on 8/3
    — two payers, so two files (8-minute rule: (38 + 7) // 15 = 3, (25 + 7) // 15 = 2; facts §1.2)."""
    return [line("L1"), line("L2", dos="8/4/2026", code="97530", minutes=25, units=2), line("L3", patient="P002")]


def acme_patients():
    """P002 (a child on ACME) needs the payer's auth in conftest's Payers sheet: give one."""
    rows = [list(r) for r in PATIENT_ROWS]
    rows[0] += ["AuthNumber", "AuthStart", "AuthEnd", "AuthVisits"]
    rows[1] += ["", None, None, None]
    rows[2] += ["A-77", "8/1/2026", "12/31/2026", 20]
    return rows


def claims_cli(*args: str):
    return runner.invoke(app, ["claims", *args, "--as-of", AS_OF, "--json"])


def sv1_lines(folder: Path) -> list[tuple[str, str, str]]:
    """(ClaimID, code, date) of every service line in every 837P file in ``folder``."""
    out = []
    for f in sorted(folder.glob("*.837")):
        for c in read_837p(f.read_text()).claims:
            out += [(c.claim_id, ln.code, str(ln.dos)) for ln in c.lines]
    return out


# -- 1. One ledger per submitter, found by default ---------------------------------------------------


def test_default_ledger_is_the_submitters_whatever_the_output_folder(tmp_path):
    src = book(tmp_path / "p.xlsx", [line("L1"), line("L2", dos="8/4/2026", code="97530", minutes=25, units=2)])
    first = claims_cli(str(src), "--out", str(tmp_path / "oct"))
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["lines_billed"] == 2
    assert data["ledger"] == str(submitter_ledger_path(SUBMITTER))
    assert Path(data["ledger"]).parent == Path(os.environ["XDG_DATA_HOME"]) / "otbill" / "ledgers"
    second = claims_cli(str(src), "--out", str(tmp_path / "nov"))
    again = json.loads(second.stdout)
    assert again["lines_billed"] == 0 and again["files"] == []  # nothing billed twice in another folder
    assert all(r["reasons"][0].startswith("already billed") for r in again["lines_held_back"])
    # A new service later gets the next interchange number, not 1 again.
    src2 = book(tmp_path / "p2.xlsx", [line("L9", dos="8/10/2026")])
    third = json.loads(claims_cli(str(src2), "--out", str(tmp_path / "dec")).stdout)
    assert [f["interchange"] for f in third["files"]] == [2]
    assert Path(third["files"][0]["path"]).name.endswith("-000000002.837")


def test_practice_setting_then_environment_choose_the_ledger(tmp_path, monkeypatch):
    from otbill_xl import read_practice

    practice = read_practice(book(tmp_path / "p.xlsx", [line("L1")]))[0].practice
    monkeypatch.setenv("OTBILL_LEDGER", str(tmp_path / "env.sqlite"))
    assert LedgerChoice(None, tmp_path).locate(practice).path == tmp_path / "env.sqlite"
    with_setting = book(tmp_path / "q.xlsx", [line("L1")],
                        Practice=[*PRACTICE_ROWS, ["LedgerPath", str(tmp_path / "practice.sqlite")]])
    practice = read_practice(with_setting)[0].practice
    loc = LedgerChoice(None, tmp_path).locate(practice)
    assert (loc.path, loc.how) == (tmp_path / "practice.sqlite", "practice")
    assert LedgerChoice(tmp_path / "opt.sqlite", tmp_path).locate(practice).path == tmp_path / "opt.sqlite"


def test_ledger_at_the_old_location_is_honoured_and_merged(tmp_path):
    src = book(tmp_path / "p.xlsx", [line("L1"), line("L2", dos="8/4/2026", code="97530", minutes=25, units=2)])
    out = tmp_path / "oct"
    legacy = out / ".otbill" / "ledger.sqlite"
    old = claims_cli(str(src), "--out", str(out), "--ledger", str(legacy))  # as the old default did
    assert json.loads(old.stdout)["lines_billed"] == 2
    again = claims_cli(str(src), "--out", str(out))  # default now: the submitter's ledger
    data = json.loads(again.stdout)
    assert data["lines_billed"] == 0 and data["ledger"] == str(submitter_ledger_path(SUBMITTER))
    assert any("old location" in n and str(submitter_ledger_path(SUBMITTER)) in n for n in data["notes"])
    src2 = book(tmp_path / "p2.xlsx", [line("L9", dos="8/10/2026")])
    nxt = json.loads(claims_cli(str(src2), "--out", str(out)).stdout)
    assert [f["interchange"] for f in nxt["files"]] == [2]  # past the old ledger's numbers
    # Merged once: a further run adds no note and no lines.
    assert json.loads(claims_cli(str(src), "--out", str(out)).stdout)["notes"] == []


@pytest.mark.parametrize("content", [b"", b"this is not a database, just text\n" * 20])
def test_empty_or_damaged_ledger_is_an_error_never_a_new_ledger(tmp_path, content):
    src = book(tmp_path / "p.xlsx", [line("L1")])
    bad = tmp_path / "ledger.sqlite"
    bad.write_bytes(content)
    result = runner.invoke(app, ["claims", str(src), "--out", str(tmp_path / "o"), "--ledger", str(bad),
                                 "--as-of", AS_OF])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"the ledger at {bad} is empty or damaged" in message and "otbill ledger check" in message
    assert bad.read_bytes() == content and not list((tmp_path / "o").glob("*.837"))
    check = runner.invoke(app, ["ledger", "check", "--ledger", str(bad)])
    assert check.exit_code == 2 and "backup" in check.output


def test_ledger_where_show_check(tmp_path):
    src = book(tmp_path / "p.xlsx", two_payer_rows(), Patients=acme_patients())
    assert claims_cli(str(src), "--out", str(tmp_path / "o")).exit_code == 0
    where = json.loads(runner.invoke(app, ["ledger", "where", str(src), "--json"]).stdout)
    assert where == {"path": str(submitter_ledger_path(SUBMITTER)), "how": "submitter", "exists": True,
                     "legacy": None}
    show = json.loads(runner.invoke(app, ["ledger", "show", str(src), "--json"]).stdout)
    assert show["practices"] == ["1234567893"] and show["claims"] == 3 and show["lines_billed"] == 3
    assert {p["payer"]: p["lines"] for p in show["payers"]} == {"ACME": 1, "MCR": 2}
    assert show["control_numbers"] == {"interchange": 2, "group": 2, "transaction": 2}
    import hashlib

    for f in show["files"]:
        assert hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest() == f["sha256"] and f["state"] == "written"
    ok = runner.invoke(app, ["ledger", "check", str(src), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    Path(show["files"][0]["path"]).write_text("edited\n")  # a file changed after billing
    bad = runner.invoke(app, ["ledger", "check", str(src), "--json"])
    assert bad.exit_code == 1 and "content differs" in json.loads(bad.stdout)["problems"][0]


# -- 2. The file and the ledger agree, whatever fails -----------------------------------------------------


def _crash_run(src: str, out: str, ledger: str, step: str) -> None:
    """In a child process: bill, and die (no clean-up, like kill -9) at ``step`` of the first file."""
    def die(name: str) -> None:
        if name == step:
            os._exit(137)

    claims_action._step = die
    port = FileWorkbook(src)
    with Ledger(ledger) as lg:
        create_claims(port, out_dir=Path(out), ledger=lg, as_of=DAY, created=CREATED)
    os._exit(0)


@pytest.mark.parametrize("step", ["reserved", "part-written", "renamed", "marked"])
def test_a_crash_at_any_step_leaves_every_service_billed_exactly_once(tmp_path, step, ledger_at):
    src = book(tmp_path / "p.xlsx", two_payer_rows(), Patients=acme_patients())
    out, ledger = tmp_path / "out", ledger_at
    child = multiprocessing.get_context("fork").Process(target=_crash_run, args=(str(src), str(out), str(ledger), step))
    child.start()
    child.join(60)
    assert child.exitcode == 137  # it really died at that step
    # The next run settles what the crash left, then bills the rest; a third run bills nothing.
    port = FileWorkbook(src)
    with Ledger(ledger) as lg:
        second = create_claims(port, out_dir=out, ledger=lg, as_of=DAY, created=CREATED)
    with Ledger(ledger) as lg:
        third = create_claims(FileWorkbook(src), out_dir=out, ledger=lg, as_of=DAY, created=CREATED)
        files = lg.files(("written", "pending", "mismatch", "released"))
    assert third.lines_billed == 0
    billed = sv1_lines(out)
    assert sorted(c for _, c, _ in billed) == ["97110", "97110", "97530"]  # each service once, none lost
    assert len(billed) == len(set(billed))
    on_disk = {str(p.resolve()) for p in out.glob("*.837")}
    assert {f["path"] for f in files if f["state"] == "written"} == on_disk  # the ledger knows every file
    assert not [f for f in files if f["state"] == "pending"]
    assert not list(out.glob(".*.part"))  # the partial file (patient data) is gone
    released = [f for f in files if f["state"] == "released"]
    if step in ("reserved", "part-written"):
        assert len(released) == 1 and any(r.outcome == "released" for r in second.resolutions)
    elif step == "renamed":  # in place but not yet marked: the next start finds it with its hash
        assert released == [] and [r.outcome for r in second.resolutions] == ["written"]
    else:
        assert released == [] and second.resolutions == ()
    for f in out.glob("*.837"):
        ok, errors = pyx12_validate(f.read_text())
        assert ok, errors[:5]


def test_a_run_that_loses_a_race_bills_what_is_left_and_holds_back_what_the_other_run_billed(tmp_path, monkeypatch,
                                                                                              ledger_at):
    """Two billers at the same time (issue #16 §1): run A reads the ledger (nothing billed), then run B bills
    two of A's three lines before A records its file. A's recording transaction finds them billed
    (AlreadyBilled: nothing recorded, no file). A then reads the ledger again and bills the one line left,
    holding back the other two as already billed — instead of stopping with "run again". Each line is in
    exactly one 837P file, and the control numbers are all different."""
    mine = book(tmp_path / "a.xlsx", [line("L1"), line("L2", dos="8/4/2026"), line("L3", dos="8/5/2026")])
    theirs = book(tmp_path / "b.xlsx", [line("L2", dos="8/4/2026"), line("L3", dos="8/5/2026")])
    out_a, out_b = tmp_path / "out-a", tmp_path / "out-b"
    real_next = Ledger.next_numbers
    calls = []

    def next_numbers(self):  # the moment between A's read of the ledger and its recording: B runs
        calls.append(1)
        if len(calls) == 1:
            with Ledger(ledger_at) as other:
                b = create_claims(FileWorkbook(theirs), out_dir=out_b, ledger=other, as_of=DAY, created=CREATED)
            assert b.lines_billed == 2
        return real_next(self)

    monkeypatch.setattr(Ledger, "next_numbers", next_numbers)
    with Ledger(ledger_at) as lg:
        a = create_claims(FileWorkbook(mine), out_dir=out_a, ledger=lg, as_of=DAY, created=CREATED)
    assert a.problems == () and a.lines_billed == 1 and len(a.files) == 1
    assert [c.lines[0].line_id for c in a.billed_claims] == ["L1"]
    held = {h.line_id: h.reasons for h in a.assembly.held_back}
    assert set(held) == {"L2", "L3"} and all(r[0].startswith("already billed") for r in held.values()), held
    assert any("billed by another run while this one prepared" in n for n in a.notes)
    assert sv1_lines(out_a) == [(a.billed_claims[0].claim_id, "97110", "2026-08-03")]
    assert sorted(d for _, _, d in sv1_lines(out_a) + sv1_lines(out_b)) == ["2026-08-03", "2026-08-04", "2026-08-05"]
    isa13 = [f.read_text()[90:99] for f in [*out_a.glob("*.837"), *out_b.glob("*.837")]]
    assert len(isa13) == 2 == len(set(isa13))
    with Ledger(ledger_at) as lg:  # the ledger agrees: three lines, once each, in written files
        again = create_claims(FileWorkbook(mine), out_dir=tmp_path / "out-c", ledger=lg, as_of=DAY, created=CREATED,
                              dry_run=True)
    assert again.lines_planned == 0 and len(again.assembly.held_back) == 3


def _clean_up_first(monkeypatch, folder: Path, suffix: str) -> list[int]:
    """Another run's start-up clean-up of stray ``.part`` files in ``folder`` gets in first: it runs in the
    instant between the creation of a ``*<suffix>`` temporary file and this process's lock on it (the first
    time only). Returns how many files each clean-up deleted."""
    import fcntl

    real, done, busy = fcntl.flock, [], []

    def flock(fd, operation):
        if not busy and os.readlink(f"/proc/self/fd/{fd}").endswith(suffix):
            busy.append(1)
            done.append(claims_action.remove_stray_parts(folder))
        return real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    return done


def test_a_claim_file_another_runs_clean_up_took_before_its_lock_is_made_again(tmp_path, monkeypatch):
    """Found under load (issue #16): two runs writing into one folder — the second run's start-up clean-up
    of stray ``.part`` files took the first run's brand-new ``.part`` in the instant between its creation
    and its lock, and deleted it; the first run's rename then failed ("No such file or directory") and its
    line went unbilled. The clean-up now deletes only while it holds the lock, and the writer checks, once
    locked, that its file is still there, making it again if not: the line is billed, once."""
    out = tmp_path / "out"
    out.mkdir()
    cleaned = _clean_up_first(monkeypatch, out, ".837.part")
    with Ledger(tmp_path / "l.sqlite") as lg:
        got = create_claims(FileWorkbook(book(tmp_path / "p.xlsx", [line("L1")])), out_dir=out, ledger=lg, as_of=DAY,
                            created=CREATED)
    assert cleaned == [1]  # the clean-up did delete the writer's first .part
    assert got.problems == () and got.lines_billed == 1 and len(got.files) == 1, got.problems
    assert [(c, d) for _, c, d in sv1_lines(out)] == [("97110", "2026-08-03")]
    assert not list(out.glob(".*.part"))


def test_an_annotated_copy_keeps_its_temporary_file_from_another_runs_clean_up(tmp_path, monkeypatch):
    """The same for every output written through a temporary ``.part`` (annotated copies, reports): a
    clean-up that gets in before the lock, and another while the file is being written, never take it."""
    from otbill_xl.workbook.files import atomic_save

    cleaned = _clean_up_first(monkeypatch, tmp_path, ".xlsx.part")

    def write(tmp):
        Path(tmp).write_bytes(b"annotated copy")
        cleaned.append(claims_action.remove_stray_parts(tmp_path))  # another run starts meanwhile

    atomic_save(write, tmp_path / "copy.xlsx")
    assert (tmp_path / "copy.xlsx").read_bytes() == b"annotated copy"
    assert cleaned == [1, 0]  # the first temporary file was taken; the one written was left alone
    assert not list(tmp_path.glob(".*.part"))


def test_a_pending_file_another_run_is_writing_is_left_alone(tmp_path, ledger_at):
    """Resolution never releases a file whose writer still holds its lock (a concurrent run)."""
    from otbill_xl._locks import try_lock
    from otbill_xl.ledger import ClaimRecord, LineRecord

    part = tmp_path / ".x.837.part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT)
    assert try_lock(fd)
    rec = [ClaimRecord("OTA", "P001", "1", "", Decimal("65.00"), [LineRecord("L1", "k", "s", "", "97110", "GO", "1")])]
    with Ledger(ledger_at) as lg:
        lg.reserve_file(path=str(tmp_path / "x.837"), part_path=str(part), sha256="0", practice="P", payer_key="MCR",
                        numbers=(1, 1, 1), claims=rec, total=Decimal("65.00"), created=CREATED)
        assert [r.outcome for r in lg.resolve_pending()] == ["in-progress"]
        assert lg.history("P", line_keys=["k"], service_keys=[], sending_keys=[]).by_line  # still billed
    os.close(fd)  # the writer "dies": its lock is gone
    with Ledger(ledger_at) as lg:
        assert [r.outcome for r in lg.resolve_pending()] == ["released"]
        assert not lg.history("P", line_keys=["k"], service_keys=[], sending_keys=[]).by_line
    assert not part.exists()


def test_stray_part_files_are_removed_unless_in_use(tmp_path):
    from otbill_xl._locks import try_lock

    out = tmp_path / "out"
    out.mkdir()
    stray = out / ".Harbor-MCR-000000009.837.part"
    stray.write_text("ISA*partial claim data")
    busy = out / ".copy.xlsx.abc.part"
    busy.write_text("being written")
    fd = os.open(busy, os.O_RDONLY)
    assert try_lock(fd)
    src = book(tmp_path / "p.xlsx", [line("L1")])
    result = json.loads(claims_cli(str(src), "--out", str(out), "--ledger", str(tmp_path / "l.sqlite")).stdout)
    os.close(fd)
    assert not stray.exists() and busy.exists()
    assert any("partial file" in n for n in result["notes"])


def test_lines_billed_counts_only_files_written(tmp_path, ledger_at):
    src = book(tmp_path / "p.xlsx", two_payer_rows(), Patients=acme_patients())
    out = tmp_path / "o"
    out.mkdir()
    # ACME sorts first and gets interchange 1: a file already at that name is never overwritten.
    (out / "Harbor-Hand-OT-ACME-000000001.837").write_text("someone else's file")
    result = claims_cli(str(src), "--out", str(out), "--ledger", ledger_at)
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and "already exists" in data["problems"][0]
    assert data["lines_billed"] == 2 and data["claims"] == 2  # the MCR file only: 97110 + 97530
    assert [f["payer"] for f in data["files"]] == ["MCR"]
    with Ledger(ledger_at) as lg:
        assert lg.summary()["lines_billed"] == 2


def _patch_xml(path: Path, old: str, new: str) -> None:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data.replace(old.encode(), new.encode()))


def test_claims_never_crashes_after_billing(tmp_path, monkeypatch):
    """A control character in a LineID, and a failure while annotating: the billing stands, the
    annotated copy and the summary say what was billed."""
    src = book(tmp_path / "p.xlsx", [line("LQQA"), line("L2", dos="8/4/2026", code="97530", minutes=25, units=2)])
    _patch_xml(src, "LQQA", "L_x0001_A")  # Excel's escape for a control character in a cell
    result = claims_cli(str(src), "--out", str(tmp_path / "o"), "--ledger", str(tmp_path / "l.sqlite"))
    data = json.loads(result.stdout)
    assert data["lines_billed"] == 2 and data["annotated"] and Path(data["annotated"]).exists()
    wb = openpyxl.load_workbook(data["annotated"])
    claims_ws = wb["Claims"]  # the claims, then the table's totals row
    assert [r[4].value for r in claims_ws.iter_rows(min_row=2, max_row=claims_ws.max_row - 1)] == ["L?A", "L2"]

    from otbill_xl.workbook.files import FileWorkbook as FW

    def broken(self, *a, **k):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(FW, "replace_sheet", broken)
    src2 = book(tmp_path / "p2.xlsx", [line("L7", dos="8/11/2026")])
    result = claims_cli(str(src2), "--out", str(tmp_path / "o"), "--ledger", str(tmp_path / "l.sqlite"))
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["lines_billed"] == 1
    assert "1 lines were billed in Harbor-Hand-OT-MCR-000000002.837" in data["problems"][0]


# -- 3. A service is identified by what it is -------------------------------------------------------------


def _bill(src: Path, tmp_path: Path, out="o", ledger: str | None = None, **kw):
    with Ledger(ledger or tmp_path / "l.sqlite") as lg:
        return create_claims(FileWorkbook(src), out_dir=tmp_path / out, ledger=lg, as_of=DAY, created=CREATED, **kw)


def test_renumbered_lines_are_held_as_probable_duplicates(tmp_path, ledger_at):
    first = _bill(book(tmp_path / "a.xlsx", [line("L1"), line("L2", dos="8/4/2026")]), tmp_path, ledger=ledger_at)
    assert first.lines_billed == 2
    renumbered = _bill(book(tmp_path / "b.xlsx", [line("X10"), line("X11", dos="8/4/2026")]), tmp_path,
                       ledger=ledger_at)
    assert renumbered.lines_billed == 0 and renumbered.files == ()
    by_line = {e.line_id: e.reasons[0] for e in renumbered.assembly.held_back}
    claim_of = {s.line_id: c.claim_id for c in first.assembly.claims for s in c.lines}
    assert by_line["X10"].startswith("probable duplicate") and claim_of["L1"] in by_line["X10"]
    assert "LineID L1" in by_line["X10"] and "--rebill X10" in by_line["X10"]
    # A separate service on purpose: --rebill bills it.
    again = _bill(book(tmp_path / "b.xlsx", [line("X10"), line("X11", dos="8/4/2026")]), tmp_path,
                  ledger=ledger_at, rebill=frozenset({"X10"}))
    assert [s.line_id for c in again.billed_claims for s in c.lines] == ["X10"]


def test_a_changed_line_needs_a_corrected_claim(tmp_path):
    first = _bill(book(tmp_path / "a.xlsx", [line("L1")]), tmp_path)
    (claim_id,) = [c.claim_id for c in first.assembly.claims]
    changed = _bill(book(tmp_path / "a.xlsx", [line("L1", code="97112")]), tmp_path)
    assert changed.lines_billed == 0
    (held,) = changed.assembly.held_back
    reason = held.reasons[0]
    assert reason.startswith(f"changed since it was billed in claim {claim_id}")
    assert "billed as 97110-GO ×3, now 97112-GO ×3" in reason and "Frequency to 7" in reason
    assert changed.prior[held.row].kind == "changed"


def test_corrected_and_void_claims_are_sent_once_per_change(tmp_path, ledger_at):
    _bill(book(tmp_path / "a.xlsx", [line("L1")]), tmp_path, ledger=ledger_at)
    corrected = book(tmp_path / "a.xlsx", [line("L1", units=2, minutes=30, freq="7", original="ICN-1")])
    sent = _bill(corrected, tmp_path, ledger=ledger_at)
    assert [(c.frequency, c.original_claim_number) for c in sent.billed_claims] == [("7", "ICN-1")]
    rerun = _bill(corrected, tmp_path, ledger=ledger_at)
    assert rerun.lines_billed == 0 and rerun.assembly.held_back[0].reasons[0].startswith(
        "this corrected claim line was already sent")
    changed_again = _bill(book(tmp_path / "a.xlsx", [line("L1", units=1, minutes=15, freq="7", original="ICN-1")]),
                          tmp_path, ledger=ledger_at)
    assert changed_again.lines_billed == 1  # a new change: one more correction
    void = book(tmp_path / "a.xlsx", [line("L1", units=1, minutes=15, freq="8", original="ICN-1")])
    assert _bill(void, tmp_path, ledger=ledger_at).lines_billed == 1
    assert _bill(void, tmp_path, ledger=ledger_at).lines_billed == 0


# -- 4. Never the wrong patient ----------------------------------------------------------------------------


def test_duplicate_patient_ids_are_errors_on_both_rows_and_hold_their_lines(tmp_path):
    patients = acme_patients()
    twin = list(patients[2])
    twin[0] = "P001"  # a child dependent typed with P001's ID
    patients.append(twin)
    src = book(tmp_path / "p.xlsx", [line("L1"), line("L3", patient="P002")], Patients=patients)
    from otbill_xl.actions.check import check_charges

    checked = check_charges(FileWorkbook(src), as_of=DAY)
    dup = sorted(f.location.cell for f in checked.findings if f.rule == "ref.patient-duplicate")
    assert dup == ["A2", "A4"]  # the PatientID cells of both rows
    outcome = _bill(src, tmp_path)
    assert [s.line_id for c in outcome.billed_claims for s in c.lines] == ["L3"]
    (held,) = outcome.assembly.held_back
    assert held.line_id == "L1" and "ref.patient-duplicate" in held.reasons[0]


def test_an_unsendable_patient_record_holds_only_that_patients_lines(tmp_path):
    patients = [list(r) for r in PATIENT_ROWS]
    patients.append(["P003", "§§", "Al", "1/2/1950", "M", "MCR", "1EG4TE5MK74", "self", "", "", "8/1/2026",
                     "10/29/2026", "5 Pine St", "Boston", "MA", "02134"])
    patients.append(["P004", "Lee", "Bo", "1/2/1951", "F", "MCR", "1EG4~TE5MK7", "self", "", "", "8/1/2026",
                     "10/29/2026", "6 Pine St", "Boston", "MA", "02134"])
    rows = [line("L1"), line("L5", patient="P003"), line("L6", patient="P004")]
    src = book(tmp_path / "p.xlsx", rows, Patients=patients)
    from otbill_xl.actions.check import check_charges

    checked = check_charges(FileWorkbook(src), as_of=DAY)
    cells = sorted(f.location.cell for f in checked.findings if f.rule == "ref.patient-unsendable")
    assert cells == ["B4", "G5"]  # P003's LastName, P004's MemberID
    assert all("1EG4~TE5MK7" not in f.message for f in checked.findings)  # no member ID echoed
    outcome = _bill(src, tmp_path)
    assert [s.line_id for c in outcome.billed_claims for s in c.lines] == ["L1"]  # same payer, still billed
    assert sorted(e.line_id for e in outcome.assembly.held_back) == ["L5", "L6"]


def test_a_record_check_flags_holds_that_patient_not_the_payers_file(tmp_path):
    """A patient record the claim cannot carry (a State that is no USPS code) is a `check` finding on the
    Patients row since issue #12: that patient's line is held back with it, the payer's other claims
    are billed."""
    patients = [list(r) for r in PATIENT_ROWS]
    patients.append(["P005", "Fox", "Al", "1/2/1950", "M", "MCR", "1EG4TE5MK75", "self", "", "", "8/1/2026",
                     "10/29/2026", "5 Elm St", "Boston", "Mass", "02134", "1333333338", "Reyes", "Lena"])
    src = book(tmp_path / "p.xlsx", [line("L1"), line("L8", patient="P005")], Patients=patients)
    outcome = _bill(src, tmp_path)
    assert [s.line_id for c in outcome.billed_claims for s in c.lines] == ["L1"]
    (held,) = outcome.assembly.held_back
    assert held.line_id == "L8" and "ref.patient-address-missing" in held.reasons[0]
    assert "Fox" not in held.reasons[0]


def test_a_writer_refusal_holds_that_claim_not_the_payers_file():
    """What `check` cannot foresee and the 837P writer refuses holds back that claim with the writer's
    reason (in the workbook's terms); the payer's other claims are kept for the file."""
    from test_x12_837 import ADULT, CLEAN, CREATED, PRACTICE

    from otbill_xl.actions.claims import _writable

    bad = CLEAN._replace(claim_id="C2", patient=ADULT.model_copy(update={"state": "Mass", "row": 9}))
    good, refused = _writable([CLEAN, bad], PRACTICE, CREATED)
    assert good == [CLEAN] and [c.claim_id for c, _why in refused] == ["C2"]
    assert "N402" in refused[0][1]  # the writer's reason, before it is put in the workbook's terms


# -- 5. Dry runs and re-runs -------------------------------------------------------------------------------


def test_dry_run_cli_writes_nothing_and_preview_writes_test_files_only(tmp_path):
    src = book(tmp_path / "p.xlsx", [line("L1"), line("L2", dos="8/4/2026", code="97530", minutes=25, units=2)])
    out = tmp_path / "o"
    dry = claims_cli(str(src), "--out", str(out), "--dry-run")
    assert dry.exit_code == 0
    data = json.loads(dry.stdout)
    assert data["dry_run"] and data["lines_billed"] == 0 and data["annotated"] is None
    assert [w["line_ids"] for w in data["would_bill"]] == [["L1"], ["L2"]]
    assert not out.exists() and not submitter_ledger_path(SUBMITTER).exists()
    preview = json.loads(claims_cli(str(src), "--out", str(out), "--preview").stdout)
    (pf,) = preview["files"]
    assert pf["state"] == "preview" and pf["path"].endswith(".837.preview") and "PREVIEW" in pf["path"]
    text = Path(pf["path"]).read_text()
    assert text.split("*")[15] == "T"  # ISA15: test data
    assert not list(out.glob("*.837")) and not submitter_ledger_path(SUBMITTER).exists()
    real = json.loads(claims_cli(str(src), "--out", str(out)).stdout)
    assert real["lines_billed"] == 2 and Path(real["files"][0]["path"]).name.endswith("-000000001.837")


def test_annotated_copy_shows_every_billed_line_and_every_claim_with_its_run(tmp_path, ledger_at):
    src = book(tmp_path / "p.xlsx", [line("L1")])
    out = tmp_path / "o"
    ledger = ledger_at
    first = runner.invoke(app, ["claims", str(src), "--out", str(out), "--ledger", ledger, "--as-of", AS_OF, "--json"])
    first_copy = json.loads(first.stdout)["annotated"]
    grown = book(tmp_path / "p.xlsx", [line("L1"), line("L2", dos="8/4/2026")])
    second = json.loads(runner.invoke(app, ["claims", str(grown), "--out", str(out), "--ledger", ledger, "--as-of",
                                            AS_OF, "--json"]).stdout)
    second_copy = second["annotated"]
    assert first_copy != second_copy and Path(first_copy).exists()  # a re-run never replaces a copy
    assert Path(second_copy).name.startswith("p.claims-")
    wb = openpyxl.load_workbook(second_copy)
    ws = wb["Charges"]
    header = [c.value for c in ws[1]]
    cid, status = header.index("ClaimID"), header.index("Status")
    rows = {r[0].value: (r[cid].value, r[status].value) for r in ws.iter_rows(min_row=2)}
    with Ledger(ledger) as lg:
        claims = {c["line_ids"]: c for c in lg.claims_for("1234567893", ["L1|P001|2026-08-03",
                                                                          "L2|P001|2026-08-04"], [])}
    assert rows["L1"] == (claims["L1"]["claim_id"], "billed " + claims["L1"]["created"][:10])
    assert rows["L2"][0] == claims["L2"]["claim_id"] and rows["L2"][1].startswith("billed")
    claims_ws = wb["Claims"]  # the claims, then the table's totals row
    assert claims_ws.cell(claims_ws.max_row, 1).value == "Total"
    listed = [[c.value for c in r] for r in claims_ws.iter_rows(min_row=2, max_row=claims_ws.max_row - 1)]
    assert sorted(r[0] for r in listed) == sorted([claims["L1"]["claim_id"], claims["L2"]["claim_id"]])
    assert all(r[8] and r[10] == "written" for r in listed)  # the run each came from, the file's state


def test_batch_converts_identical_inputs_once(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    a = book(inputs / "a.xlsx", [line("L1")])
    (inputs / "copy-of-a.xlsx").write_bytes(a.read_bytes())
    result = run_batch([str(inputs)], tmp_path / "out", workers=2, as_of=DAY, created=CREATED)
    outcomes = {Path(r.path).name: r for r in result.results}
    assert outcomes["a.xlsx"].outcome == "converted" and outcomes["a.xlsx"].lines_billed == 1
    assert outcomes["copy-of-a.xlsx"].outcome == "duplicate" and "a.xlsx" in outcomes["copy-of-a.xlsx"].message
    assert len(list((tmp_path / "out").glob("*.837"))) == 1


def test_schema_1_ledgers_are_migrated_and_still_hold_their_lines(tmp_path):
    """A ledger written before service identities: its lines stay billed (by LineID, patient, date
    and code)."""
    from otbill_xl.ledger.schema import MIGRATIONS

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in filter(None, (s.strip() for s in MIGRATIONS[0].split(";"))):
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO files VALUES (1, '/x/a.837', 'h', '1234567893', 'MCR', 1, 1, 1, 1, 1, '195.00', "
                 "'2026-08-05T10:00:00')")
    conn.execute("INSERT INTO claims VALUES (1, 'OTOLD', '1234567893', 'MCR', 'P001', '1', '', 1, '195.00', 1, "
                 "'2026-08-05T10:00:00')")
    conn.execute("INSERT INTO billed_lines VALUES ('1234567893', 'L1|P001|2026-08-03|97110', 'L1', 1, '1', "
                 "'2026-08-05T10:00:00')")
    conn.close()
    src = book(tmp_path / "p.xlsx", [line("L1")])
    with Ledger(path) as lg:
        outcome = create_claims(FileWorkbook(src), out_dir=tmp_path / "o", ledger=lg, as_of=DAY, created=CREATED)
    assert outcome.lines_billed == 0
    assert outcome.assembly.held_back[0].reasons[0].startswith("already billed in claim OTOLD on 2026-08-05")


def test_service_keys_fast_path_agrees_with_the_identity_functions():
    """The batch-speed key builder (caches per modifier set and date) against the plain domain
    functions, on the sample workbook's 1,740 lines (typed and computed units, every modifier mix)."""
    from conftest import ROOT

    from otbill_xl import read_practice
    from otbill_xl.actions.claims import service_keys
    from otbill_xl.domain.claims import normalize_frequency
    from otbill_xl.domain.identity import line_identity, sending_identity, service_identity
    from otbill_xl.domain.scrub import scrub

    book, _ = read_practice(ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx")
    computed = scrub(book, as_of=date(2026, 11, 27)).computed_units
    keys = service_keys(book, computed)
    assert len(keys) == len(book.charges) > 1000
    for k, ln in zip(keys, book.charges, strict=True):
        units = ln.units if ln.units is not None else computed.get(ln.row)
        service = service_identity(book.practice.billing_npi,
                                   ln.patient_id, ln.dos, ln.code, (ln.mod1, ln.mod2, ln.mod3, ln.mod4),
                                   ln.rendering_npi, units)
        frequency = (normalize_frequency(ln.frequency) or "") if ln.frequency else "1"
        assert (k.line_key, k.service_key, k.sending_key, k.frequency) == (
            line_identity(ln.line_id, ln.patient_id, ln.dos), service,
            sending_identity(frequency, ln.original_claim_number, service), frequency)


def test_claims_without_a_charges_sheet_exits_2_and_writes_nothing(tmp_path):
    sheets = contract_sheets()
    del sheets["Charges"]
    src = make_workbook(tmp_path / "p.xlsx", sheets)
    result = runner.invoke(app, ["claims", str(src), "--out", str(tmp_path / "o"), "--as-of", AS_OF])
    assert result.exit_code == 2 and "no Charges sheet" in " ".join(result.output.split())
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("command", ["claims", "batch"])
def test_out_naming_a_file_is_refused_in_words(tmp_path, command):
    src = book(tmp_path / "p.xlsx", [line("L1")])
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    result = runner.invoke(app, [command, str(src), "--out", str(afile), "--as-of", AS_OF])
    assert result.exit_code == 2 and "is a file, not a folder" in " ".join(result.output.split())
    assert afile.read_text() == "not a folder"
