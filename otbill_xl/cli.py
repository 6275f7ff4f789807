"""The ``otbill`` command. Thin: parse arguments, call the library, format the result.

Exit codes: 0 ok, 1 findings with errors (``price``: also a line that could not be priced), 2 unusable
input (or a usage error); then no output is written. Shared helpers live in :mod:`otbill_xl.cli_common`.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from otbill_xl._version import __version__
from otbill_xl.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNUSABLE,
    Col,
    WordsGroup,
    dumps,
    err,
    fail,
    fitted_table,
    header_words,
    out,
    output_target,
    print_findings,
    print_item,
    progress,
    save_copy,
)
from otbill_xl.domain.findings import Severity, count_by_severity
from otbill_xl.errors import OtbillError
from otbill_xl.workbook.reader import PracticeRead, ReadReport, read_practice

app = typer.Typer(add_completion=False, no_args_is_help=True, help="otbill — occupational-therapy billing for Excel workbooks.",
                  cls=WordsGroup)  # help in words: FILE, DATE, AMOUNT instead of <path>, <str>
templates_app = typer.Typer(no_args_is_help=True, help="Workbook templates.")
app.add_typer(templates_app, name="templates")


def _register_subcommands() -> None:
    from otbill_xl.cli_excel import excel_app
    from otbill_xl.cli_fee_schedule import fee_schedule_app
    from otbill_xl.cli_ledger import ledger_app
    from otbill_xl.cli_reconcile import reconcile
    from otbill_xl.cli_refdata import refdata_app

    app.add_typer(fee_schedule_app, name="fee-schedule")
    # the spelling of the first releases, still accepted (not listed in --help)
    app.add_typer(fee_schedule_app, name="feeschedule", hidden=True)
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(excel_app, name="excel")
    app.add_typer(refdata_app, name="refdata")
    app.command(name="reconcile")(reconcile)


_register_subcommands()

ColumnsOpt = Annotated[Path | None, typer.Option("--columns", help="TOML file mapping your headers to otbill columns.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"otbill {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """otbill — occupational-therapy billing for Excel workbooks."""


def load(path: Path, columns: Path | None) -> PracticeRead:
    try:
        return read_practice(path, columns=columns)
    except OtbillError as exc:
        raise fail(str(exc)) from None


def print_report(report: ReadReport) -> None:
    # sheet names and counts are never cut; extra columns, then where and how a sheet was found, go first
    cols = (Col("Contract sheet", whole=True), Col("Found as", keep=3, whole=True), Col("Sheet", keep=2),
            Col("Header row", keep=4, justify="right", whole=True), Col("Rows", justify="right", whole=True),
            Col("Missing required"), Col("Extra columns", keep=5))
    out.print(fitted_table(f"{escape(report.file)}: sheets", cols, [
        [s.contract, s.found_as, escape(s.sheet), str(s.header_row or ""), f"{s.rows:,}",
         escape(", ".join(s.missing_required)), escape(", ".join(s.extra_headers))] for s in report.sheets]))
    for s in report.sheets:
        mapped = [m for m in s.columns if m.index and (m.how != "exact" or m.header != m.column)]
        if mapped:
            out.print(f"[bold]{escape(s.contract)}[/]: " + "; ".join(f"{escape(m.column)} ← {escape(repr(m.header))} "
                                                                    f"({m.letter}, {m.how})" for m in mapped),
                      highlight=False)
    print_findings(report.findings)


@app.command()
def info(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx).")],
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Sheets and tables found, row counts, how each column was mapped, and what is missing."""
    book, report = load(workbook, columns)
    counts = count_by_severity(report.findings)
    hints = _sheet_suggestions(workbook, report, columns)
    if as_json:
        payload = report.to_dict() | {"summary": counts | {"charges": len(book.charges), "patients": len(book.patients),
                                                            "payers": len(book.payers), "providers": len(book.providers),
                                                            "payments": len(book.payments)}}
        sys.stdout.write(dumps(payload | {"suggestions": hints}) + "\n")
    else:
        print_report(report)
        for hint in hints:
            out.print(f"[bold]Suggestion:[/] {escape(hint)}", highlight=False)
        out.print(f"{len(book.charges)} charge lines, {len(book.patients)} patients, {len(book.payers)} payers, "
                  f"{len(book.providers)} providers, {len(book.payments)} payments; "
                  f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} infos.")
    raise typer.Exit(EXIT_FINDINGS if counts["error"] else EXIT_OK)


