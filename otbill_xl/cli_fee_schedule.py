"""``otbill fee-schedule ...``: import fee schedules into a copy of a practice workbook.

* ``import-cms --rvu PPRRVU.csv --gpci GPCI.csv --year 2026 WORKBOOK`` reads CMS's Physician Fee
  Schedule files and replaces that year's MedicareRVU / MedicareGPCI rows.
* ``import FILE --payer KEY WORKBOOK`` reads a payer's contracted fee schedule (CSV or Excel) and
  merges its rates into the FeeSchedule sheet: rates in the file are added or changed, the payer's
  rates absent from the file are kept unless ``--replace``.

A file with any error row writes nothing unless ``--partial`` (then the bad rows' codes keep their
current rates). The result is always a new workbook (default ``WORKBOOK.pfs-<run stamp>.xlsx`` /
``WORKBOOK.fees-<run stamp>.xlsx``, a new name on every run; ``--out FILE`` replaces FILE), written
atomically; input files are never modified.

Exit codes: 0 written cleanly (warnings allowed), 1 written with ``--partial`` although rows had
errors (listed with file and line), 2 nothing written (error rows without ``--partial``, a bad file,
wrong layout, nothing to import).

Registered by :mod:`otbill_xl.cli` as ``app.add_typer(fee_schedule_app, name="fee-schedule")``; the output
helpers are shared through :mod:`otbill_xl.cli_common` (this module does not import :mod:`otbill_xl.cli`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from otbill_xl.cli_common import (
    fail,
    import_done,
    import_refused,
    output_target,
    save_copy,
)
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.errors import OtbillError

fee_schedule_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Import fee schedules: CMS's yearly PFS files and payers' "
                                                           "contracted rates.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PartialOpt = Annotated[bool, typer.Option("--partial", help="Write the good rows although some rows have errors "
                                                            "(the bad rows' codes keep their current rates; exit 1). "
                                                            "Without it, any error row means nothing is written "
                                                            "(exit 2).")]


def _output_path(workbook: Path, out_file: Path | None, tag: str, inputs: list[Path]) -> tuple[Path, bool]:
    suffix = ".xlsm" if workbook.suffix.lower() == ".xlsm" else ".xlsx"
    return output_target(workbook, out_file, tag, suffix, inputs)


def _parse_date(option: str, value: str | None) -> date | None:
    if not value:
        return None
    from otbill_xl.formats.fee_schedule_import import to_date

    try:
        return to_date(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-01.") from None


def _unusable(messages: list[str], findings: list[Finding], as_json: bool) -> typer.Exit:
    return import_refused(messages, findings, as_json, result_key="written", nothing="nothing was written.")


def _bad_rows_message(errors: int, usable: str) -> str:
    return (f"{_rows(errors)} of the file{'s' if ' and ' in usable else ''} had errors (listed with their lines), so "
            f"nothing was written. Fix: correct {'them' if errors > 1 else 'it'} and import again, or use --partial "
            f"to import {usable} anyway (the bad rows' codes keep their current rates).")


def _rows(n: int, word: str = "row") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _finish(findings: list[Finding], payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    payload["findings"] = []  # (keeps the JSON keys in their order: findings, then summary)
    payload["summary"] = {s.value: sum(1 for f in findings if f.severity is s) for s in Severity}
    import_done(findings, payload, as_json, lines)


# ------------------------------------------------------------------------------------------------

@fee_schedule_app.command("import-cms")
def import_cms(
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx); it is not modified.")],
    year: Annotated[int, typer.Option("--year", help="Fee-schedule year of the files, e.g. 2026.")],
    rvu: Annotated[Path | None, typer.Option("--rvu", help="CMS PPRRVU file (e.g. PPRRVU26_JAN.csv or "
                                                           "PPRRVU2026_Jan_nonQPP.csv).")] = None,
    gpci: Annotated[Path | None, typer.Option("--gpci", help="CMS GPCI file (e.g. GPCI2026.csv).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Workbook copy to write; replaces FILE if it exists "
                                                                "(default: a new WORKBOOK.pfs-YYYYMMDD-HHMMSS.xlsx on "
                                                                "every run).")] = None,
    all_codes: Annotated[bool, typer.Option("--all-codes", help="Keep every code, not only the OT catalogue's.")] = False,
    partial: PartialOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import CMS's yearly PFS files (PPRRVU RVUs, GPCIs) into a copy of the workbook.

    Replaces that year's MedicareRVU and MedicareGPCI rows and keeps other years'. Localities are keyed
    MAC-LL (e.g. 12402-99): put yours in the Practice sheet's MedicareLocality setting.

    A file with rows in error writes nothing unless --partial (then the bad rows' codes and localities
    keep their current rows). Exit codes: 0 written cleanly (warnings allowed); 1 written with --partial
    although rows had errors; 2 nothing written (rows with errors and no --partial, or an unusable
    file)."""
    from otbill_xl.actions.fee_schedule import import_medicare, practice_setting
    from otbill_xl.formats.cms_pfs import CmsFileError, read_gpci, read_pprrvu
    from otbill_xl.workbook.files import FileWorkbook

    if rvu is None and gpci is None:
        raise fail("give --rvu (the PPRRVU file), --gpci (the GPCI file), or both.")
    if not 1992 <= year <= 2100:
        raise fail(f"--year {year} is not a fee-schedule year (the PFS started in 1992).")
    target, replace_out = _output_path(workbook, out_file, "pfs", [p for p in (workbook, rvu, gpci) if p])

    fatal: list[str] = []
    rvu_read = gpci_read = None
    if rvu is not None:
        try:
            rvu_read = read_pprrvu(rvu, year=year, all_codes=all_codes)
        except CmsFileError as exc:
            fatal.append(str(exc))
    if gpci is not None:
        try:
            gpci_read = read_gpci(gpci, year=year)
        except CmsFileError as exc:
            fatal.append(str(exc))
    if rvu_read is not None and not rvu_read.rvus:
        reason = (f"none of its {rvu_read.other_codes} codes is in the OT code catalogue (use --all-codes to import "
                  "them all)" if rvu_read.other_codes else "it has no usable code rows")
        fatal.append(f"{rvu_read.file}: nothing to import: {reason}.")
    if gpci_read is not None and not gpci_read.gpcis:
        fatal.append(f"{gpci_read.file}: nothing to import: no usable locality rows.")
    findings: list[Finding] = [f for r in (rvu_read, gpci_read) if r is not None for f in r.findings]
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    if errors and not partial and not fatal:
        usable = " and ".join(x for x in (f"{len(rvu_read.rvus)} RVU rows" if rvu_read else "",
                                          f"{len(gpci_read.gpcis)} localities" if gpci_read else "") if x)
        fatal.append(_bad_rows_message(errors, usable))
    if fatal:
        raise _unusable(fatal, findings, as_json)
    try:
        port = FileWorkbook(workbook)
        updates = import_medicare(port, year=year, rvus=rvu_read.rvus if rvu_read else None,
                                  gpcis=gpci_read.gpcis if gpci_read else None,
                                  keep_codes=rvu_read.rejected if rvu_read else (),
                                  keep_localities=gpci_read.rejected if gpci_read else ())
        locality = practice_setting(port, "MedicareLocality")
    except OtbillError as exc:
        raise fail(str(exc)) from None
    save_copy(port, target, replace=replace_out)

    lines: list[str] = []
    if rvu_read is not None:
        cf = ", ".join(map(str, rvu_read.conversion_factors)) or "none"
        lines.append(f"{rvu_read.file}: header at line {rvu_read.header_line}; {len(rvu_read.rvus)} codes read"
                     + (f", {rvu_read.other_codes} codes outside the OT catalogue left out (--all-codes keeps them)"
                        if rvu_read.other_codes else "")
                     + f"; conversion factor in the file: {cf}.")
    if gpci_read is not None:
        keys = {g.locality for g in gpci_read.gpcis}
        lines.append(f"{gpci_read.file}: header at line {gpci_read.header_line}; {len(keys)} localities "
                     f"(work GPCI from {gpci_read.work_column!r}).")
        loc_finding = _locality_check(locality, keys, workbook.name, year)
        if loc_finding is not None:
            findings.append(loc_finding)
    for u in updates:
        lines.append(f"{u.sheet}: {_rows(u.added)} for {year} written"
                     + (f" (replacing {u.replaced})" if u.replaced else "")
                     + (f", {_rows(u.kept, 'other row')} kept" if u.kept else "")
                     + (" (new sheet)" if u.created else "") + ".")
    kept_bad = [*(rvu_read.rejected if rvu_read else ()), *(gpci_read.rejected if gpci_read else ())]
    if kept_bad:
        lines.append(f"Rows in error were not imported; the current {year} rows of "
                     f"{', '.join(kept_bad)} (if any) were kept.")
    lines.append(f"Workbook copy: {target}")
    payload = {"workbook": str(workbook), "out": str(target), "year": year,
               "rvu": rvu_read.summary() if rvu_read else None, "gpci": gpci_read.summary() if gpci_read else None,
               "sheets": [u.to_dict() for u in updates], "partial": partial, "kept_because_of_errors": kept_bad}
    _finish(findings, payload, as_json, lines)


