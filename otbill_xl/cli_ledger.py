"""``otbill ledger where|show|check|migrate``: where the claim ledger is, what it holds, whether it is
sound; moving it to another database (e.g. a shared PostgreSQL server).

Registered by :mod:`otbill_xl.cli` as ``app.add_typer(ledger_app, name="ledger")``; output helpers
are small and local so this module does not import :mod:`otbill_xl.cli` (no import cycle).
Exit codes: 0 ok, 1 problems found (``check``), 2 unusable (no ledger, damaged ledger, bad workbook).
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from otbill_xl import cli_common
from otbill_xl.cli_common import Col
from otbill_xl.errors import OtbillError

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2

ledger_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="The claim ledger: where it is (where), what it holds (show), whether it is sound (check), "
                              "moving it to a shared PostgreSQL server (migrate).")
out, err = cli_common.out, cli_common.err  # one pair of consoles: terminal width, or unwrapped in a pipe

WorkbookArg = Annotated[Path | None, typer.Argument(help="Practice workbook whose submitter's ledger to use.")]
LedgerOpt = Annotated[str | None, typer.Option("--ledger", help="A ledger file or postgresql:// URL (instead of the "
                                                                 "workbook's).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Claims output folder (finds a ledger at the old location).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]otbill:[/] {escape(message)}", highlight=False)
    return typer.Exit(EXIT_UNUSABLE)


def _locate(workbook: Path | None, ledger: str | None, out_dir: Path | None):
    from otbill_xl.ledger import LedgerChoice, LedgerLocation
    from otbill_xl.ledger.dialect import is_url, ledger_target
    from otbill_xl.ledger.location import data_dir
    from otbill_xl.ledger.store import LEDGER_ENV

    if workbook is not None:
        from otbill_xl import read_practice

        try:
            book, _report = read_practice(workbook)
            return LedgerChoice(ledger, out_dir).locate(book.practice)
        except OtbillError as exc:
            raise _fail(str(exc)) from None
    if ledger is not None:
        return LedgerLocation(ledger.strip() if is_url(ledger) else Path(ledger), "option")
    env = os.environ.get(LEDGER_ENV, "").strip()
    if env:
        return LedgerLocation(ledger_target(env), "environment")
    found = sorted((data_dir() / "ledgers").glob("*.sqlite"))
    if len(found) == 1:
        return LedgerLocation(found[0], "submitter")
    names = ", ".join(p.name for p in found) or "none yet"
    raise _fail(f"name a workbook (its submitter's ledger) or --ledger FILE; ledgers in {data_dir() / 'ledgers'}: "
                f"{names}")


_HOW = {"option": "--ledger", "practice": "the Practice setting LedgerPath", "environment": "$OTBILL_LEDGER",
        "submitter": "the submitter's default ledger (ISA06)"}


@ledger_app.command()
def where(workbook: WorkbookArg = None, ledger: LedgerOpt = None, out_dir: OutOpt = None,
          as_json: JsonOpt = False) -> None:
    """Where the claim ledger is, and why that one."""
    loc = _locate(workbook, ledger, out_dir)
    data = {"path": loc.shown, "how": loc.how, "exists": loc.exists(),
            "legacy": str(loc.legacy) if loc.legacy else None}
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out.print(f"{escape(loc.shown)} ({_HOW.get(loc.how, loc.how)}"
                  f"{'' if data['exists'] else '; not created yet'})", highlight=False)
        if loc.legacy:
            out.print(f"a ledger at the old location {escape(str(loc.legacy))} is merged into it on the next run",
                      highlight=False)


def _open(workbook: Path | None, ledger: str | None, out_dir: Path | None, *, readonly: bool):
    from otbill_xl.ledger import Ledger

    loc = _locate(workbook, ledger, out_dir)
    if not loc.exists():
        raise _fail(f"no ledger at {loc.shown} yet (nothing billed with it)")
    try:
        return Ledger(loc.path, readonly=readonly)
    except OtbillError as exc:
        raise _fail(_explain(loc.path, exc)) from None


def _explain(path: Path | str, exc: OtbillError) -> str:
    from otbill_xl.ledger import LedgerDamaged

    if not isinstance(exc, LedgerDamaged) or not isinstance(path, Path):
        return str(exc)
    size = path.stat().st_size if path.exists() else 0
    what = "is empty (0 bytes)" if size == 0 else "is not a readable SQLite ledger"
    return (f"the ledger at {path} {what}. Restore it from your backup (the file of the same name). Without a "
            "backup, move it aside and let otbill start a new ledger: it will not know what was billed before, so "
            "check each run's held-back lines against your earlier claim files before you submit.")


@ledger_app.command()
def show(workbook: WorkbookArg = None, ledger: LedgerOpt = None, out_dir: OutOpt = None,
         as_json: JsonOpt = False) -> None:
    """Practices, payers, claims and lines billed, control-number high-water marks, files written."""
    with _open(workbook, ledger, out_dir, readonly=True) as lg:
        data: dict[str, Any] = lg.summary() | {"files": lg.files()}
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    out.print(f"[bold]Ledger[/] {escape(data['path'])}: {data['claims']} claims, {data['lines_billed']} lines billed "
              f"for {len(data['practices'])} practice(s); {data['runs']} runs; control numbers used up to "
              + ", ".join(f"{k} {v}" for k, v in data["control_numbers"].items()), highlight=False)
    # a narrow terminal drops the hash, the time and the control number before it cuts a name or an amount
    cols = (Col("File", keep=1, shorten=True), Col("Payer", whole=True), Col("ISA13", keep=5, justify="right", whole=True),
            Col("Claims", keep=2, justify="right", whole=True), Col("Lines", keep=3, justify="right", whole=True),
            Col("Total", justify="right", whole=True), Col("Created", keep=6), Col("State", keep=4, whole=True),
            Col("SHA-256", keep=7, whole=True))
    out.print(cli_common.fitted_table("Files", cols, [
        [escape(Path(f["path"]).name), escape(f["payer_key"]), str(abs(f["interchange"])), f"{f['claims']:,}",
         f"{f['lines']:,}", escape(_money(f["total"])), escape(str(f["created"])), escape(f["state"]),
         f["sha256"][:16]] for f in data["files"]]))


def _money(total: Any) -> str:
    """The ledger stores a file's total as text ("1234.5"): shown with thousands and cents."""
    try:
        return f"{Decimal(str(total)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(total)


