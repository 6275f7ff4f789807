"""``otbill excel install [--dry-run]``, ``otbill excel uninstall``, ``otbill excel doctor``,
``otbill excel selftest``.

The lead registers these on the ``excel`` Typer app (``excel_app.command("install")(install_command)``,
and likewise ``uninstall_command``, ``doctor_command``). The work is in :mod:`otbill_xl.excel.install`.

Exit codes: 0 done / every check OK; 1 done with problems (each printed with its fix) / a check
failed; 2 nothing done (not Windows: the Windows steps are printed; the add-in file is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from otbill_xl.cli_common import EXIT_FINDINGS, EXIT_UNUSABLE, fail, print_item
from otbill_xl.errors import OtbillError
from otbill_xl.excel import install as inst


def install_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be copied and written; change nothing.")] = False,
) -> None:
    """Install the otbill add-in for this Windows user: copy it into Excel's XLSTART folder and write
    %USERPROFILE%\\.otbill\\otbill.conf with this Python."""
    try:
        result = inst.install(dry_run)
    except OtbillError as exc:
        raise fail(exc.text, EXIT_UNUSABLE) from None
    for line in result.lines():
        print_item(line)
    if result.problems:
        raise typer.Exit(EXIT_FINDINGS)


def uninstall_command() -> None:
    """Remove the otbill add-in from XLSTART and the user's otbill.conf (close Excel first)."""
    try:
        removed = inst.uninstall()
    except OtbillError as exc:
        raise fail(exc.text, EXIT_UNUSABLE) from None
    for path in removed:
        print_item(f"Removed {path}")
    if not removed:
        print_item("The otbill add-in was not installed for this user; nothing removed.")


def doctor_command() -> None:
    """Check versions, interpreter, xlwings DLL, UDF module and the XLSTART copy; print each problem's fix."""
    try:
        checks = inst.doctor()
    except OtbillError as exc:
        raise fail(exc.text, EXIT_UNUSABLE) from None
    for check in checks:
        print_item(check.line())
    if not all(c.ok for c in checks):
        raise typer.Exit(EXIT_FINDINGS)


def selftest_command(
    keep: Annotated[Path | None, typer.Option("--keep", help="Work in this DIR and keep the sample copy, its claims "
                                              "and the results (default: a temporary folder, removed).")] = None,
) -> None:
    """The release check, on Windows with Excel: open a copy of the sample with the installed add-in, press
    every ribbon button and enter every worksheet function through Excel, print PASS/FAIL for each."""
    import tempfile

    from otbill_xl.excel import selftest as st

    try:
        addin = st.installed_addin()
        driver = st.XlwingsDriver(addin)  # pragma: no cover - needs Windows and Excel
    except OtbillError as exc:
        raise fail(exc.text, EXIT_UNUSABLE) from None
    folder = keep or Path(tempfile.mkdtemp(prefix="otbill-selftest-"))  # pragma: no cover
    checks = st.run_selftest(driver, folder, progress=lambda c: print_item(c.line()))  # pragma: no cover
    print_item(st.summary(checks))  # pragma: no cover
    st.keep_or_remove(folder, keep is not None)  # pragma: no cover
    if not all(c.ok for c in checks):  # pragma: no cover
        raise typer.Exit(EXIT_FINDINGS)
