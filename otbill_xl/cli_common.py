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

import inspect
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.errors import OtbillError

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2

# On a terminal, rich reads the terminal's width at every print and wraps to it. Piped output (CI logs,
# batch jobs, `| less`) is never hard-wrapped: a message stays one line (soft wrap) and tables get a wide
# fixed width (or $COLUMNS), so a log line can be searched as written.
PIPE_WIDTH = 160
out = Console()
err = Console(stderr=True)


def set_console_width(width: int | None, *, piped: bool, console: Console | None = None) -> None:
    """Lay ``out`` and ``err`` (or ``console``) out for a terminal of ``width`` columns (``None``: the
    terminal's own width) or, ``piped``, for a pipe: messages not wrapped, tables ``width`` (default
    :data:`PIPE_WIDTH`) wide. Set once at import from the streams; tests call it to print as a terminal."""
    for c in (console,) if console is not None else (out, err):
        c.soft_wrap = piped
        c.width = (width or _env_columns() or PIPE_WIDTH) if piped else width  # type: ignore[assignment]


def _env_columns() -> int | None:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


set_console_width(None, piped=not sys.stdout.isatty(), console=out)
set_console_width(None, piped=not sys.stderr.isatty(), console=err)


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
            if line.startswith("  "):
                print_item(line[2:])
            else:
                out.print(line, highlight=False, markup=False)
    raise typer.Exit(EXIT_FINDINGS if any(f.severity is Severity.ERROR for f in findings) else EXIT_OK)


def print_item(text: str, *, markup: bool = False, console: Console | None = None) -> None:
    """One item of a list under a summary line (a held-back line, a remittance, an exception), indented
    by two spaces, its wrapped lines too on a terminal; one line in a pipe. Plain text unless ``markup``
    (then user-supplied parts must be escaped)."""
    c = console or out
    if c.soft_wrap:
        c.print("  " + text, highlight=False, markup=markup)
    else:
        c.print(Padding(Text.from_markup(text) if markup else Text(text), (0, 0, 0, 2)))


def print_findings(findings: Sequence[Finding], limit: int = 50) -> None:
    """The findings table every command prints: worst first, then by sheet and row, at most ``limit``.
    A wide console gets a column each for severity, rule, where, message and fix; a narrower one (an
    80-column terminal) two: the finding (severity, rule, cell) and what it says and how to fix it."""
    if not findings:
        return
    shown = sorted(findings, key=lambda f: (f.severity.rank, f.location.sheet, f.location.row or 0))[:limit]
    table = Table(title=f"Findings ({len(findings)})", show_lines=False)
    if out.width >= FINDINGS_WIDE:
        table.add_column("Severity", no_wrap=True)
        for col in ("Rule", "Where", "Message", "Fix"):
            table.add_column(col, overflow="fold")
        for f in shown:
            table.add_row(f"[{_STYLE[f.severity.value]}]{f.severity.value}[/]", escape(f.rule),
                          escape(str(f.location)), escape(f.message), escape(f.fix))
    else:
        table.show_lines = True  # each finding is several lines: rules between them keep them apart
        table.add_column("Finding", overflow="fold")
        table.add_column("Message and fix", overflow="fold")
        for f in shown:
            table.add_row(f"[{_STYLE[f.severity.value]}]{f.severity.value}[/]\n{escape(f.rule)}\n"
                          f"{escape(str(f.location))}", f"{escape(f.message)}\n[bold]Fix:[/] {escape(f.fix)}")
    out.print(table)
    if len(findings) > limit:
        out.print(f"... and {len(findings) - limit} more (use --json for all).")


FINDINGS_WIDE = 120  # columns from which the findings table has a column each for message and fix


_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


# ---- tables that fit the terminal ---------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """One column of a terminal table.

    ``keep``: 0 for a column the table never drops; when the table does not fit the console, columns
    are dropped highest ``keep`` first. ``whole``: money, keys, codes, counts and statuses are never
    wrapped or cut (``MED…`` could be MEDICAID or MEDICARE, ``14,…`` is no amount). ``shorten``: file
    names, shortened from the middle to the width left (``Cedar-Lane-…-MEDICARE-000000004.837``)."""

    header: str
    keep: int = 0
    justify: Literal["left", "right"] = "left"
    whole: bool = False
    shorten: bool = False


def header_words(name: str) -> str:
    """``ExpectedPayerPayment`` → ``Expected Payer Payment``, ``MPPRReduction`` → ``MPPR Reduction``: a
    header of words wraps in a narrow column instead of widening it (sheet headers stay as they are)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)