def _locality_check(locality: str | None, keys: set[str], workbook: str, year: int) -> Finding | None:
    where = Location(file=workbook, sheet="Practice", column="MedicareLocality")
    example = "12402-99" if "12402-99" in keys else (sorted(keys)[0] if keys else "12402-99")
    if not locality:
        return Finding(rule="pfs.locality-unset", severity=Severity.INFO, location=where,
                       message="The Practice sheet has no MedicareLocality, so Medicare prices cannot be computed.",
                       fix=f"Set MedicareLocality to your locality's MAC-LL key from the MedicareGPCI sheet, "
                           f"e.g. {example}.")
    if locality not in keys:
        return Finding(rule="pfs.locality-unknown", severity=Severity.WARNING, location=where,
                       message=f"MedicareLocality {locality!r} is not a {year} GPCI locality (keys look like {example}: "
                               "the 5-digit MAC, a dash, the 2-digit locality number).",
                       fix="Copy your locality's key from the MedicareGPCI sheet into the Practice sheet.")
    return None


@fee_schedule_app.command("import")
def import_payer(
    file: Annotated[Path, typer.Argument(help="The payer's fee schedule: CSV or Excel.")],
    workbook: Annotated[Path, typer.Argument(help="Practice workbook (.xlsx); it is not modified.")],
    payer: Annotated[str, typer.Option("--payer", help="The payer's PayerKey in the workbook (e.g. SUMMIT).")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Workbook copy to write; replaces FILE if it exists "
                                                                "(default: a new WORKBOOK.fees-YYYYMMDD-HHMMSS.xlsx on "
                                                                "every run).")] = None,
    columns: Annotated[Path | None, typer.Option("--columns", help="TOML file mapping the file's headers, e.g. "
                                                                   "Code = \"Proc\".")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Worksheet to read (Excel files; default the "
                                                              "first).")] = None,
    effective_from: Annotated[str | None, typer.Option("--effective-from", help="EffectiveFrom for rows without "
                                                                                "one (YYYY-MM-DD).")] = None,
    effective_to: Annotated[str | None, typer.Option("--effective-to", help="EffectiveTo for rows without one "
                                                                            "(YYYY-MM-DD).")] = None,
    partial: PartialOpt = False,
    replace: Annotated[bool, typer.Option("--replace", help="Remove the payer's rates of the imported "
                                                            "EffectiveFrom dates that are not in the file (without "
                                                            "it they are kept).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a payer's contracted rates (CSV or Excel) into a copy of the workbook.

    Rates are merged into the FeeSchedule sheet by payer, code, modifier and EffectiveFrom: a rate in the
    file is added, or changes the rate already there; the payer's rates absent from the file are kept
    unless --replace (then those of the imported EffectiveFrom dates are removed). Other payers' rows and
    periods are never touched. The summary (and --json) lists the rates added, changed (old -> new),
    unchanged, kept and removed.

    A file with rows in error writes nothing unless --partial (then the bad rows' codes keep their
    current rates, also with --replace). Exit codes: 0 written cleanly (warnings allowed); 1 written
    with --partial although rows had errors; 2 nothing written (rows with errors and no --partial, or
    an unusable file)."""
    from otbill_xl.actions.fee_schedule import import_fee_schedule, payer_keys
    from otbill_xl.formats.fee_schedule_import import (
        FeeScheduleFileError,
        mapping_from_toml,
        read_fee_schedule,
    )
    from otbill_xl.workbook.files import FileWorkbook

    start = _parse_date("--effective-from", effective_from)
    end = _parse_date("--effective-to", effective_to)
    target, replace_out = _output_path(workbook, out_file, "fees", [p for p in (workbook, file, columns) if p])
    try:
        mapping = mapping_from_toml(columns) if columns else None
        read = read_fee_schedule(file, payer=payer, sheet=sheet, columns=mapping, effective_from=start,
                                 effective_to=end)
    except FeeScheduleFileError as exc:
        raise _unusable([str(exc)], [], as_json) from None
    findings = list(read.findings)
    if not read.entries:
        raise _unusable([f"{read.file}: no usable rows for payer {read.payer!r} (see the findings)."], findings,
                        as_json)
    if read.errors and not partial:
        raise _unusable([f"{read.file}: " + _bad_rows_message(len(read.errors), _rows(len(read.entries), "good rate"))],
                        findings, as_json)
    try:
        port = FileWorkbook(workbook)
        keys = payer_keys(port)
        update = import_fee_schedule(port, read.entries, payer=read.payer, replace=replace,
                                     protect=read.rejected_codes)
    except OtbillError as exc:
        raise fail(str(exc)) from None
    save_copy(port, target, replace=replace_out)
    if keys is not None and read.payer not in keys:
        findings.append(Finding(
            rule="fees.unknown-payer", severity=Severity.WARNING,
            location=Location(file=workbook.name, sheet="Payers", column="PayerKey"),
            message=f"PayerKey {read.payer!r} is not on the Payers sheet, so these rates are not used yet.",
            fix=f"Add {read.payer} to the Payers sheet, or import again with --payer set to its PayerKey."))
    sheet_note = f" sheet {read.sheet}" if read.sheet else ""
    mapped = ", ".join(f"{k} ← {v!r}" for k, v in read.columns.items())
    u = update
    lines = [f"{read.file}{sheet_note}: header at {'line' if not read.sheet else 'row'} {read.header_line} ({mapped}); "
             f"{len(read.entries)} rates for {read.payer}"
             + (f", {_rows(read.other_payer_rows)} of other payers left out" if read.other_payer_rows else "")
             + (f", {_rows(len(read.errors))} in error not imported" if read.errors else "") + ".",
             f"{u.sheet}: {read.payer} rates: {len(u.added_rates)} added, {len(u.changed_rates)} changed, "
             f"{len(u.unchanged_rates)} unchanged, {len(u.kept_rates)} kept, {len(u.removed_rates)} removed"
             + (" (new sheet)" if u.created else "") + "."]
    lines += _rate_lines("added", u.added_rates, lambda r: f"{r.new:.2f}")
    lines += _rate_lines("changed", u.changed_rates, lambda r: f"{_money(r.old)} → {r.new:.2f}" + (
        f" (EffectiveTo {r.old_to or 'blank'} → {r.effective_to or 'blank'})" if r.old_to != r.effective_to else ""))
    lines += _rate_lines("kept", u.kept_rates, lambda r: f"{_money(r.old)} ({r.note})")
    lines += _rate_lines("removed", u.removed_rates, lambda r: f"{_money(r.old)} ({r.note})")
    if u.kept_rates and not replace:
        lines.append("Rates not in the file are kept; --replace removes those of the imported EffectiveFrom dates.")
    lines.append(f"Workbook copy: {target}")
    payload = {"workbook": str(workbook), "out": str(target), "read": read.summary(), "sheet": update.to_dict(),
               "rates": update.rates_dict(), "partial": partial, "replace": replace}
    _finish(findings, payload, as_json, lines)


def _money(value: Any) -> str:
    return f"{value:.2f}" if hasattr(value, "quantize") else repr(value)


def _rate_lines(word: str, rates: Any, describe: Any, limit: int = 25) -> list[str]:
    lines = [f"  {word} {r.label}: {describe(r)}" for r in list(rates)[:limit]]
    if len(rates) > limit:
        lines.append(f"  ... and {len(rates) - limit} more {word} (use --json for all).")
    return lines


__all__ = ["fee_schedule_app"]
