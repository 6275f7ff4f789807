"""Batch conversion: many practice workbooks → checked, priced, annotated copies and 837P files.

Each workbook runs check → price → claims in a worker process (one bad workbook never stops the
others); the parent only collects small result records, so its memory stays flat however many inputs
there are. Every output is written under a temporary name and renamed, so an interrupted batch leaves
no half-written file; an input whose content (SHA-256) was already converted is skipped on the next run.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from otbill_xl.errors import OtbillError
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import atomic_save

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
REPORT_STEM = "batch-report"  # batch-report-YYYYmmdd-HHMMSS.json / .xlsx


@dataclass
class InputResult:
    """What happened to one input workbook."""

    path: str
    sha256: str = ""
    outcome: str = "pending"     # converted | held-lines | skipped | duplicate | unusable | failed
    message: str = ""
    charge_lines: int = 0
    errors: int = 0
    warnings: int = 0
    claims: int = 0
    lines_billed: int = 0
    lines_held: int = 0
    expected_payment: str = "0.00"
    files: list[str] = field(default_factory=list)
    annotated: str = ""
    seconds: float = 0.0


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Workbooks named directly, found in folders (recursively) or matched by globs, in a stable order;
    Excel's lock files (``~$...``) and otbill's own outputs are left out."""
    seen: dict[str, Path] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            candidates = sorted(q for q in p.rglob("*") if q.suffix.lower() in WORKBOOK_SUFFIXES)
        elif any(ch in item for ch in "*?["):
            candidates = sorted(Path(x) for x in glob.glob(item, recursive=True))
        else:
            candidates = [p]
        for q in candidates:
            if q.name.startswith(("~$", ".", REPORT_STEM)) or ".otbill" in q.name or ".claims-" in q.name:
                continue
            seen.setdefault(str(q.resolve()), q)
    return list(seen.values())


def unused_name(path: Path) -> Path:
    """``path``, or ``NAME-2.EXT``, ``NAME-3.EXT``... when a file of that name exists."""
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_one(path: str, sha: str, out_dir: str, ledger_path: str | None, as_of: date, created: datetime,
                group: str, strict: bool) -> InputResult:
    """Worker: check → price → claims for one workbook, billed into its submitter's ledger (or
    ``ledger_path``). Never raises for bad input."""
    from otbill_xl.ledger import LedgerChoice, open_ledger
    from otbill_xl.workbook.check import check_charges
    from otbill_xl.workbook.claims import create_claims, run_stamp
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.price import price_charges
    from otbill_xl.workbook.reader import read_book

    start = time.perf_counter()
    result = InputResult(path=path, sha256=sha)
    src = Path(path)
    try:
        port = FileWorkbook(src)
        choice = LedgerChoice(Path(ledger_path) if ledger_path else None, Path(out_dir))
        location = choice.locate(read_book(port)[0].practice)
        ledger, notes = open_ledger(location)
        try:
            if ledger.input_done(sha):
                result.outcome, result.message = "skipped", "already converted (same content)"
                result.seconds = round(time.perf_counter() - start, 3)
                return result
        finally:
            ledger.close()
        checked = check_charges(port, as_of=as_of)
        summary = checked.summary
        result.charge_lines = summary["lines_checked"]
        result.errors, result.warnings = summary["errors"], summary["warnings"]
        priced = price_charges(port, as_of=as_of)
        result.expected_payment = f"{sum((t.expected_payer_payment for t in priced.result.totals), start=0):.2f}"
        with Ledger(location.path) as ledger:
            claims = create_claims(port, out_dir=Path(out_dir), ledger=ledger, as_of=as_of, created=created,
                                   group=group, strict=strict, command="batch", workbook_sha256=sha)
            suffix = ".xlsm" if src.suffix.lower() == ".xlsm" else ".xlsx"  # keep macros loadable
            annotated = unused_name(Path(out_dir) / f"{src.stem}-{sha[:8]}.otbill-{run_stamp(created)}{suffix}")
            # What was billed is in the ledger: record the input before anything else can fail.
            ledger.mark_input(sha, path, "converted", created)
            result.claims = len(claims.billed_claims)
            result.lines_billed = claims.lines_billed
            result.files = [f.path for f in claims.files if f.state == "written"]
            port.save(str(annotated))
        result.lines_held = len(claims.assembly.excluded)
        result.annotated = str(annotated)
        result.outcome = "held-lines" if result.lines_held else "converted"
        if claims.problems or notes or claims.notes:
            result.message = "; ".join([*claims.problems, *notes, *claims.notes])
    except OtbillError as exc:
        result.outcome, result.message = "unusable", str(exc)
    except Exception as exc:  # a bug must not stop the batch; no data in the message
        result.outcome, result.message = "failed", f"internal error ({type(exc).__name__}); rerun alone with OTBILL_DEBUG=1"
    if result.lines_billed and result.outcome in ("unusable", "failed"):
        result.message += f" — {result.lines_billed} lines were billed before this (they are in the ledger)"
    result.seconds = round(time.perf_counter() - start, 3)
    return result


