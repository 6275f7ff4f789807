"""``otbill refdata ...``: reference data the scrubber uses, imported from CMS's published files.

* ``import-ncci --mue FILE --ptp FILE...`` reads CMS's quarterly practitioner MUE table and PTP edit
  files (the text/CSV tables, the zips CMS publishes them in, or their Excel copies) and stores them,
  dated, in the user's data folder (:mod:`otbill_xl.actions.refdata`); every later ``check``,
  ``price`` and ``claims`` uses them.
* ``show`` lists what is stored.

Like the fee-schedule imports: a file with any error line stores nothing unless ``--partial`` (then
the bad lines' codes keep what the same quarter's stored table had). Stored quarters other than the
imported one are never touched.

Exit codes: 0 stored cleanly (warnings allowed), 1 stored with ``--partial`` although lines had errors
(listed with file and line), 2 nothing stored (error lines without ``--partial``, an unusable file,
no quarter date).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from otbill_xl.cli_common import (
    EXIT_OK,
    dumps,
    fail,
    import_done,
    import_refused,
    out,
)
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.errors import OtbillError

refdata_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="Reference data from CMS's files: NCCI PTP pairs and MUE unit limits.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _effective(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"--effective {value!r} is not a date; use YYYY-MM-DD, the quarter's first day "
                   "(e.g. 2026-01-01).") from None


def _rows(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _unusable(messages: list[str], findings: list[Finding], as_json: bool) -> typer.Exit:
    return import_refused(messages, findings, as_json, result_key="stored",
                          nothing="nothing was stored; the reference data already imported is unchanged.")


@refdata_app.command("import-ncci")
def import_ncci(
    mue: Annotated[Path | None, typer.Option("--mue", help="CMS's Practitioner Services MUE table (CSV, its zip, "
                                                           "or the Excel copy).")] = None,
    ptp: Annotated[list[Path] | None, typer.Option("--ptp", help="CMS's practitioner PTP edit file(s) (the "
                                                                 "tab-delimited .txt, its zip, or the Excel copy); "
                                                                 "repeat for each part (f1 ... f4).")] = None,
    effective: Annotated[str | None, typer.Option("--effective", help="The quarter's first day, YYYY-MM-DD (default: "
                                                                      "the date in the MUE file's name; for PTP, "
                                                                      "the latest edit's effective date).")] = None,
    partial: Annotated[bool, typer.Option("--partial", help="Store the good lines although some lines have errors "
                                                            "(their codes keep the same quarter's stored values; "
                                                            "exit 1).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import CMS's quarterly practitioner NCCI files: the MUE table (--mue) and PTP edits (--ptp).

    The scrubber then reports units over a code's MUE (ncci.mue) and CMS's PTP pairs with their
    modifier indicators and dates (ncci.ptp-pair). Each quarter is stored apart: a newer quarter is
    added, older quarters are kept; importing the same quarter again replaces it. Only PTP edits whose
    two codes are in the OT code catalogue are kept (CMS splits the practitioner edits over several
    large files, nearly all of them other specialties' codes); every MUE line is kept.

    A file with error lines stores nothing unless --partial. Exit codes: 0 stored cleanly (warnings
    allowed); 1 stored with --partial although lines had errors; 2 nothing stored."""
    from otbill_xl.actions.refdata import store_ncci
    from otbill_xl.domain.codes import catalogue
    from otbill_xl.formats.ncci import NcciFileError, read_mue, read_ptp

    if mue is None and not ptp:
        raise fail("give --mue (CMS's practitioner MUE table), --ptp (the practitioner PTP edit files), or both.")
    when = _effective(effective)
    codes = {info.code for info in catalogue()}
    fatal: list[str] = []
    mue_read = ptp_read = None
    if mue is not None:
        try:
            mue_read = read_mue(mue)
        except NcciFileError as exc:
            fatal.append(str(exc))
    if ptp:
        try:
            ptp_read = read_ptp(ptp, keep=lambda c1, c2: c1 in codes and c2 in codes)
        except NcciFileError as exc:
            fatal.append(str(exc))
    mue_date = when or (mue_read.effective_hint if mue_read else None)
    if mue_read is not None and mue_date is None:
        fatal.append(f"{mue_read.file}: its name does not say which quarter the table is for. Fix: give "
                     "--effective YYYY-MM-DD, the quarter's first day (e.g. 2026-01-01).")
    if mue_read is not None and not mue_read.edits and not mue_read.errors:
        fatal.append(f"{mue_read.file}: nothing to import: the table has no code lines.")
    ptp_date = when or (ptp_read.latest_effective if ptp_read else None)
    if ptp_read is not None and ptp_read.rows == 0 and not ptp_read.errors:
        fatal.append(f"{', '.join(ptp_read.files)}: nothing to import: no edit lines.")
    elif ptp_read is not None and ptp_date is None:
        fatal.append("the PTP files have no effective dates; give --effective YYYY-MM-DD, the quarter's first day.")
    findings: list[Finding] = [f for r in (mue_read, ptp_read) if r is not None for f in r.findings]
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    if errors and not partial and not fatal:
        fatal.append(f"{_rows(errors, 'line')} of the files had errors (listed with file and line). Fix: download "
                     "the files again from CMS's NCCI pages and import again, or use --partial to store the good "
                     "lines (the bad lines' codes keep the same quarter's stored values).")
    if fatal:
        raise _unusable(fatal, findings, as_json)
    try:
        stored = store_ncci(
            mue=mue_read.edits if mue_read else None, mue_effective=mue_date,
            ptp=ptp_read.edits if ptp_read else None, ptp_release=ptp_date,
            keep_mue_codes=mue_read.rejected if mue_read else (),
            keep_ptp_codes=ptp_read.rejected if ptp_read else (),
            sources={"mue": (mue_read.file,) if mue_read else (), "ptp": ptp_read.files if ptp_read else ()})
    except OtbillError as exc:
        raise fail(str(exc)) from None

    lines: list[str] = []
    if mue_read is not None:
        lines.append(f"{mue_read.file}: header at line {mue_read.header_line}; {_rows(len(mue_read.edits), 'code')} "
                     f"read (quarter from {mue_date}).")
    if ptp_read is not None:
        lines.append(f"{', '.join(ptp_read.files)}: {_rows(ptp_read.rows, 'edit')} read; "
                     f"{_rows(len(ptp_read.edits), 'edit')} between OT catalogue codes kept, "
                     f"{ptp_read.other_edits:,} of other codes left out (release of {ptp_date}).")
    for t in stored:
        what = "MUE table" if t.kind == "mue" else "PTP edits"
        lines.append(f"Stored the {what} of {t.effective}: {_rows(t.rows, 'row')}"
                     + (" (replacing the same quarter's)" if t.replaced else "")
                     + (f", {t.kept} kept from it for lines in error" if t.kept else "") + f" -> {t.path}")
    lines.append("Other quarters already stored are kept; check, price and claims now use these tables.")
    payload: dict[str, Any] = {"mue": mue_read.summary() if mue_read else None,
                               "ptp": ptp_read.summary() if ptp_read else None,
                               "stored": [t.to_dict() for t in stored], "partial": partial}
    import_done(findings, payload, as_json, lines)