def _sheet_suggestions(workbook: Path, report: ReadReport, columns: Path | None) -> list[str]:
    """Sheets whose headers look like a contract sheet the workbook lacks (an optional one: the reader
    itself picks or names look-alikes of the required ones), with the mapping that reads them."""
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.lookalike import suggestions
    from otbill_xl.workbook.mapping import merge_overrides, overrides_from_rows, overrides_from_toml
    from otbill_xl.workbook.reader import COLUMNS_SHEET

    try:
        port = FileWorkbook(workbook)
        own = overrides_from_rows(port.values(COLUMNS_SHEET)) if COLUMNS_SHEET in port.sheet_names() else {}
        overrides = merge_overrides(own, overrides_from_toml(columns) if columns else {})
        found = {s.contract: s.sheet for s in report.sheets if s.found_as != "not read"}
        return [x.hint() for x in suggestions(port, found, overrides)]
    except OtbillError:
        return []  # the workbook was read once already; a suggestion is never worth failing for


def parse_as_of(value: str | None) -> date:
    if not value:
        return date.today()  # the surface owns the clock; the domain gets a plain date
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--as-of {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-27.") from None


def _book_suffix(workbook: Path) -> str:
    return ".xlsm" if workbook.suffix.lower() == ".xlsm" else ".xlsx"


def run_on_copy(workbook: Path, out_file: Path | None, suffix: str, columns: Path | None, action):
    """Run a workbook action on a file and save the annotated copy; unusable input (also a workbook
    without a Charges sheet) ends the command with exit code 2, a clear message and no file written.

    The default copy is ``WORKBOOK.<suffix>-<run stamp>.xlsx``, a new file on every run (an earlier
    copy is never erased); an explicit ``--out FILE`` replaces FILE (never the input)."""
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.mapping import overrides_from_toml

    # Keep .xlsm for macro workbooks: openpyxl keeps their VBA, and Excel refuses macros in a .xlsx.
    inputs = [p for p in (workbook, columns) if p]
    target, replace = output_target(workbook, out_file, suffix, _book_suffix(workbook), inputs)
    try:
        with progress(f"Reading and {_DOING.get(suffix, 'checking')} {workbook.name} ..."):
            port = FileWorkbook(workbook)
            outcome = action(port, overrides_from_toml(columns) if columns else None)
    except OtbillError as exc:
        raise fail(str(exc)) from None
    charges = outcome.report.sheet("Charges")
    if charges is None or charges.found_as == "missing":
        raise fail(f"{workbook.name}: the workbook has no Charges sheet (one row per service line), so there is "
                   "nothing to check or price; no copy was written. Fix: add a sheet named Charges (copy it from "
                   "workbook_templates/otbill-practice.xlsx), or rename the sheet holding your charge lines to "
                   f"Charges{_charges_sheet_hint(outcome.report)}")
    with progress(f"Writing the annotated copy {target.name} ..."):
        save_copy(port, target, replace=replace)
    return outcome, target


_DOING = {"checked": "checking", "priced": "pricing"}


def _charges_sheet_hint(report: ReadReport) -> str:
    """The end of the no-Charges-sheet message: how to map a sheet of another name, and the sheets that
    look like one (from the reader's finding)."""
    alike = next((f.fix.split("workbook_templates/otbill-practice.xlsx, or map your own sheet to it.", 1)[-1]
                  for f in report.findings if f.rule == "read.sheet-missing" and f.location.sheet == "Charges"), "")
    return (', or map it: a Columns-sheet row Charges | Sheet | <its name>, or Charges = "<its name>" under [sheets] '
            f"in a --columns TOML file.{alike}")


AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Check as of this date (YYYY-MM-DD); default today.")]


@app.command()
def check(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx).")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Annotated copy to write; replaces FILE if it exists "
                                                                "(default: a new WORKBOOK.checked-YYYYMMDD-HHMMSS.xlsx "
                                                                "on every run).")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """Scrub the charge sheet: write an annotated copy (cells filled, notes, Findings sheet)."""
    from otbill_xl.actions.check import check_charges

    day = parse_as_of(as_of)
    outcome, target = run_on_copy(workbook, out_file, "checked", columns,
                                  lambda port, overrides: check_charges(port, as_of=day, overrides=overrides))
    if as_json:
        sys.stdout.write(dumps(outcome.to_dict()) + "\n")
    else:
        print_findings(outcome.findings)
        s = outcome.summary
        out.print(f"{s['lines_checked']} charge lines checked as of {day.isoformat()}: [red]{s['errors']} errors[/], "
                  f"[yellow]{s['warnings']} warnings[/], [blue]{s['infos']} infos[/]; "
                  f"units computed for {s['units_filled']} blank cells. Annotated copy: {escape(str(target))}",
                  highlight=False)
    raise typer.Exit(EXIT_FINDINGS if outcome.has_errors else EXIT_OK)


