"""``otbill excel ...``: the Excel add-in.

* ``build [--out FILE]`` makes ``otbill.xlam`` from the pinned xlwings wheel's ribbon add-in template
  (:mod:`otbill_xl.excel.build`); it needs the ``excel`` extra (xlwings) and pyopenvba (``dev`` extra).

Exit codes: 0 built, 2 not built (a tool missing, or the template is not the one expected).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from otbill_xl.cli_common import escape, fail, out

excel_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="The Excel add-in (otbill.xlam): build it.")


@excel_app.command("build")
def build(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the add-in.")] = Path("otbill.xlam"),
) -> None:
    """Build otbill.xlam: ribbon, callbacks and UDF wrappers, for the installed xlwings version."""
    from otbill_xl.errors import OtbillError
    from otbill_xl.excel.build import build_addin, read_addin, udf_names

    try:
        path = build_addin(out_file)
        modules = sorted(read_addin(path)["modules"])
        udfs = udf_names()
    except OtbillError as exc:
        raise fail(str(exc)) from None
    import xlwings

    out.print(f"Built {escape(str(path))} for xlwings {xlwings.__version__}: "
              f"{len(modules)} VBA modules ({', '.join(modules)}), {len(udfs)} worksheet functions.")


def _register_install() -> None:
    from otbill_xl.cli_excel_install import (
        doctor_command,
        install_command,
        selftest_command,
        uninstall_command,
    )

    excel_app.command("install")(install_command)
    excel_app.command("uninstall")(uninstall_command)
    excel_app.command("doctor")(doctor_command)
    excel_app.command("selftest")(selftest_command)


_register_install()
