"""The "Create claims" action, written once against the workbook port.

Read → scrub → assemble claims (domain) → one 837P file per payer (formats) with control numbers from
the ledger → record every claim and billed line in the ledger → fill ClaimID and Status in the Charges
sheet and add ``Claims`` and ``Held Back`` sheets. A line already in the ledger is never billed again
unless asked (``rebill``) or sent as a corrected/void claim.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from otbill_xl.domain.claims import Assembly, Claim, assemble_claims
from otbill_xl.domain.findings import Finding
from otbill_xl.domain.scrub import scrub
from otbill_xl.errors import OutputError
from otbill_xl.formats.x12 import ControlNumbers, X12Error, write_837p
from otbill_xl.ledger import Ledger
from otbill_xl.ledger.store import AlreadyBilled, line_key
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_WARNING, WorkbookPort
from otbill_xl.workbook.reader import ReadReport, read_book

CLAIMS_SHEET = "Claims"
HELD_SHEET = "Held Back"


@dataclass(frozen=True)
class ClaimFile:
    path: str
    payer_key: str
    interchange: int
    claims: int
    lines: int
    total: Decimal
    sha256: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimsOutcome:
    files: tuple[ClaimFile, ...]
    assembly: Assembly
    report: ReadReport
    findings: tuple[Finding, ...]
    dry_run: bool
    problems: tuple[str, ...] = field(default=())

    @property
    def lines_billed(self) -> int:
        return sum(len(c.lines) for c in self.assembly.claims)

    def totals_by_payer(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = defaultdict(lambda: {"claims": 0, "lines": 0, "charges": Decimal("0")})
        for c in self.assembly.claims:
            t = out[c.payer.payer_key]
            t["claims"] += 1
            t["lines"] += len(c.lines)
            t["charges"] += c.total_charge
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "files": [{"path": f.path, "payer": f.payer_key, "interchange": f.interchange, "claims": f.claims,
                       "lines": f.lines, "total": f"{f.total:.2f}", "sha256": f.sha256, "warnings": list(f.warnings)}
                      for f in self.files],
            "claims": len(self.assembly.claims),
            "lines_billed": self.lines_billed,
            "lines_excluded": [{"line_id": e.line_id, "row": e.row, "reasons": list(e.reasons)}
                               for e in self.assembly.excluded],
            "totals_by_payer": {k: {"claims": v["claims"], "lines": v["lines"], "charges": f"{v['charges']:.2f}"}
                                for k, v in sorted(self.totals_by_payer().items())},
            "problems": list(self.problems),
        }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "practice"


def practice_key(book) -> str:
    return book.practice.billing_npi or book.practice.practice_name or "practice"


def create_claims(port: WorkbookPort, *, out_dir: Path, ledger: Ledger, as_of: date, created: datetime,
                  group: str = "visit", strict: bool = False, dry_run: bool = False,
                  rebill: frozenset[str] = frozenset(), overrides: Overrides | None = None,
                  annotate: bool = True) -> ClaimsOutcome:
    """Bill the clean, not-yet-billed lines of the workbook in ``port`` into 837P files in ``out_dir``."""
    book, report = read_book(port, overrides=overrides)
    scrubbed = scrub(book, as_of=as_of)
    findings = tuple(report.locate(f) for f in (*report.findings, *scrubbed.findings))
    pkey = practice_key(book)
    keys = {line.row: line_key(line.line_id, line.patient_id, line.dos, line.code) for line in book.charges}
    done = ledger.billed(pkey, keys.values())
    billed_rows = {row: done[k].claim_id for row, k in keys.items() if k in done}
    assembly = assemble_claims(book, findings, computed_units=scrubbed.computed_units, billed=billed_rows,
                               rebill=rebill, group=group, strict=strict)
    by_payer: dict[str, list[Claim]] = defaultdict(list)
    for claim in assembly.claims:
        by_payer[claim.payer.payer_key].append(claim)
    out_dir.mkdir(parents=True, exist_ok=True)
    may_rebill = frozenset(keys[line.row] for line in book.charges if line.line_id in rebill)
    files: list[ClaimFile] = []
    problems: list[str] = []
    for payer_key, claims in sorted(by_payer.items()):
        numbers = ledger.peek_numbers() if dry_run else ledger.next_numbers()
        control = ControlNumbers(*numbers)
        try:
            x12 = write_837p(claims, book.practice, control, created=created)
        except X12Error as exc:
            problems.append(f"{payer_key}: no file written: {exc}")
            continue
        data = x12.text.encode("ascii")
        name = f"{_slug(book.practice.practice_name)}-{_slug(payer_key)}-{numbers[0]:09d}.837"
        target = out_dir / name
        sha = hashlib.sha256(data).hexdigest()
        total = sum((c.total_charge for c in claims), Decimal("0"))
        record = [(c.claim_id, c.patient.patient_id, c.frequency, c.original_claim_number, c.total_charge,
                   [(keys[s.row], s.line_id) for s in c.lines]) for c in claims]
        recorder = None if dry_run else partial(
            _record, ledger, path=str(target), sha256=sha, practice=pkey, payer_key=payer_key, numbers=numbers,
            claims=record, total=total, created=created, may_rebill=may_rebill)
        try:
            _write_and_record(target, data, recorder)
        except (AlreadyBilled, OutputError) as exc:
            problems.append(f"{payer_key}: {exc}")
            continue
        files.append(ClaimFile(str(target), payer_key, numbers[0], len(claims), sum(len(c.lines) for c in claims),
                               total, sha, x12.warnings))
    outcome = ClaimsOutcome(tuple(files), assembly, report, findings, dry_run, tuple(problems))
    if annotate:
        _annotate(port, report, book, outcome, billed_rows, as_of)
    return outcome


def _record(ledger: Ledger, rename, **kwargs) -> None:
    ledger.record_file(then=rename, **kwargs)


def _write_and_record(target: Path, data: bytes, record) -> None:
    """Write the file under a temporary name, then — inside the ledger transaction that records it —
    rename it into place: an interrupted run leaves neither a half-written file nor a ledger entry
    for a file that does not exist, and a line billed concurrently by another run is caught."""
    if target.exists():
        raise OutputError(f"{target.name} already exists; otbill never overwrites a claim file.")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if record is None:
            os.replace(tmp, target)
        else:
            record(lambda: os.replace(tmp, target))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _annotate(port: WorkbookPort, report: ReadReport, book, outcome: ClaimsOutcome, billed_rows: dict[int, str],
              as_of: date) -> None:
    sheet = report.sheet("Charges")
    if sheet is None or not sheet.sheet:
        return
    name = sheet.sheet
    claim_col = sheet.index_of("ClaimID")
    status_col = sheet.index_of("Status")
    width = max([m.index for m in sheet.columns] + [0])
    if not claim_col:
        width += 1
        claim_col = width
        port.write_values(name, sheet.header_row, claim_col, [["ClaimID"]])
    if not status_col:
        width += 1
        status_col = width
        port.write_values(name, sheet.header_row, status_col, [["Status"]])
    claim_of = outcome.assembly.claim_of_row
    file_of = {c.claim_id: f.path for f in outcome.files for c in outcome.assembly.claims
               if c.payer.payer_key == f.payer_key}
    verb = "dry run" if outcome.dry_run else "billed"
    for row, claim_id in claim_of.items():
        if claim_id not in file_of:
            continue
        port.write_values(name, row, claim_col, [[claim_id]])
        port.write_values(name, row, status_col, [[f"{verb} {as_of.isoformat()}"]])
        port.fill(name, row, status_col, FILL_COMPUTED)
    for e in outcome.assembly.excluded:
        if e.row in billed_rows and all(r.startswith("already billed") for r in e.reasons):
            continue  # leave the earlier ClaimID/Status as they are
        port.write_values(name, e.row, status_col, [["held: " + e.reasons[0][:200]]])
        port.fill(name, e.row, status_col, FILL_WARNING)
    rows: list[list[Any]] = [["ClaimID", "Payer", "PatientID", "From", "To", "Lines", "LineIDs", "Total", "Frequency",
                              "File"]]
    for c in outcome.assembly.claims:
        rows.append([c.claim_id, c.payer.payer_key, c.patient.patient_id, c.first_dos, c.last_dos, len(c.lines),
                     ", ".join(s.line_id for s in c.lines), c.total_charge, c.frequency,
                     Path(file_of.get(c.claim_id, "")).name])
    port.replace_sheet(CLAIMS_SHEET, rows, widths=(20, 12, 12, 12, 12, 7, 40, 12, 10, 40))
    held: list[list[Any]] = [["LineID", "Row", "Reasons"]]
    for e in outcome.assembly.excluded:
        held.append([e.line_id, e.row, " | ".join(e.reasons)])
    port.replace_sheet(HELD_SHEET, held, widths=(12, 7, 140))
    for i, e in enumerate(outcome.assembly.excluded, start=2):
        cell = sheet.cell("LineID", e.row) or f"A{e.row}"
        port.hyperlink(HELD_SHEET, i, 1, f"#'{name}'!{cell}")