@app.command()
def price(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx).")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Annotated copy to write; replaces FILE if it exists "
                                                                "(default: a new WORKBOOK.priced-YYYYMMDD-HHMMSS.xlsx "
                                                                "on every run).")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """Expected allowed amount, payer payment and patient share of every line, to the cent (Pricing sheet).

    Exits 1 when a line has a scrub error or could not be priced (see its Basis), 2 when the workbook
    cannot be used (no copy written)."""
    from otbill_xl.actions.price import price_charges

    day = parse_as_of(as_of)
    outcome, target = run_on_copy(workbook, out_file, "priced", columns,
                                  lambda port, overrides: price_charges(port, as_of=day, overrides=overrides))
    if as_json:
        sys.stdout.write(dumps(outcome.to_dict()) + "\n")
    else:
        print_price_totals(outcome)
        out.print(f"Annotated copy with Pricing and Pricing Totals sheets: {escape(str(target))}", highlight=False)
    unpriced = any(p.expected_allowed is None for p in outcome.result.lines)
    errors = any(f.severity is Severity.ERROR for f in outcome.findings)
    raise typer.Exit(EXIT_FINDINGS if errors or unpriced else EXIT_OK)


def print_price_totals(outcome) -> None:
    from otbill_xl.actions.price import TOTAL_COLUMNS, totals_values

    # An 80-column terminal shows what the payer pays first; the breakdown columns are dropped first.
    cols = [Col(header_words(col), keep=_TOTALS_KEEP.get(col, 20), justify="left" if col == "PayerKey" else "right",
                whole=True) for col in TOTAL_COLUMNS]
    rows = [[f"{v:,.2f}" if hasattr(v, "quantize") else escape(f"{v:,}" if isinstance(v, int) else str(v))
             for v in totals_values(t)] for t in outcome.result.totals]
    out.print(fitted_table(f"Expected reimbursement by payer (as of {outcome.as_of.isoformat()})", cols, rows))
    flagged = sum(1 for p in outcome.result.lines if p.flagged)
    unpriced = sum(1 for p in outcome.result.lines if p.expected_allowed is None)
    out.print(f"{len(outcome.result.lines)} lines priced; {flagged} have scrub errors (priced anyway, flagged); "
              f"{unpriced} could not be priced (see the Basis column).")


#: Which Pricing Totals columns a narrow terminal keeps (0: always; the highest number is dropped first).
_TOTALS_KEEP = {"PayerKey": 0, "ExpectedPayerPayment": 0, "ExpectedAllowed": 1, "Charge": 2, "ExpectedPatientResp": 3,
                "Lines": 4, "Units": 5, "MPPRReduction": 6, "Sequestration": 7, "Copay": 8, "FeeAllowed": 9,
                "AssistantReduction": 10}


GroupOpt = Annotated[str, typer.Option("--group", help="visit: one claim per date of service; period: per month.")]
# (text, not Path: a postgresql://user@host/db URL would lose a slash in a Path)
LedgerOpt = Annotated[str | None, typer.Option(
    "--ledger", help="Claim ledger file, or a postgresql://user@host/db URL for a ledger shared by a team (default: "
                     "the Practice setting LedgerPath, else $OTBILL_LEDGER, else one ledger per submitter in your user "
                     "data folder; `otbill ledger where` shows it).")]


def _check_group(group: str) -> str:
    if group not in ("visit", "period"):
        raise fail(f"--group {group!r}: use visit or period.")
    return group


