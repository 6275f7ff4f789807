"""The "Create claims" action, written once against the workbook port.

Read → scrub → ask the ledger what was billed → assemble claims (domain) → one 837P file per payer
(formats) recorded in two phases (pending → file in place → written) → fill ClaimID and Status in the
Charges sheet and add ``Claims`` and ``Held Back`` sheets, from what the ledger recorded.

Never twice: a line already billed — by its LineID, or as the same service under another LineID,
or (corrections) the same correction of the same claim — is held back with the claim it matches
(:mod:`otbill_xl.domain.identity`). A dry run writes nothing: no file, no ledger, no annotated copy;
a preview writes ``*.837.preview`` files marked as test data (ISA15=T) that no one would upload.

Secondary claims (``secondary=True``, ``otbill claims --secondary``): the lines the ledger has billed to
the primary payer whose adjudication is posted on the Payments sheet are billed to the patient's
secondary payer (:mod:`otbill_xl.domain.secondary`); the ledger records them as sequence S, so a line
is billed once to each payer sequence, never twice to the same one.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from otbill_xl._locks import create_locked, fsync_dir, remove_if_unlocked
from otbill_xl.actions.pipeline import NOT_USED_FOR_BILLING, Pipeline
from otbill_xl.actions.sheets import COUNT, MONEY, TEXT, Column, SheetSpec
from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.claims import Assembly, Claim, HeldBack, assemble_claims, normalize_frequency
from otbill_xl.domain.findings import Finding
from otbill_xl.domain.identity import (
    EMPTY_HISTORY,
    SEP,
    Prior,
    ServiceKeys,
    modifiers_text,
    prior_billing,
    sending_identity,
)
from otbill_xl.domain.secondary import assemble_secondary
from otbill_xl.errors import OutputError
from otbill_xl.formats.x12 import ControlNumbers, X12Error, write_837p
from otbill_xl.ledger import Ledger, LedgerChoice, open_ledger
from otbill_xl.ledger.store import AlreadyBilled, ClaimRecord, LineRecord, Resolution, legacy_line_key
from otbill_xl.workbook.files import run_stamp
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_WARNING, WorkbookPort
from otbill_xl.workbook.reader import ReadReport

CLAIMS_SHEET = "Claims"
HELD_SHEET = "Held Back"
PREVIEW_SUFFIX = ".837.preview"
#: How many times a payer's file is prepared again after another run billed some of its lines first (each
#: time with fewer lines: those are held back as already billed). Then the file is left for a later run.
RACE_RETRIES = 5


def _step(name: str) -> None:
    """A named point in the two-phase recording of a claim file. Does nothing; tests replace it to
    stop the process at each point and prove every service still ends billed exactly once."""


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
    state: str = "written"        # written | preview | planned (dry run)


@dataclass(frozen=True)
class ClaimsOutcome:
    files: tuple[ClaimFile, ...]
    assembly: Assembly
    report: ReadReport
    findings: tuple[Finding, ...]
    dry_run: bool
    problems: tuple[str, ...] = field(default=())
    preview: bool = False
    ledger_path: str = ""
    notes: tuple[str, ...] = ()
    resolutions: tuple[Resolution, ...] = ()
    prior: dict[int, Prior] = field(default_factory=dict)
    ledger_claims: tuple[dict, ...] = ()
    run_stamp: str = ""
    secondary: bool = False       # a --secondary run: claims to the patients' secondary payers

    @property
    def billed_claims(self) -> tuple[Claim, ...]:
        """Claims in files actually written (none for a dry run or preview)."""
        payers = {f.payer_key for f in self.files if f.state == "written"}
        return tuple(c for c in self.assembly.claims if c.payer.payer_key in payers)

    @property
    def lines_billed(self) -> int:
        """Lines in files actually written."""
        return sum(f.lines for f in self.files if f.state == "written")

    @property
    def lines_planned(self) -> int:
        return sum(len(c.lines) for c in self.assembly.claims)

    @property
    def held_for_errors(self) -> tuple[HeldBack, ...]:
        """Held-back lines that need the biller (not: already billed, self-pay)."""
        return tuple(e for e in self.assembly.held_back
                     if not all(r.startswith(_WAITING) for r in e.reasons))

    def totals_by_payer(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = defaultdict(lambda: {"claims": 0, "lines": 0, "charges": Decimal("0")})
        for c in self.assembly.claims:
            t = out[c.payer.payer_key]
            t["claims"] += 1
            t["lines"] += len(c.lines)
            t["charges"] += c.total_charge
        return dict(out)

    def to_frame(self):
        """The assembled claims as a pandas DataFrame (one row per service line, with its claim; money
        stays Decimal)."""
        import pandas as pd

        cols = ["claim_id", "payer", "frequency", "line_id", "row", "dos", "code", "modifiers", "units", "charge",
                "billed"]
        billed = {c.claim_id for c in self.billed_claims}
        return pd.DataFrame([[c.claim_id, c.payer.payer_key, c.frequency, s.line_id, s.row, s.dos, s.code,
                              "+".join(s.modifiers), s.units, s.charge, c.claim_id in billed]
                             for c in self.assembly.claims for s in c.lines], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "preview": self.preview,
            "secondary": self.secondary,
            "ledger": self.ledger_path,
            "files": [{"path": f.path, "payer": f.payer_key, "interchange": f.interchange, "claims": f.claims,
                       "lines": f.lines, "total": f"{f.total:.2f}", "sha256": f.sha256, "state": f.state,
                       "warnings": list(f.warnings)} for f in self.files],
            "claims": len(self.billed_claims),
            "lines_billed": self.lines_billed,
            "would_bill": [{"claim_id": c.claim_id, "payer": c.payer.payer_key, "frequency": c.frequency,
                            "line_ids": [s.line_id for s in c.lines], "total": f"{c.total_charge:.2f}"}
                           for c in self.assembly.claims] if self.dry_run else [],
            "lines_held_back": [{"line_id": e.line_id, "row": e.row, "reasons": list(e.reasons)}
                               for e in self.assembly.held_back],
            "totals_by_payer": {k: {"claims": v["claims"], "lines": v["lines"], "charges": f"{v['charges']:.2f}"}
                                for k, v in sorted(self.totals_by_payer().items())},
            "notes": list(self.notes),
            "pending_resolved": [{"path": r.path, "outcome": r.outcome, "lines": r.lines} for r in self.resolutions],
            "problems": list(self.problems),
        }


#: Held-back reasons that need nothing from the biller: billed already, self-pay, and (secondary runs)
#: lines the primary has not adjudicated yet or left nothing of.
_WAITING = ("already billed", "self-pay", "not billed to the primary payer yet", "secondary: no adjudication",
            "secondary: nothing left")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "practice"


def practice_key(book) -> str:
    return book.practice.billing_npi or book.practice.practice_name or "practice"


def service_keys(book, computed_units: dict[int, int]) -> list[ServiceKeys]:
    """Every charge line's identities as it would be billed now (units typed, else computed).

    The identities are those of :mod:`otbill_xl.domain.identity`; a batch's lines share a handful of
    modifier combinations and dates, so each is normalised once (measured on 100,920 lines: 1.3 s
    without these caches, 0.3 s with them, against a 2.5 s check)."""
    npi = practice_key(book)
    mods_of: dict[tuple[str, ...], str] = {}
    day_of: dict[object, str] = {}
    freq_of: dict[str, str] = {}
    code_of: dict[str, str] = {}
    sep = SEP
    out = []
    for line in book.charges:
        units = line.units if line.units is not None else computed_units.get(line.row)
        raw = (line.mod1, line.mod2, line.mod3, line.mod4)
        mods = mods_of.get(raw)
        if mods is None:
            mods = mods_of[raw] = modifiers_text(raw)
        dos = line.dos
        day = day_of.get(dos)
        if day is None:
            day = day_of[dos] = dos.isoformat() if dos else ""
        code = code_of.get(line.code)
        if code is None:
            code = code_of[line.code] = line.code.strip().upper()
        service = sep.join((npi, line.patient_id, day, code, mods, line.rendering_npi,
                            "" if units is None else str(units)))
        frequency = freq_of.get(line.frequency)
        if frequency is None:
            frequency = freq_of[line.frequency] = (normalize_frequency(line.frequency) or "") if line.frequency else "1"
        line_key = sep.join((line.line_id, line.patient_id, day)) if line.line_id else ""
        out.append(ServiceKeys(line.row, line.line_id, frequency, code, mods, units, line_key, service,
                               "" if frequency == "1" else sending_identity(frequency, line.original_claim_number,
                                                                             service)))
    return out


def remove_stray_parts(folder: Path) -> int:
    """Delete ``.part`` files left in ``folder`` by runs that stopped (they hold patient data); a
    ``.part`` another run is writing right now is locked and left alone."""
    removed = 0
    if not folder.is_dir():
        return 0
    for part in folder.glob(".*.part"):
        removed += remove_if_unlocked(part)
    return removed


def create_claims(port: WorkbookPort, *, out_dir: Path, ledger: Ledger | LedgerChoice, as_of: date,
                  created: datetime, group: str = "visit", strict: bool = False, dry_run: bool = False,
                  preview: bool = False, rebill: frozenset[str] = frozenset(), overrides: Overrides | None = None,
                  annotate: bool = True, command: str = "claims", workbook_sha256: str = "",
                  pipeline: Pipeline | None = None, secondary: bool = False) -> ClaimsOutcome:
    """Bill the clean, not-yet-billed lines of the workbook in ``port`` into 837P files in ``out_dir``.

    ``ledger`` is an open :class:`Ledger` or a :class:`LedgerChoice` (the ledger is then found from
    the Practice sheet's submitter and opened here). ``dry_run`` writes nothing at all; ``preview``
    (a dry run) writes ``*.837.preview`` files with ISA15=T and never touches the ledger. ``secondary``
    bills the secondary payers instead (the Payments sheet is read for the primaries' adjudication).
    """
    dry_run = dry_run or preview
    if secondary and (pipeline is None or "Payments" in pipeline.skip):
        pipeline = Pipeline(port, as_of=as_of, overrides=overrides, prices=pipeline.prices if pipeline else False,
                            skip=NOT_USED_FOR_BILLING - {"Payments"})
    if pipeline is None:
        pipeline = Pipeline(port, as_of=as_of, overrides=overrides)
    book, report, scrubbed, findings = pipeline.book, pipeline.report, pipeline.scrubbed, pipeline.findings
    notes: list[str] = []
    own_ledger = isinstance(ledger, LedgerChoice)
    if isinstance(ledger, LedgerChoice):
        location = ledger.locate(book.practice)
        opened, opened_notes = open_ledger(location, readonly=dry_run)
        notes += opened_notes
        billing_ledger = opened
    else:
        billing_ledger = ledger
    try:
        # Service keys, assembly and 837P text are ~10 objects per line: without the pause, the
        # collector scans them (and the whole pipeline's records) several times over (measured on
        # 100,920 lines: check + price + claims 4.4 s → 3.9 s CPU).
        with gc_paused():
            return _bill(port, book, report, scrubbed, findings, billing_ledger, notes, out_dir=out_dir, as_of=as_of,
                         created=created, group=group, strict=strict, dry_run=dry_run, preview=preview, rebill=rebill,
                         annotate=annotate, command=command, workbook_sha256=workbook_sha256, secondary=secondary)
    finally:
        if own_ledger:
            billing_ledger.close()


def _bill(port, book, report, scrubbed, findings, ledger: Ledger, notes: list[str], *, out_dir: Path, as_of: date,
          created: datetime, group: str, strict: bool, dry_run: bool, preview: bool, rebill: frozenset[str],
          annotate: bool, command: str, workbook_sha256: str, secondary: bool = False) -> ClaimsOutcome:
    resolutions: list[Resolution] = []
    if not dry_run:
        resolutions = ledger.resolve_pending()
        for r in resolutions:
            if r.outcome == "released":
                notes.append(f"{Path(r.path).name}: an earlier run stopped before this file was written; its "
                             f"{r.lines} lines were released and can be billed now")
            elif r.outcome == "mismatch":
                notes.append(f"{Path(r.path).name}: the file differs from what the ledger recorded; its lines stay "
                             "billed — run `otbill ledger check`")
            elif r.outcome == "elsewhere":  # (a shared PostgreSQL ledger)
                notes.append(f"{Path(r.path).name}: pending, in a folder this machine does not see ({Path(r.path).parent}"
                             "); its lines stay billed — run `otbill ledger check` where that folder is")
        stray = remove_stray_parts(out_dir)
        if stray:
            notes.append(f"removed {stray} partial file(s) left in {out_dir} by a run that stopped")
    pkey = practice_key(book)
    keys = service_keys(book, scrubbed.computed_units)
    sheet_names = {s.contract: s.sheet for s in report.sheets if s.sheet}

    def plan() -> tuple[dict[int, Prior], Assembly]:
        """What the ledger holds back now, and the claims of the lines left (read again after a lost race)."""
        history = ledger.history(pkey, line_keys=(k.line_key for k in keys),
                                 service_keys=(k.service_key for k in keys),
                                 sending_keys=(k.sending_key for k in keys)) if ledger is not None else EMPTY_HISTORY
        if secondary:
            # the primary's ClaimID of each line billed to the primary and unchanged since; what the
            # secondary was already billed holds a line back (never twice to the same payer sequence)
            primary_claim_of = {row: p.claim_id for row, p in prior_billing(keys, history).items()
                                if p.kind == "billed"}
            billed_secondary = ledger.history(pkey, line_keys=(k.line_key for k in keys),
                                              service_keys=(k.service_key for k in keys),
                                              sending_keys=(k.sending_key for k in keys), sequence="S")
            prior = prior_billing(keys, billed_secondary, rebill)
            return prior, assemble_secondary(
                book, findings, primary_claim_of=primary_claim_of,
                hold={row: f"{p.reason} (to the secondary payer)" for row, p in prior.items()},
                computed_units=scrubbed.computed_units, group=group, strict=strict, sheet_names=sheet_names)
        prior = prior_billing(keys, history, rebill)
        return prior, assemble_claims(book, findings, computed_units=scrubbed.computed_units,
                                      prior={row: p.reason for row, p in prior.items()}, group=group, strict=strict,
                                      sheet_names=sheet_names)

    prior, assembly = plan()
    # (what the ledger records for each billed line: not needed for a dry run)
    key_of = {k.row: k for k in keys} if not dry_run else {}
    line_of = {line.row: line for line in book.charges} if not dry_run else {}
    by_payer: dict[str, list[Claim]] = defaultdict(list)
    for claim in assembly.claims:
        by_payer[claim.payer.payer_key].append(claim)
    may_rebill = frozenset(k.line_key for k in keys if k.line_id and k.line_id in rebill and k.line_key)
    stamp = run_stamp(created)
    practice = book.practice.model_copy(update={"usage_indicator": "T"}) if preview else book.practice
    files: list[ClaimFile] = []
    problems: list[str] = []
    unwritable: list[HeldBack] = []
    billed_ok: list[Claim] = []
    run_id: int | None = None
    if by_payer and not dry_run:
        out_dir.mkdir(parents=True, exist_ok=True)
        run_id = ledger.start_run(command=command, workbook=getattr(port, "name", ""),
                                  workbook_sha256=workbook_sha256, started=created)
    raced: list[HeldBack] = []   # lines another run billed while this one prepared their file
    replanned: dict[str, list[Claim]] = {}
    queue = deque(sorted(by_payer.items()))
    races: dict[str, int] = defaultdict(int)
    while queue:
        payer_key, claims = queue.popleft()
        numbers = ledger.peek_numbers() if dry_run else ledger.next_numbers()
        try:
            x12 = write_837p(claims, practice, ControlNumbers(*numbers), created=created)
        except X12Error:
            # One bad record must not stop the payer's file: find the claims the writer refuses, hold
            # them back with its reason, and write the rest (with the numbers already taken).
            claims, bad = _writable(claims, practice, created)
            for claim, why in bad:
                reason = f"cannot be sent: {for_biller(claim, why)}"
                unwritable += [HeldBack(s.row, s.line_id, (reason,)) for s in claim.lines]
            if not claims:
                continue
            try:
                x12 = write_837p(claims, practice, ControlNumbers(*numbers), created=created)
            except X12Error as exc:  # each claim alone was fine: a file-level limit is all that is left
                problems.append(f"{payer_key}: no file written: {exc}")
                continue
        data = x12.text.encode("ascii")
        sha = hashlib.sha256(data).hexdigest()
        total = sum([s.charge for c in claims for s in c.lines], Decimal("0"))  # (Claim.total_charge, summed)
        n_lines = sum(len(c.lines) for c in claims)
        base = f"{_slug(book.practice.practice_name)}-{_slug(payer_key)}{'-secondary' if secondary else ''}"
        if dry_run and not preview:
            files.append(ClaimFile("", payer_key, numbers[0], len(claims), n_lines, total, sha, x12.warnings,
                                   "planned"))
            continue
        if preview:
            target = out_dir / f"{base}-PREVIEW-{stamp}{PREVIEW_SUFFIX}"
            try:
                _write_preview(target, data)
            except OSError as exc:
                problems.append(f"{payer_key}: preview not written ({exc.strerror})")
                continue
            files.append(ClaimFile(str(target), payer_key, numbers[0], len(claims), n_lines, total, sha,
                                   x12.warnings, "preview"))
            continue
        target = out_dir / f"{base}-{numbers[0]:09d}.837"
        record = [ClaimRecord(c.claim_id, c.patient.patient_id, c.frequency, c.original_claim_number, c.total_charge,
                              [_line_record(key_of[s.row], line_of[s.row]) for s in c.lines], c.sequence)
                  for c in claims]
        try:
            _write_two_phase(ledger, target, data, sha=sha, practice=pkey, payer_key=payer_key, numbers=numbers,
                             claims=record, total=total, created=created, run_id=run_id, may_rebill=may_rebill)
        except AlreadyBilled as exc:
            # Another biller's run billed some of these lines after this run read the ledger (the check
            # inside the recording transaction found them; nothing was recorded or written). Read the ledger
            # again and bill what is left of this payer's lines, as a run started a moment later would.
            races[payer_key] += 1
            if races[payer_key] > RACE_RETRIES:
                problems.append(f"{payer_key}: {exc}")
                continue
            prior_now, again = plan()
            left = [c for c in again.claims if c.payer.payer_key == payer_key]
            rows_left = {s.row for c in left for s in c.lines}
            for c in claims:
                for s in c.lines:
                    if s.row not in rows_left:
                        why = prior_now[s.row].reason if s.row in prior_now else "billed by another run meanwhile"
                        raced.append(HeldBack(s.row, s.line_id, (why,)))
                        if s.row in prior_now:
                            prior[s.row] = prior_now[s.row]
            replanned[payer_key] = left
            if left:
                queue.appendleft((payer_key, left))
            continue
        except _WriteFailed as exc:
            problems.append(f"{payer_key}: {exc}")
            continue
        billed_ok += claims
        files.append(ClaimFile(str(target), payer_key, numbers[0], len(claims), n_lines, total, sha, x12.warnings))
    if replanned:  # the claims as billed after a lost race; the lines the other run billed held back
        kept = [c for c in assembly.claims if c.payer.payer_key not in replanned]
        assembly = Assembly(tuple(sorted([*kept, *(c for cs in replanned.values() for c in cs)],
                                         key=lambda c: min(s.row for s in c.lines))),
                            tuple(sorted((*assembly.held_back, *raced), key=lambda e: e.row)))
        notes.append(f"{len(raced)} lines were billed by another run while this one prepared their file; they are "
                     "held back as already billed and the rest was billed")
    if unwritable:
        unwritable = list({e.row: e for e in unwritable}.values())  # (a file prepared again finds them again)
        bad_rows = {e.row for e in unwritable}
        assembly = Assembly(tuple(c for c in assembly.claims if not any(s.row in bad_rows for s in c.lines)),
                            tuple(sorted((*assembly.held_back, *unwritable), key=lambda e: e.row)))
    ledger_claims: tuple[dict, ...] = ()
    if ledger is not None and not dry_run:
        ledger_claims = tuple(ledger.claims_for(pkey, [k.line_key for k in keys], [k.service_key for k in keys]))
    outcome = ClaimsOutcome(tuple(files), assembly, report, findings, dry_run, tuple(problems), preview,
                            str(ledger.path) if ledger is not None else "", tuple(notes), tuple(resolutions), prior,
                            ledger_claims, stamp, secondary)
    if annotate and not dry_run:
        try:
            _annotate(port, report, outcome, as_of)
        except Exception as exc:  # billing is done: say what was billed, never lose that
            outcome = _with_problem(outcome, f"the annotated copy could not be completed ({type(exc).__name__}); "
                                             f"{outcome.lines_billed} lines were billed in "
                                             f"{', '.join(Path(f.path).name for f in files) or 'no file'} "
                                             "— the ledger has them")
    return outcome


def _with_problem(outcome: ClaimsOutcome, problem: str) -> ClaimsOutcome:
    from dataclasses import replace

    return replace(outcome, problems=(*outcome.problems, problem))


def _line_record(keys: ServiceKeys, line) -> LineRecord:
    return LineRecord(keys.line_id, keys.line_key, keys.service_key, keys.sending_key, keys.code, keys.modifiers,
                      "" if keys.units is None else str(keys.units),
                      legacy_line_key(line.line_id, line.patient_id, line.dos, line.code))


def _writable(claims: list[Claim], practice, created: datetime) -> tuple[list[Claim], list[tuple[Claim, str]]]:
    """The claims that make a valid 837P, and each other claim with the writer's reason: one bad
    patient record holds back that patient's claims, never the payer's whole file."""
    good, bad = [], []
    for claim in claims:
        try:
            write_837p([claim], practice, ControlNumbers(1, 1, 1), created=created)
            good.append(claim)
        except X12Error as exc:
            bad.append((claim, str(exc)))
    return good, bad


# An X12 reference in the writer's messages: "(2010BA N301)", "(SV102)", "(CLM05-1)", "(REF*F8)",
# "(SV101-3..6)", "(GS02, 1000A NM109)", "(HI)" — what a biller does not need to read.
_X12_REF = r"(?:\d{4}[A-Z]{0,2}\s+)?[A-Z]{1,3}(?:\*[A-Z0-9]+)?\d{0,3}(?:-[\d.]+)?"
_X12_REFS = re.compile(rf"\s*\({_X12_REF}(?:,\s*{_X12_REF})*\)")
_LINE_N = re.compile(r"\bline (\d+)\b")


def for_biller(claim: Claim, why: str) -> str:
    """The 837P writer's reason for refusing ``claim``, in the workbook's terms: the rows it comes from
    (the patient's row on the Patients sheet, the lines' rows on Charges), without X12 segment names."""
    text = why.split(": ", 1)[1] if why.startswith(f"claim {claim.claim_id}") and ": " in why else why
    text = _X12_REFS.sub("", text)

    def charges_row(m: re.Match) -> str:
        n = int(m.group(1))
        return f"Charges row {claim.lines[n - 1].row}" if 1 <= n <= len(claim.lines) else m.group(0)

    text = _LINE_N.sub(charges_row, text)
    rows = sorted({s.row for s in claim.lines})
    where = f"Charges row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))}"
    if claim.patient.row:
        where = f"Patients row {claim.patient.row}, {where}"
    return f"{where}: {text}"


class _WriteFailed(OutputError):
    """A claim file could not be put in place (nothing was billed for it)."""


def _write_preview(target: Path, data: bytes) -> None:
    from otbill_xl.workbook.files import atomic_save

    atomic_save(lambda tmp: Path(tmp).write_bytes(data), target)


def _write_two_phase(ledger: Ledger, target: Path, data: bytes, *, sha: str, practice: str, payer_key: str,
                     numbers: tuple[int, int, int], claims: list[ClaimRecord], total: Decimal, created: datetime,
                     run_id: int | None, may_rebill: frozenset[str]) -> None:
    """Pending in the ledger → the file under a locked ``.part`` name → renamed into place and the
    folder synced → written in the ledger. Whatever stops the process, the next start settles it
    (:meth:`Ledger.resolve_pending`): no file the ledger doesn't know, no billed line without a file."""
    if target.exists():
        raise _WriteFailed(f"{target.name} already exists; otbill never overwrites a claim file")
    part = target.with_name(f".{target.name}.part")
    try:
        # locked until the ledger says written: a run that starts meanwhile leaves it alone
        fd = create_locked(part)  # (the user's umask applies)
    except OSError as exc:
        raise _WriteFailed(f"{target.name}: cannot write in {target.parent} ({exc.strerror})") from None
    closed = False
    try:
        try:
            file_id = ledger.reserve_file(path=str(target.resolve()), part_path=str(part.resolve()), sha256=sha,
                                          practice=practice, payer_key=payer_key, numbers=numbers, claims=claims,
                                          total=total, created=created, run_id=run_id, may_rebill=may_rebill)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        _step("reserved")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            _step("part-written")
            if os.name == "nt":  # pragma: no cover - Windows renames no open file
                os.close(fd)
                closed = True
            os.replace(part, target)
            fsync_dir(target.parent)
        except OSError as exc:
            part.unlink(missing_ok=True)
            ledger.release(file_id, f"writing failed ({exc.strerror})")
            raise _WriteFailed(f"{target.name}: cannot write the file ({exc.strerror}); nothing was billed") from None
        except BaseException:
            if not target.exists():
                part.unlink(missing_ok=True)
                ledger.release(file_id, "interrupted before the file was in place")
            raise  # a file in place stays pending: the next start marks it written
        _step("renamed")
        ledger.mark_written(file_id)
        _step("marked")
    finally:
        if not closed:
            os.close(fd)


def _annotate(port: WorkbookPort, report: ReadReport, outcome: ClaimsOutcome, as_of: date) -> None:
    """ClaimID/Status for every line the ledger has billed (now or in any earlier run), held-back
    reasons for the rest; the Claims sheet lists every claim billed for the workbook's lines."""
    sheet = report.sheet("Charges")
    if sheet is None or not sheet.sheet or not sheet.header_row:
        return  # no charge sheet (or a blank one): nothing to mark
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
    if outcome.secondary:
        _annotate_secondary(port, name, status_col, outcome, as_of)
        return
    for claim in outcome.billed_claims:
        for s in claim.lines:
            port.write_values(name, s.row, claim_col, [[claim.claim_id]])
            port.write_values(name, s.row, status_col, [[f"billed {as_of.isoformat()}"]])
            port.fill(name, s.row, status_col, FILL_COMPUTED)
    for e in outcome.assembly.held_back:
        p = outcome.prior.get(e.row)
        if p is not None and p.kind == "billed":
            port.write_values(name, e.row, claim_col, [[p.claim_id]])
            port.write_values(name, e.row, status_col, [[f"billed {p.billed_at[:10]}"]])
            continue
        port.write_values(name, e.row, status_col, [["held back: " + _clean(e.reasons[0])[:200]]])
        port.fill(name, e.row, status_col, FILL_WARNING)
    CLAIMS.write(port, outcome.ledger_claims)
    HELD_BACK.write(port, outcome.assembly.held_back)
    for i, e in enumerate(outcome.assembly.held_back, start=2):
        cell = sheet.cell("LineID", e.row) or f"A{e.row}"
        port.hyperlink(HELD_SHEET, i, HELD_BACK.index("LineID"), f"#'{name}'!{cell}")


def _annotate_secondary(port: WorkbookPort, name: str, status_col: int, outcome: ClaimsOutcome, as_of: date) -> None:
    """A secondary run leaves the Charges ClaimID (the primary's claim) alone: Status says which lines
    went to the secondary payer; the Claims and Held Back sheets list the secondary claims and why the
    other lines of patients with a secondary payer were not billed to it."""
    for claim in outcome.billed_claims:
        for s in claim.lines:
            port.write_values(name, s.row, status_col, [[f"billed to secondary {claim.claim_id} {as_of.isoformat()}"]])
            port.fill(name, s.row, status_col, FILL_COMPUTED)
    CLAIMS.write(port, outcome.ledger_claims)
    HELD_BACK.write(port, outcome.assembly.held_back)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean(text: str) -> str:
    """Text for a cell: control characters (which a workbook cannot hold) shown as '?'."""
    return _CONTROL.sub("?", text)


#: The Claims sheet: every claim the ledger has billed for the workbook's lines (a dict from
#: :meth:`Ledger.claims_for` per row), oldest first.
CLAIMS: SheetSpec[dict[str, Any]] = SheetSpec(CLAIMS_SHEET, (
    Column("ClaimID", 20, TEXT, lambda c: c["claim_id"]),
    Column("Payer", 12, TEXT, lambda c: c["payer_key"]),
    Column("PatientID", 12, TEXT, lambda c: c["patient_id"]),
    Column("Lines", 7, COUNT, lambda c: c["lines"], total="sum"),
    Column("LineIDs", 40, TEXT, lambda c: _clean(c["line_ids"] or "")),
    Column("Total", 12, MONEY, lambda c: Decimal(c["total"]), total="sum"),
    Column("Frequency", 10, TEXT, lambda c: c["frequency"]),
    Column("OriginalClaimNumber", 20, TEXT, lambda c: c["original_claim_number"]),
    Column("Run", 20, TEXT, lambda c: c["run"]),
    Column("File", 40, TEXT, lambda c: Path(c["file"]).name, wrap=False),
    Column("State", 10, TEXT, lambda c: c["state"]),
    Column("Sequence", 9, TEXT, lambda c: {"S": "secondary"}.get(c.get("sequence", "P"), "primary")),
))
#: The Held Back sheet: every line not billed, with its reasons (LineID links to the charge line).
HELD_BACK: SheetSpec[HeldBack] = SheetSpec(HELD_SHEET, (
    Column("LineID", 12, TEXT, lambda e: _clean(e.line_id)),
    Column("Row", 7, COUNT, lambda e: e.row),
    Column("Reasons", 90, TEXT, lambda e: _clean(" | ".join(e.reasons))),
))
