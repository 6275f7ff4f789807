"""``otbill reconcile``: remittances against the workbook, the office manager's button (issue #13 §4).

Thin: parse the options, read the files, call :func:`otbill_xl.actions.reconcile.reconcile_payments`,
print the summary or the JSON.
"""

from __future__ import annotations

import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from otbill_xl.cli_common import (
    EXIT_UNUSABLE,
    Col,
    default_output,
    dumps,
    err,
    fail,
    fitted_table,
    out,
    print_item,
    progress,
)
from otbill_xl.errors import OtbillError


def reconcile(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx) with the billed Charges.")],
    remit: Annotated[list[Path], typer.Option("--remit", help="An 835 file or a clearinghouse CSV export; repeat "
                                                              "for several.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Annotated copy to write (default: a new "
                                                                "WORKBOOK.reconciled-YYYYMMDD-HHMMSS.xlsx); never "
                                                                "replaces an existing file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Age receivables as of this date (YYYY-MM-DD); "
                                                              "default today.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be posted; write nothing (no copy, "
                                                            "no ledger entry).")] = False,
    ledger_path: Annotated[str | None, typer.Option("--ledger", help="Claim ledger file or postgresql:// URL (default as "
                                                                     "for `otbill claims`); it knows what was billed "
                                                                     "and posted.")] = None,
    tolerance: Annotated[str | None, typer.Option("--tolerance", help="A line paid within this many dollars of the "
                                                                      "expected amount is paid (default: the Practice "
                                                                      "setting PaymentTolerance, else 0.01).")] = None,
    columns: Annotated[Path | None, typer.Option("--columns", help="TOML file mapping your headers to otbill "
                                                                   "columns.")] = None,
    remit_columns: Annotated[Path | None, typer.Option("--remit-columns", help="TOML file mapping a CSV export's "
                                                                               "headers to otbill's remittance fields "
                                                                               "(docs/remittance-csv.md).")] = None,
    remit_preset: Annotated[str | None, typer.Option("--remit-preset", help="CSV export layout: hdi, nextgen or "
                                                                            "generic (default: found from the header "
                                                                            "row).")] = None,
) -> None:
    """Match remittances (835 or CSV) to what was billed, post them to Payments, explain every line that did
    not pay as expected, and age what is still owed (Reconciliation, Exceptions, Denials, AR Aging sheets).

    Exits 0 when everything matched and was explained, 1 when exceptions or unexplained variances remain,
    2 when an input cannot be used (the other remittance files are still reconciled)."""
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.actions.reconcile import RemitFile, reconcile_payments
    from otbill_xl.cli import _book_suffix, parse_as_of
    from otbill_xl.ledger import LedgerChoice
    from otbill_xl.ledger.location import open_ledger
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.mapping import overrides_from_toml

    day = parse_as_of(as_of)
    tol: Decimal | None = None
    if tolerance is not None:
        try:
            tol = Decimal(tolerance)
            if not tol.is_finite() or tol < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise fail(f"--tolerance {tolerance!r} is not an amount; use dollars, e.g. 0.01.") from None
    target = out_file or default_output(workbook, "reconciled", _book_suffix(workbook))
    mapping = None
    if remit_columns is not None:
        from otbill_xl.formats.remit_csv import mapping_from_toml

        try:
            mapping = mapping_from_toml(remit_columns)
        except OtbillError as exc:
            raise fail(str(exc)) from None
    if out_file is not None and out_file.exists():
        raise fail(f"--out {out_file.name} exists; reconcile never replaces a file (an earlier run's postings would "
                   "be lost). Choose a new name, or leave --out out for a new dated copy.")
    files: list[RemitFile] = []
    for path in remit:
        try:
            files.append(RemitFile(path.name, path.read_bytes()))
        except OSError as exc:
            raise fail(f"--remit {path.name}: cannot be read ({exc.strerror}). Fix: give the path of an 835 or CSV "
                       "remittance file.") from None
    try:
        with progress(f"Reading {workbook.name} and {len(files)} remittance file(s) ..."):
            port = FileWorkbook(workbook)
            pipeline = Pipeline(port, as_of=day, overrides=overrides_from_toml(columns) if columns else None,
                                prices=True, skip=frozenset())
            book = pipeline.book
            ledger, notes = open_ledger(LedgerChoice(ledger_path).locate(book.practice), readonly=dry_run)
        try:
            released = ledger.resolve_pending_postings()
            if released:
                notes.append(f"{released} posting(s) of a run that stopped before writing its copy were released")
            with progress("Reconciling ..."):
                outcome = reconcile_payments(port, files, as_of=day, posted_at=datetime.now(), ledger=ledger,
                                             dry_run=dry_run, tolerance=tol, output=None if dry_run else target,
                                             pipeline=pipeline, csv_preset=remit_preset, csv_mapping=mapping)
        finally:
            ledger.close()
    except OtbillError as exc:
        raise fail(str(exc)) from None
    notes += list(outcome.notes)
    if as_json:
        payload = outcome.to_dict() | {"annotated": None if dry_run else str(target), "notes": notes}
        sys.stdout.write(dumps(payload) + "\n")
    else:
        print_summary(outcome)
        for problem in outcome.unreadable:
            err.print(f"[red]{escape(problem)}[/]", highlight=False)
        for note in notes:
            err.print(f"otbill: {note}", highlight=False, markup=False)
        if not dry_run:
            out.print(f"Annotated copy (Payments, Reconciliation, Exceptions, Denials, AR Aging): {escape(str(target))}",
                      highlight=False)
    raise typer.Exit(EXIT_UNUSABLE if outcome.unreadable else outcome.exit_code)


def print_summary(outcome) -> None:
    from otbill_xl.domain.reconcile import STATUSES

    counts = outcome.result.counts()
    title = "Reconciliation" + (" (dry run: nothing posted or written)" if outcome.dry_run else "")
    cols = (Col("Status", whole=True), Col("Lines", justify="right", whole=True),
            Col("Billed", justify="right", whole=True), Col("Paid", justify="right", whole=True))
    rows = []
    for status in STATUSES:
        lines = [r for r in outcome.result.lines if r.status == status]
        if lines:
            rows.append([status, f"{counts[status]:,}", f"{sum(r.billed for r in lines):,.2f}",
                         f"{sum(r.paid for r in lines):,.2f}"])
    out.print(fitted_table(title, cols, rows))
    t = outcome.totals
    out.print(f"Paid {t['paid']:,.2f} of {t['billed']:,.2f} billed; patient responsibility "
              f"{t['patient_responsibility']:,.2f}; provider adjustments (PLB) {t['plb']:,.2f}; unexplained "
              f"{t['unexplained']:,.2f}. {outcome.posted_rows} Payments rows posted"
              + (" (dry run: none written)." if outcome.dry_run else "."), highlight=False)
    for r in outcome.result.remittances:
        flag = "" if r.balanced else "  [red]NOT BALANCED[/]"
        print_item(f"{escape(r.payer_key or r.payer_name)} check/EFT {escape(r.trace)} of "
                   f"{r.payment_date.isoformat() if r.payment_date else '?'}: {r.amount:,.2f} = claims "
                   f"{r.claims_paid:,.2f} − provider adjustments {r.plb:,.2f}{flag}", markup=True)
    for f in outcome.findings[:10]:
        err.print(f"otbill: {f}", highlight=False, markup=False)
    for e in outcome.result.exceptions[:20]:
        print_item(f"exception {e.kind}: {e.message}")
    if len(outcome.result.exceptions) > 20:
        print_item(f"... and {len(outcome.result.exceptions) - 20} more (see the Exceptions sheet).")