@app.command()
def claims(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the 837P files and the annotated copy.")] = Path("out"),
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
    group: GroupOpt = "visit",
    strict: Annotated[bool, typer.Option("--strict", help="Hold back lines with warnings too.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be billed and held back; write nothing "
                                                            "(no claim file, no ledger entry, no annotated copy).")] = False,
    preview: Annotated[bool, typer.Option("--preview", help="A dry run that also writes *.837.preview files marked as "
                                                            "test data (ISA15=T) to look at; never to upload.")] = False,
    rebill: Annotated[str, typer.Option("--rebill", help="LineIDs to bill again although the ledger has them (comma-separated).")] = "",
    ledger_path: LedgerOpt = None,
    columns: ColumnsOpt = None,
    secondary: Annotated[bool, typer.Option("--secondary", help="Bill the secondary payers: lines billed to the primary "
                                                                "whose adjudication is posted on the Payments sheet "
                                                                "(SBR01=S with the primary's payment, 2320/2430).")] = False,
) -> None:
    """Create 837P (005010X222A1) claim files, one per payer; never bill a service twice."""
    from datetime import datetime

    from otbill_xl.actions.batch import file_sha256
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.ledger import LedgerChoice
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.mapping import overrides_from_toml

    day = parse_as_of(as_of)
    _check_group(group)
    _check_out_folder(out_dir)
    try:
        with progress(f"Reading, checking and billing {workbook.name} ..."):
            port = FileWorkbook(workbook)
            outcome = create_claims(port, out_dir=out_dir, ledger=LedgerChoice(ledger_path, out_dir), as_of=day,
                                    created=datetime.now(), group=group, strict=strict, dry_run=dry_run, preview=preview,
                                    rebill=frozenset(x.strip() for x in rebill.split(",") if x.strip()),
                                    overrides=overrides_from_toml(columns) if columns else None,
                                    workbook_sha256=file_sha256(workbook), secondary=secondary)
    except OtbillError as exc:
        raise fail(str(exc)) from None
    charges = outcome.report.sheet("Charges")
    if charges is None or charges.found_as == "missing":
        raise fail(f"{workbook.name}: the workbook has no Charges sheet (one row per service line), so there is "
                   "nothing to bill; nothing was written. Fix: add a sheet named Charges (copy it from "
                   "workbook_templates/otbill-practice.xlsx), or rename the sheet holding your charge lines"
                   f"{_charges_sheet_hint(outcome.report)}")
    annotated: Path | None = None
    problems = list(outcome.problems)
    if not outcome.dry_run:
        # A new name per run (run stamp): an earlier run's annotated copy is never replaced.
        from otbill_xl.workbook.files import unused_name

        annotated = unused_name(out_dir / f"{workbook.stem}.claims-{outcome.run_stamp}{_book_suffix(workbook)}")
        try:
            with progress(f"Writing the annotated copy {annotated.name} ..."):
                port.save(str(annotated), replace=False)
        except Exception as exc:  # billing is done and recorded: say so, whatever failed here
            problems.append(f"the annotated copy could not be written ({_reason(exc)}); {outcome.lines_billed} lines "
                            f"were billed in {len([f for f in outcome.files if f.state == 'written'])} file(s) and "
                            "are in the ledger")
            annotated = None
    if as_json:
        sys.stdout.write(dumps(outcome.to_dict() | {"annotated": str(annotated) if annotated else None,
                                                    "problems": problems}) + "\n")
    else:
        print_claims_summary(outcome)
        for problem in problems[len(outcome.problems):]:
            err.print(f"[red]{escape(problem)}[/]", highlight=False)
        if annotated:
            out.print(f"Annotated copy (ClaimID/Status filled, Claims and Held Back sheets): {escape(str(annotated))}",
                      highlight=False)
    raise typer.Exit(EXIT_FINDINGS if problems or outcome.held_for_errors else EXIT_OK)


def _check_out_folder(out_dir: Path) -> None:
    """--out of claims and batch names a folder: say so in words when it names a file."""
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir.name} is a file, not a folder; claim files and copies go into a folder. "
                   f"Fix: give a folder name, e.g. --out {out_dir.with_suffix('')}-claims.")


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, OtbillError) else type(exc).__name__