@dataclass
class BatchResult:
    results: list[InputResult]
    report_json: str
    report_xlsx: str
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out


def run_batch(inputs: Iterable[str], out_dir: Path, *, ledger_path: Path | None = None, workers: int | None = None,
              as_of: date, created: datetime, group: str = "visit", strict: bool = False,
              on_result: Callable[[InputResult, int, int], None] | None = None) -> BatchResult:
    """Convert every input workbook; returns per-input results and writes the batch reports.

    Each workbook bills into its submitter's ledger (or ``ledger_path`` for all). Inputs with the same
    content (SHA-256) are converted once; the others are reported as duplicates of the first.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = expand_inputs(inputs)
    results: list[InputResult] = []
    todo: list[tuple[str, str]] = []
    first_of: dict[str, Path] = {}
    for p in paths:
        if not p.exists():
            results.append(InputResult(str(p), outcome="unusable", message=f"{p.name}: the file does not exist."))
            continue
        sha = file_sha256(p)
        if sha in first_of:
            results.append(InputResult(str(p), sha, "duplicate",
                                       f"same content as {first_of[sha].name}; converted once, as that input"))
            continue
        first_of[sha] = p
        todo.append((str(p), sha))
    total = len(paths)
    for i, r in enumerate(results, start=1):
        if on_result:
            on_result(r, i, total)
    workers = max(1, workers or os.cpu_count() or 1)
    if todo:
        # No max_tasks_per_child: on Python 3.11 the pool hangs once a worker retires after its quota
        # (seen here after 25 tasks); a worker frees each workbook when its task returns anyway.
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            origin: dict[Future, tuple[str, str]] = {
                pool.submit(convert_one, p, sha, str(out_dir), str(ledger_path) if ledger_path else None, as_of,
                            created, group, strict): (p, sha)
                for p, sha in todo}
            pending: set[Future] = set(origin)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        try:
                            results.append(fut.result())
                        except Exception as exc:  # the worker process died (e.g. out of memory)
                            p, sha = origin[fut]
                            results.append(InputResult(p, sha, "failed", f"worker stopped ({type(exc).__name__})"))
                        if on_result:
                            on_result(results[-1], len(results), total)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    order = {str(p): i for i, p in enumerate(paths)}
    results.sort(key=lambda r: order.get(r.path, len(order)))
    stamp = created.strftime("%Y%m%d-%H%M%S")  # a re-run never replaces an earlier run's report
    batch = BatchResult(results, str(unused_name(out_dir / f"{REPORT_STEM}-{stamp}.json")),
                        str(unused_name(out_dir / f"{REPORT_STEM}-{stamp}.xlsx")), round(time.perf_counter() - start, 3))
    write_reports(batch, as_of=as_of, created=created)
    return batch


def write_reports(batch: BatchResult, *, as_of: date, created: datetime) -> None:
    payload: dict[str, Any] = {"as_of": as_of.isoformat(), "created": created.isoformat(timespec="seconds"),
                               "seconds": batch.seconds, "counts": batch.counts,
                               "inputs": [asdict(r) for r in batch.results]}
    text = json.dumps(payload, indent=2)
    atomic_save(lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), Path(batch.report_json))

    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Batch"
    columns = list(InputResult.__dataclass_fields__)
    ws.append(columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in batch.results:
        row = asdict(r)
        ws.append([", ".join(v) if isinstance(v, list) else v for v in (row[c] for c in columns)])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
                cell.data_type = "s"
    ws.freeze_panes = "A2"
    atomic_save(wb.save, Path(batch.report_xlsx))