@ledger_app.command()
def check(workbook: WorkbookArg = None, ledger: LedgerOpt = None, out_dir: OutOpt = None,
          as_json: JsonOpt = False) -> None:
    """Settle files left pending by a stopped run, then check the database and every file's SHA-256."""
    with _open(workbook, ledger, out_dir, readonly=False) as lg:
        resolutions = lg.resolve_pending()
        result = lg.integrity()
        path = str(lg.path)
    data = {"path": path, "ok": result.ok, "problems": result.problems,
            "pending_resolved": [{"path": r.path, "outcome": r.outcome, "lines": r.lines} for r in resolutions]}
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        for r in resolutions:
            out.print(f"pending {escape(Path(r.path).name)}: {r.outcome} ({r.lines} lines)", highlight=False)
        for p in result.problems:
            out.print(f"[red]problem:[/] {escape(p)}", highlight=False)
        out.print(f"ledger {escape(path)}: " + ("sound" if result.ok else f"{len(result.problems)} problem(s)"),
                  highlight=False)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FINDINGS)


@ledger_app.command()
def migrate(
    source: Annotated[str, typer.Option("--from", help="The ledger to copy: sqlite:PATH (or a path), or a "
                                                       "postgresql:// URL.")],
    target: Annotated[str, typer.Option("--to", help="Where to: postgresql://user@host/db (an empty database), "
                                                     "or sqlite:PATH.")],
    as_json: JsonOpt = False,
) -> None:
    """Move a ledger (e.g. a practice's SQLite file onto the team's PostgreSQL server) and verify it.

    Copies files, claims, billed lines, postings, runs, batch inputs, counters and meta records, then checks
    row counts and control-number high-water marks. A target that holds another ledger is refused; one that
    holds this same ledger already is left as it is (running it again is safe). Stop all runs first."""
    from otbill_xl.ledger.migrate import migrate_ledger, parse_target

    try:
        done = migrate_ledger(parse_target(source), parse_target(target))
    except OtbillError as exc:
        raise _fail(str(exc)) from None
    data = {"from": done.source, "to": done.target, "outcome": done.outcome, "rows": done.counts,
            "control_numbers": done.counters, "notes": done.notes}
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    what = "copied and verified" if done.outcome == "copied" else "already holds this ledger; nothing copied"
    out.print(f"{escape(done.target)}: {what} — "
              + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in done.counts.items())
              + "; control numbers up to " + ", ".join(f"{k} {v}" for k, v in done.counters.items()), highlight=False)
    for note in done.notes:
        out.print(f"note: {escape(note)}", highlight=False)