def print_claims_summary(outcome) -> None:
    if outcome.preview:
        title = " (preview: test files, nothing billed or recorded)"
    elif outcome.dry_run:
        title = " (dry run: what would be billed; nothing written)"
    else:
        title = ""
    cols = (Col("Payer", whole=True), Col("Claims", justify="right", whole=True),
            Col("Lines", keep=2, justify="right", whole=True), Col("Charges", justify="right", whole=True),
            Col("File", keep=1, shorten=True))
    files = {f.payer_key: f for f in outcome.files}
    rows = []
    for payer, t in sorted(outcome.totals_by_payer().items()):
        f = files.get(payer)
        shown = Path(f.path).name if f and f.path else ("(not written)" if not f else "(dry run)")
        rows.append([escape(payer), f"{t['claims']:,}", f"{t['lines']:,}", f"{t['charges']:,.2f}", escape(shown)])
    out.print(fitted_table("Claims by payer" + title, cols, rows))
    held = outcome.assembly.held_back
    if outcome.dry_run:
        out.print(f"{len(outcome.assembly.claims)} claims, {outcome.lines_planned} lines would be billed; "
                  f"{len(held)} lines held back.")
    else:
        out.print(f"{len(outcome.billed_claims)} claims, {outcome.lines_billed} lines billed; {len(held)} lines held back.")
    for e in held[:25]:
        print_item(f"held back {e.line_id or 'row ' + str(e.row)}: {e.reasons[0]}")
    if len(held) > 25:
        print_item(f"... and {len(held) - 25} more (see the Held Back sheet).")
    for f in outcome.files:
        name = Path(f.path).name if f.path else f.payer_key
        for warning in f.warnings[:10]:
            print_item(f"{name}: {warning}")
        if len(f.warnings) > 10:
            print_item(f"{name}: ... and {len(f.warnings) - 10} more warnings (--json lists all).")
    for note in outcome.notes:
        err.print(f"otbill: {note}", highlight=False, markup=False)
    if outcome.ledger_path:
        err.print(f"ledger: {outcome.ledger_path}", highlight=False, markup=False)
    for problem in outcome.problems:
        err.print(f"[red]{escape(problem)}[/]", highlight=False)


EXIT_INTERRUPTED = 128 + 2  # the shell's status for a command stopped by SIGINT


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Workbooks, folders or globs.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes (default: number of CPUs).")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
    group: GroupOpt = "visit",
    strict: Annotated[bool, typer.Option("--strict", help="Hold back lines with warnings too.")] = False,
    ledger_path: LedgerOpt = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run on a Dask cluster instead of worker processes here: tcp://HOST:8786 (its workers "
                            "must reach the inputs and --out at the same paths, a shared folder: checked from "
                            "every worker before starting; the ledger must be PostgreSQL), or local:N (N worker "
                            'processes on this machine). Needs pip install "otbill-xl[dask]".')] = None,
) -> None:
    """Convert many workbooks (check → price → claims) in parallel; resumable; batch-report.xlsx/json.

    A worker that dies fails only its input; Ctrl-C stops cleanly (report marked interrupted, exit 130).
    With --scheduler the inputs run as tasks on a Dask cluster, each worker writing into --out."""
    from datetime import datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from otbill_xl.actions.batch import run_batch

    day = parse_as_of(as_of)
    _check_group(group)
    _check_out_folder(out_dir)
    if workers is not None and workers < 1:
        raise fail("--workers must be 1 or more.")
    if workers is not None and scheduler:
        raise fail("--workers sets the processes on this machine; with --scheduler the cluster's workers run the "
                   "inputs (local:N starts N). Fix: leave out --workers.")
    tally = {"claims": 0, "lines": 0, "errors": 0}
    interactive = err.is_terminal and not as_json
    progress = Progress(TextColumn("[bold]otbill batch"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[claims]} claims · {task.fields[lines]} lines · {task.fields[errors]} errors"),
                        TimeRemainingColumn(), console=err, disable=not interactive)
    task = progress.add_task("batch", total=None, claims=0, lines=0, errors=0)

    def on_result(r, done: int, total: int) -> None:
        tally["claims"] += r.claims
        tally["lines"] += r.lines_billed
        tally["errors"] += r.errors + (r.outcome in ("unusable", "failed"))
        progress.update(task, completed=done, total=total, **tally)
        if not interactive:
            err.print(f"[{done}/{total}] {r.outcome:<10} {Path(r.path).name}: {r.claims} claims, {r.lines_billed} lines"
                      + (f" — {r.message}" if r.message else ""), highlight=False, markup=False)

    try:
        with progress:
            result = run_batch(inputs, out_dir, ledger_path=ledger_path, workers=workers, as_of=day,
                               created=datetime.now(), group=group, strict=strict, on_result=on_result,
                               scheduler=scheduler)
    except OtbillError as exc:
        raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(Path(result.report_json).read_text(encoding="utf-8"))
    else:
        out.print(f"{len(result.results)} inputs in {result.seconds:.1f} s: "
                  + ", ".join(f"{n} {k}" for k, n in sorted(result.counts.items()))
                  + f". Reports: {result.report_xlsx}, {result.report_json}")
    if result.interrupted:
        not_started = sum(1 for r in result.results if r.outcome == "not-started")
        err.print(f"otbill: batch interrupted (Ctrl-C): {not_started} inputs not started; run the same command again "
                  "to finish (converted inputs are skipped, nothing is billed twice).", highlight=False, markup=False)
        raise typer.Exit(EXIT_INTERRUPTED)
    bad = sum(1 for r in result.results if r.outcome in ("unusable", "failed"))
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)