@refdata_app.command("show")
def show(as_json: JsonOpt = False) -> None:
    """List the imported NCCI tables (kind, quarter, rows, the CMS files they came from)."""
    from otbill_xl.actions.refdata import store_dir, stored_tables

    try:
        found = stored_tables()
    except OSError as exc:
        raise fail(f"{store_dir()}: cannot list the imported tables ({exc.strerror}).") from None
    if as_json:
        sys.stdout.write(dumps({"folder": str(store_dir()), "tables": [t.to_dict() for t in found]}) + "\n")
        raise typer.Exit(EXIT_OK)
    if not found:
        out.print(f"No NCCI tables imported yet (folder {store_dir()}). Import CMS's quarterly files with "
                  "otbill refdata import-ncci --mue FILE --ptp FILE.", highlight=False, markup=False)
        raise typer.Exit(EXIT_OK)
    for t in found:
        what = "MUE table" if t.kind == "mue" else "PTP edits"
        src = f" from {', '.join(t.sources)}" if t.sources else ""
        out.print(f"{what} of {t.effective}: {_rows(t.rows, 'row')}{src} ({t.path.name})", highlight=False,
                  markup=False)
    out.print(f"Folder: {store_dir()}", highlight=False, markup=False)
    raise typer.Exit(EXIT_OK)


__all__ = ["refdata_app"]
