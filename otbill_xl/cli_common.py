"""Helpers shared by the ``otbill`` command modules (:mod:`otbill_xl.cli`, :mod:`otbill_xl.cli_fee_schedule`):
the consoles, exit codes, :func:`fail`, the findings table, JSON output, and where an output copy goes.

Exit codes: 0 ok, 1 findings with errors (or an import written with ``--partial`` and bad rows), 2 unusable
input or nothing written.

Output names: a default output name carries a run stamp (``WORKBOOK.checked-20261129-194501.xlsx``) and
is never an existing file, so a re-run never erases an earlier result; an explicit ``--out FILE`` may
replace an earlier file (never an input, a folder or a read-only file).

Every user-supplied string printed with rich markup goes through :func:`escape` (a file named
``missing[bold].csv`` prints as given).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.errors import OtbillError

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2

# Piped output (CI logs, batch jobs) gets a wide fixed width instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, code: int = EXIT_UNUSABLE) -> typer.Exit:
    """Print ``otbill: message`` to stderr (escaped) and return the :class:`typer.Exit` to raise."""
    err.print(f"[bold red]otbill:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def import_refused(messages: Sequence[str], findings: Sequence[Finding], as_json: bool, *, result_key: str,
                   nothing: str) -> typer.Exit:
    """Exit 2 after an import that stored nothing: the findings (table, or JSON with ``result_key``:
    null), each fatal message, then ``nothing`` (what was left unchanged)."""
    if as_json:
        sys.stdout.write(dumps({"errors": list(messages), "findings": [f.to_dict() for f in findings],
                                result_key: None}) + "\n")
    else:
        print_findings(findings, limit=60)
    for message in messages:
        err.print(f"[bold red]otbill:[/] {escape(message)}", highlight=False)
    err.print(f"otbill: {nothing}", highlight=False)
    return typer.Exit(EXIT_UNUSABLE)


def import_done(findings: Sequence[Finding], payload: dict[str, Any], as_json: bool, lines: Sequence[str]) -> None:
    """End an import that stored or wrote its result: ``payload`` with the findings as JSON, or the findings
    table and ``lines``; exit 1 when a finding is an error, else 0."""
    payload["findings"] = [f.to_dict() for f in findings]
    if as_json:
        sys.stdout.write(dumps(payload) + "\n")
    else:
        print_findings(findings, limit=60)
        for line in lines:
            out.print(line, highlight=False, markup=False)
    raise typer.Exit(EXIT_FINDINGS if any(f.severity is Severity.ERROR for f in findings) else EXIT_OK)


def print_findings(findings: Sequence[Finding], limit: int = 50) -> None:
    """The findings table every command prints: worst first, then by sheet and row, at most ``limit``."""
    if not findings:
        return
    from rich.table import Table

    table = Table(title=f"Findings ({len(findings)})", show_lines=False)
    for col in ("Severity", "Rule", "Where", "Message", "Fix"):
        table.add_column(col, overflow="fold")
    for f in sorted(findings, key=lambda f: (f.severity.rank, f.location.sheet, f.location.row or 0))[:limit]:
        table.add_row(f"[{_STYLE[f.severity.value]}]{f.severity.value}[/]", escape(f.rule), escape(str(f.location)),
                      escape(f.message), escape(f.fix))
    out.print(table)
    if len(findings) > limit:
        out.print(f"... and {len(findings) - limit} more (use --json for all).")


_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner with ``message`` and the elapsed time on stderr while a long step runs (a 100,000-line
    workbook takes seconds), when stderr is a terminal; nothing in pipes, logs or ``--json`` output."""
    if not err.is_terminal:
        yield
        return
    with err.status(escape(message), spinner="dots"):
        yield


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)


def default_output(workbook: Path, tag: str, suffix: str, *, now: datetime | None = None) -> Path:
    """``WORKBOOK.<tag>-<run stamp><suffix>`` next to the workbook, never an existing file (``-2``, ``-3``
    ... are appended when a run in the same second already wrote one)."""
    from otbill_xl.workbook.files import run_stamp, unused_name

    return unused_name(workbook.with_name(f"{workbook.stem}.{tag}-{run_stamp(now)}{suffix}"))


def output_target(workbook: Path, out_file: Path | None, tag: str, suffix: str,
                  inputs: list[Path]) -> tuple[Path, bool]:
    """(where to write, whether it may replace an existing file). An explicit ``--out`` may replace an
    earlier output but never an input file or a folder; the default name never replaces anything."""
    if out_file is None:
        return default_output(workbook, tag, suffix), False
    for p in inputs:
        if p.exists() and out_file.exists() and out_file.resolve() == p.resolve():
            raise fail(f"--out {out_file.name} is one of the input files; otbill never overwrites its input. "
                       "Choose another name.")
    if out_file.is_dir():
        raise fail(f"--out {out_file.name} is a folder, not a file name. Fix: name the file to write, e.g. "
                   f"--out {out_file / (workbook.stem + '.' + tag + suffix)}.")
    return out_file, True


def save_copy(port: Any, target: Path, *, replace: bool) -> None:
    """Save a file port's copy to ``target`` (atomically); an unwritable target ends the command (exit 2)."""
    try:
        port.save(str(target), replace=replace)
    except OtbillError as exc:
        raise fail(str(exc)) from None


__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_UNUSABLE", "default_output", "dumps", "err", "escape", "fail", "import_done", "import_refused", "out",
           "output_target", "print_findings", "progress", "save_copy"]