@app.command()
def units(
    source: Annotated[str, typer.Argument(help="JSON file, or - for standard input.")] = "-",
) -> None:
    """Billable units for visits given as JSON: {"rule": "cms"|"ama", "lines": [{"code", "minutes"}]}
    or {"visits": [...]}; prints JSON with total_units, units per code, alternatives, explanation."""
    from otbill_xl.formats.units_json import UnitsJSONError, units_from_json

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"{source}: cannot read the file ({exc.strerror}).") from None
    try:
        result = units_from_json(text)
    except UnitsJSONError as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(dumps(result) + "\n")


@app.command("simulate-remit")
def simulate_remit(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx) the claims were billed from.")],
    claims_dir: Annotated[Path, typer.Option("--claims", help="Folder of the 837P files otbill claims wrote.")],
    out_file: Annotated[Path, typer.Option("--out", help="The 835 file to write (replaced if it exists).")],
    outcomes: Annotated[Path | None, typer.Option("--outcomes", help="JSON file of outcomes to plant (see below).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Payment date (YYYY-MM-DD); default today.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a test 835 (ISA15=T) paying the claims in --claims as the workbook's pricing expects: a
    simulated payer for tests and demos, never a real remittance.

    Each line pays the expected payment with CO-45 (charge − expected allowed), PR-1/PR-2/PR-3
    (deductible, coinsurance, copay), CO-253 (sequestration) and AMT*B6 (expected allowed); one
    remittance per payer. --outcomes plants what real payers do, as JSON
    {"outcomes": [{"type": ..., ...}], "unpriced": {"group": "CO", "reason": "97"}} with types:
    deny (line, group, reason, remarks, amount = a partial denial), underpay / overpay (line, amount),
    drop_modifiers (line), change_code (line, code), reverse (claim or line, overpaid), takeback
    (claim or line, reason WO|72|..., amount), duplicate (claim or line), skip (claim or line), unmatched
    (payer, code, charge, paid, dos); line outcomes take line_control false to leave out REF*6R.
    Details: docs/simulate-remit.md. --json prints the remittances and the planted outcomes with the
    reconciliation status each should get."""
    from otbill_xl.actions.simulate import simulate_remittances, write_simulated_remit

    day = parse_as_of(as_of)
    if not claims_dir.is_dir():
        raise fail(f"--claims {claims_dir.name} is not a folder of 837P files; run otbill claims WORKBOOK --out FOLDER "
                   "first.")
    target, _ = output_target(workbook, out_file, "simulated", ".835", [workbook, *([outcomes] if outcomes else [])])
    try:
        with progress(f"Reading {workbook.name}, pricing it and paying the claims in {claims_dir.name} ..."):
            result = simulate_remittances(workbook, claims_dir, outcomes, as_of=day)
            write_simulated_remit(result, target)
    except OtbillError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{target.name}: cannot write the 835 ({exc.strerror}).") from None
    if as_json:
        sys.stdout.write(dumps(result.to_dict() | {"out": str(target)}) + "\n")
    else:
        cols = (Col("Payer"), Col("Trace", keep=2, whole=True), Col("Claims", keep=1, justify="right", whole=True),
                Col("Lines", keep=3, justify="right", whole=True), Col("Paid", justify="right", whole=True))
        out.print(fitted_table(f"Simulated remittances ({day.isoformat()}, test data)", cols, [
            [escape(p.payer_name), escape(p.trace_number), f"{len(p.claims):,}",
             f"{sum(len(c.lines) for c in p.claims):,}", f"{p.amount:,.2f}"] for p in result.simulation.payments]))
        for note in result.notes:
            err.print(f"otbill: {note}", highlight=False, markup=False)
        out.print(f"{len(result.planted)} planted outcomes. 835 written: {escape(str(target))}", highlight=False)
    raise typer.Exit(EXIT_OK)


@templates_app.command("build")
def templates_build(
    dest: Annotated[Path, typer.Option("--dest", help="Folder to write the templates into.")] = Path("workbook_templates"),
) -> None:
    """Write otbill-practice.xlsx (empty) and examples/sample-practice.xlsx (synthetic practice)."""
    from otbill_xl.templates.build import build_all

    for path in build_all(dest):
        out.print(f"wrote {escape(str(path))}", highlight=False)


@templates_app.command("aliases")
def templates_aliases(
    readme: Annotated[Path | None, typer.Option("--readme", help="Rewrite this README's generated aliases section "
                                                                  "instead of printing it.")] = None,
) -> None:
    """Every sheet name and column header otbill accepts (Markdown, from the workbook contract)."""
    from otbill_xl.workbook.aliases_doc import markdown, with_section

    if readme is None:
        sys.stdout.write(markdown())
        raise typer.Exit(EXIT_OK)
    try:
        readme.write_text(with_section(readme.read_text(encoding="utf-8")), encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise fail(f"{readme}: {exc}") from None
    out.print(f"wrote {escape(str(readme))}", highlight=False)


@app.command()
def demo(
    dest: Annotated[Path, typer.Option("--dest", help="Output folder.")] = Path("out"),
    as_of: AsOfOpt = "2026-11-27",
) -> None:
    """The main job on the bundled sample practice: build it into OUT, read it, check it, price it,
    bill it (837P files in OUT/claims), have a simulated payer pay it (OUT/remits) and reconcile the
    payment, and confirm every deliberately planted error was found. Exits 0 when the pipeline ran and
    found them all (the planted errors are expected)."""
    from datetime import datetime

    from otbill_xl.actions.check import check_charges
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.actions.price import price_charges
    from otbill_xl.ledger import Ledger
    from otbill_xl.templates.build import build_sample
    from otbill_xl.templates.sample import PLANTED_ERRORS
    from otbill_xl.workbook.files import FileWorkbook

    sample = build_sample(dest / "sample-practice.xlsx")
    out.print(f"[bold]Sample practice workbook:[/] {sample}")
    day = parse_as_of(as_of)
    try:
        port = FileWorkbook(sample)
        pipeline = Pipeline(port, as_of=day, prices=True)  # read once, scrub once: check, price and claims share it
        book, report = pipeline.read
    except OtbillError as exc:
        raise fail(str(exc)) from None
    print_report(report)
    out.print(f"{len(book.charges)} charge lines for {len(book.patients)} patients, {len(book.payers)} payers, "
              f"{len(book.providers)} providers.\n")

    outcome = check_charges(port, pipeline=pipeline)
    print_findings(outcome.findings, limit=20)
    s = outcome.summary
    out.print(f"[bold]Check[/] as of {day.isoformat()}: {s['lines_checked']} lines, [red]{s['errors']} errors[/], "
              f"[yellow]{s['warnings']} warnings[/], [blue]{s['infos']} infos[/]; units computed for "
              f"{s['units_filled']} blank cells.\n")
    priced = price_charges(port, pipeline=pipeline)
    print_price_totals(priced)
    # Claims: the demo keeps its own ledger and claim folder and starts them afresh on every run, so
    # running it twice shows the same result (a real run never forgets what it billed).
    claims_dir = dest / "claims"
    demo_ledger = claims_dir / ".otbill" / "demo-ledger.sqlite"
    for old in [*claims_dir.glob("*.837"), demo_ledger]:
        old.unlink(missing_ok=True)
    with Ledger(demo_ledger) as ledger:
        billed = create_claims(port, out_dir=claims_dir, ledger=ledger, as_of=day, created=datetime.now(),
                               pipeline=pipeline)
    out.print()
    print_claims_summary(billed)
    annotated = dest / "sample-practice.otbill.xlsx"
    port.save(str(annotated))
    out.print(f"837P files in {claims_dir}/; annotated copy (cells marked, Findings, Check Summary, Pricing, "
              f"Pricing Totals, ClaimID/Status, Claims, Held Back): {annotated}")
    payable = {p.line_id for p in pipeline.pricing.lines if (p.expected_payer_payment or 0) > 20}
    _demo_reconcile(dest, annotated, claims_dir, demo_ledger, billed, day, payable)
    row_of = {line.line_id: line.row for line in book.charges}
    found = {(f.rule, f.location.row) for f in outcome.findings}
    missed = [p for p in PLANTED_ERRORS if (p.rule, row_of.get(p.line_id)) not in found]
    out.print(f"Planted errors found: {len(PLANTED_ERRORS) - len(missed)}/{len(PLANTED_ERRORS)}"
              + (f" — missed: {', '.join(f'{p.line_id} {p.rule}' for p in missed)}" if missed else ""))
    raise typer.Exit(EXIT_FINDINGS if missed else EXIT_OK)


def demo_outcomes(billed, payable: set[str]) -> list[dict]:
    """What the demo's simulated payer does besides paying as priced: one of each thing an office
    manager meets on a remittance (docs/simulate-remit.md), on claims picked by position so every run
    plants the same (claims whose first line the payer pays something on: ``payable`` LineIDs)."""
    claims = sorted((c for c in billed.billed_claims if c.lines[0].line_id in payable), key=lambda c: c.claim_id)
    if len(claims) < 10:
        return []
    first = [c.lines[0].line_id for c in claims]
    return [{"type": "deny", "line": first[0], "group": "CO", "reason": "97", "remarks": ["M15"]},
            {"type": "deny", "line": first[1], "group": "CO", "reason": "50"},
            {"type": "deny", "line": first[2], "group": "CO", "reason": "151", "amount": "10.00", "remarks": ["N362"]},
            {"type": "underpay", "line": first[3], "amount": "5.00"},
            {"type": "drop_modifiers", "line": first[4], "line_control": False},
            {"type": "reverse", "claim": claims[5].claim_id},
            {"type": "takeback", "claim": claims[6].claim_id, "reason": "WO", "amount": "25.00"},
            {"type": "duplicate", "claim": claims[7].claim_id},
            {"type": "skip", "claim": claims[8].claim_id}]


def _demo_reconcile(dest: Path, billed_copy: Path, claims_dir: Path, ledger_path: Path, billed, day: date,
                    payable: set[str]) -> None:
    """The demo's last step: a simulated payer pays the claims just written (with planted denials,
    an underpayment, a reversal, a takeback, a duplicate), and reconcile posts and explains it."""
    from datetime import datetime

    from otbill_xl.actions.reconcile import RemitFile, reconcile_payments
    from otbill_xl.actions.simulate import simulate_remittances, write_simulated_remit
    from otbill_xl.cli_reconcile import print_summary
    from otbill_xl.ledger import Ledger
    from otbill_xl.workbook.files import FileWorkbook

    if not billed.billed_claims:
        return
    remits = dest / "remits"
    remits.mkdir(parents=True, exist_ok=True)
    era = remits / "demo-payer.835"
    try:
        sim = simulate_remittances(billed_copy, claims_dir, demo_outcomes(billed, payable), as_of=day)
        write_simulated_remit(sim, era)
        reconciled = dest / "sample-practice.reconciled.xlsx"
        reconciled.unlink(missing_ok=True)   # the demo starts afresh (its ledger too)
        with Ledger(ledger_path) as ledger:
            outcome = reconcile_payments(FileWorkbook(billed_copy), [RemitFile(era.name, era.read_bytes())],
                                         as_of=day, posted_at=datetime.now(), ledger=ledger, output=reconciled)
    except OtbillError as exc:
        raise fail(str(exc)) from None
    out.print()
    print_summary(outcome)
    out.print(f"Simulated remittance (test data): {era}; reconciled copy (Payments posted, Reconciliation, "
              f"Exceptions, Denials, AR Aging, with charts): {reconciled}")


def main() -> None:
    """Console entry point: bad input never shows a traceback (set OTBILL_DEBUG=1 to see one)."""
    try:
        app(standalone_mode=True)
    except OtbillError as exc:
        err.print(f"[bold red]otbill:[/] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_UNUSABLE)
    except KeyboardInterrupt:
        err.print("otbill: interrupted.")
        sys.exit(130)
    except Exception as exc:  # a bug: say so briefly, without echoing data
        if os.environ.get("OTBILL_DEBUG"):
            raise
        err.print(f"[bold red]otbill: internal error ({type(exc).__name__}).[/] Set OTBILL_DEBUG=1 to see details "
                  "and report it.")
        sys.exit(EXIT_UNUSABLE)


__all__ = ["app", "main"]