def shorten_middle(name: str, width: int) -> str:
    """``name`` in at most ``width`` characters, its middle replaced by ``…``; the end (payer, control
    number, extension) is kept over the start, and cuts fall on ``-``/``_``/``.`` where one is near."""
    if len(name) <= width:
        return name
    if width < 5:
        return name[:max(width - 1, 0)] + "…"
    room = width - 1
    tail = name[-(room - room // 3):]
    cut = min((tail.find(c) for c in "-_." if 0 <= tail.find(c) < len(tail) // 2), default=-1)
    if cut > 0:
        tail = tail[cut:]
    head = name[:room - len(tail)]
    seps = [head.rfind(c) for c in "-_."]
    if max(seps) >= len(head) // 2:
        head = head[:max(seps) + 1]
    return f"{head}…{tail}"


_SHORTEST_NAME = 20  # a shortened file name keeps at least this much (payer and control number)


def fitted_table(title: str, cols: Sequence[Col], rows: Sequence[Sequence[str]], *,
                 console: Console | None = None) -> Table:
    """A rich table that fits ``console`` (default ``out``): ``whole`` columns are as wide as their
    widest cell, ``shorten`` columns take the width left, other columns wrap at spaces; when even that
    does not fit, the least important columns (highest ``keep``) are dropped. Cells are rich markup.

    The widths are set here, not by rich: rich narrows the widest columns first, whatever they hold,
    and cuts what no longer fits with ``…``."""
    width = (console or out).width
    shown = list(range(len(cols)))
    plain = [[Text.from_markup(cell).plain for cell in row] for row in rows]
    while True:
        widest = {i: _max_width(cols[i], [p[i] for p in plain]) for i in shown}
        least = {i: _min_width(cols[i], [p[i] for p in plain]) for i in shown}
        room = width - 3 * len(shown) - 1  # a border and two spaces of padding per column, one more border
        short = [i for i in shown if cols[i].shorten]
        if short:  # a file name gets what the other columns leave, at least _SHORTEST_NAME
            left = (room - sum(widest[i] for i in shown if i not in short)) // len(short)
            for i in short:
                least[i] = min(widest[i], max(left, _SHORTEST_NAME))
        droppable = [i for i in shown if cols[i].keep > 0]
        if sum(least.values()) <= room or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (cols[i].keep, i)))
    widths = dict(widest)
    excess = sum(widths.values()) - room
    while excess > 0:  # narrow the widest column that can still give a character
        flexible = [i for i in shown if widths[i] > least[i]]
        if not flexible:
            break
        narrowed = max(flexible, key=lambda i: (widths[i], -i))
        widths[narrowed] -= 1
        excess -= 1
    table = Table(title=title)
    for i in shown:
        table.add_column(cols[i].header, justify=cols[i].justify, width=widths[i], overflow="fold")
    for row, p in zip(rows, plain, strict=True):
        table.add_row(*[escape(shorten_middle(p[i], widths[i])) if cols[i].shorten and len(p[i]) > widths[i]
                        else row[i] for i in shown])
    return table


def _min_width(col: Col, cells: Sequence[str]) -> int:
    """The narrowest a column can be: a whole cell's full width (its header may wrap), else its longest
    word (up to :data:`_LONGEST_WORD`; a longer one, a path in a message, is folded)."""
    header = max((len(w) for w in col.header.split()), default=1)
    if col.whole or col.shorten:
        return max(header, *(len(c) for c in cells), 1)
    words = [len(w) for cell in cells for w in cell.split()]
    return max(header, min(max(words, default=1), _LONGEST_WORD), 1)


def _max_width(col: Col, cells: Sequence[str]) -> int:
    return max(len(col.header), *(len(line) for c in cells for line in c.splitlines() or [""]), 1)


_LONGEST_WORD = 20


def _max_width(col: Col, cells: Sequence[str]) -> int:
    return max(len(col.header), *(len(c) for c in cells), 1)


# ---- help in words ------------------------------------------------------------------------------

#: What an option's value is, in words (typer would show ``<str>``, ``<path>``, ``<list[Path]>``).
METAVARS = {"as_of": "DATE", "effective": "DATE", "effective_from": "DATE", "effective_to": "DATE",
            "tolerance": "AMOUNT", "payer": "KEY", "year": "YEAR", "workers": "COUNT", "group": "visit|period",
            "rebill": "LINEIDS", "remit_preset": "LAYOUT", "sheet": "SHEET", "source": "FILE"}
DIR_OPTIONS = frozenset({"dest", "out_dir", "claims_dir"})


class WordsGroup(TyperGroup):
    """The ``otbill`` command group: its help (and every subcommand's) names values in words — FILE,
    DIR, DATE, AMOUNT, KEY — shows on/off flags without a type, and reflows docstring paragraphs to
    the terminal's width (typer would keep their source line breaks)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        help_in_words(self)


def help_in_words(command: Any) -> None:
    """Set the metavars and help paragraphs of ``command`` and its subcommands (see :class:`WordsGroup`)."""
    if command.help:
        command.help = _reflow(command.help)
    for param in command.params:
        _name_value(param)
    if not getattr(command, "_help_in_words", False):
        command._help_in_words = True
        default_help_option = command.get_help_option

        def get_help_option(ctx: Any) -> Any:
            option = default_help_option(ctx)
            if option is not None:
                option.metavar = ""  # --help is a flag: no type
            return option

        command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        help_in_words(sub)


def _name_value(param: Any) -> None:
    from typer.core import TyperArgument

    if isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = param.name.upper()  # (typer adds "..." for several)
        param.display_type_rich = lambda ctx: None  # the name says it (WORKBOOK, FILE); no <path> beside it
        return
    if param.metavar is not None:
        return
    described = param.type_descriptor
    if getattr(param, "is_flag", False):
        param.metavar = ""
    elif param.name in METAVARS:
        param.metavar = METAVARS[param.name]
    elif described.is_path or "Path" in str(described.annotation):
        param.metavar = "DIR" if param.name in DIR_OPTIONS else "FILE"
    elif described.annotation is int:
        param.metavar = "NUMBER"
    else:
        param.metavar = "TEXT"


def _reflow(text: str) -> str:
    """One line per paragraph (typer shows a docstring's line breaks as they are: at 80 columns each
    source line would wrap into a long and a short line); paragraphs starting with \\b are kept."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


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
           "output_target", "print_findings", "progress", "save_copy",
           "Col", "WordsGroup", "fitted_table", "header_words", "print_item", "set_console_width", "shorten_middle"]
