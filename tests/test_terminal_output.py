"""Issue #14 §3: what every command prints fits an 80-column terminal, and a pipe gets unwrapped lines.

Each command's human output is run through typer's CliRunner twice: with the consoles laid out as an
80-column terminal (``set_console_width(80, piped=False)``, what a terminal of that width gets) and
as a pipe (the default under CliRunner: stdout is no terminal). On the terminal no line is wider than
80 characters and no money value or payer key is cut (``MED…`` could be MEDICAID or MEDICARE, ``14,…``
is no amount); in the pipe a long message stays on one line. Help texts name values in words.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from otbill_xl import cli_common
from otbill_xl.cli import app
from otbill_xl.cli_common import Col, fitted_table, header_words, set_console_width, shorten_middle

DATA = Path(__file__).parent / "data"
WIDTH = 80
runner = CliRunner()

# a digit, comma or point right before the ellipsis: an amount or a count was cut; capitals: a key
CUT_NUMBER = re.compile(r"[\d,.]…")
CUT_KEY = re.compile(r"\b[A-Z]{2,}…")


@contextmanager
def consoles(width: int | None, *, piped: bool) -> Iterator[None]:
    saved = [(c, c.soft_wrap, c._width) for c in (cli_common.out, cli_common.err)]
    set_console_width(width, piped=piped)
    try:
        yield
    finally:
        for c, soft_wrap, w in saved:
            c.soft_wrap, c._width = soft_wrap, w


def run(args: list[str], *, terminal: bool) -> str:
    """The command's output (stdout and stderr) on an 80-column terminal, or piped."""
    with consoles(WIDTH if terminal else None, piped=not terminal):
        result = runner.invoke(app, args, env={"COLUMNS": str(WIDTH)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.output


def assert_fits(text: str) -> None:
    long = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not long, f"{len(long)} lines wider than {WIDTH}: {long[:3]}"
    assert not CUT_NUMBER.search(text), CUT_NUMBER.search(text)
    assert not CUT_KEY.search(text), CUT_KEY.search(text)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    dest = tmp_path_factory.mktemp("demo")
    return dest, run(["demo", "--dest", str(dest)], terminal=True)


# ---- on an 80-column terminal --------------------------------------------------------------------

def test_demo_fits_80_columns(demo):
    _, text = demo
    assert_fits(text)
    assert "Planted errors found: 15/15" in text
    # the claims table: each payer whole, each file name shortened from the middle to its payer and number
    for n, payer in enumerate(("BLUEPEAK", "MAPLAN", "MEDICAID", "MEDICARE", "SUMMIT"), start=1):
        row = next(line for line in text.splitlines() if line.startswith(f"│ {payer} ") and ".837" in line)
        assert f"-{payer}-{n:09d}.837" in row, row
    # the pricing totals keep the amounts the payers pay (the narrow breakdown columns are dropped)
    assert re.search(r"Expected\s", text) and "Payment" in text
    assert "│ MEDICARE   │" in text


def test_claims_check_price_info_fit_80_columns(demo, tmp_path):
    dest, _ = demo
    book = dest / "sample-practice.xlsx"
    for args in (["check", str(book), "--out", str(tmp_path / "c.xlsx"), "--as-of", "2026-11-27"],
                 ["price", str(book), "--out", str(tmp_path / "p.xlsx"), "--as-of", "2026-11-27"],
                 ["claims", str(book), "--out", str(tmp_path / "claims"), "--ledger", str(tmp_path / "l.sqlite"),
                  "--as-of", "2026-11-27"],
                 ["info", str(book)]):
        text = run(args, terminal=True)
        assert_fits(text)
        assert "MEDICAID" in text or args[0] in ("check", "info"), args[0]


def test_reconcile_ledger_batch_fit_80_columns(demo, tmp_path):
    dest, _ = demo
    ledger = tmp_path / "ledger.sqlite"
    shutil.copy(dest / "claims" / ".otbill" / "demo-ledger.sqlite", ledger)
    text = run(["reconcile", str(dest / "sample-practice.otbill.xlsx"), "--remit", str(dest / "remits" / "demo-payer.835"),
                "--ledger", str(ledger), "--dry-run", "--as-of", "2026-11-27"], terminal=True)
    assert_fits(text)
    assert "already_posted" in text and "MEDICARE check/EFT 261127041" in text  # the demo posted them
    text = run(["ledger", "show", "--ledger", str(ledger)], terminal=True)
    assert_fits(text)
    assert "-000000004.837 │ MEDICARE │" in text and "SHA-256" not in text  # the hash goes first
    text = run(["batch", str(dest / "sample-practice.xlsx"), "--out", str(tmp_path / "batch"), "--ledger",
                str(tmp_path / "batch.sqlite"), "--workers", "1", "--as-of", "2026-11-27"], terminal=True)
    assert_fits(text)


def test_imports_and_refdata_fit_80_columns(demo, tmp_path):
    dest, _ = demo
    text = run(["fee-schedule", "import", str(DATA / "payer_acme_fees.csv"), str(dest / "sample-practice.xlsx"),
                "--payer", "SUMMIT", "--partial", "--out", str(tmp_path / "fees.xlsx")], terminal=True)
    assert_fits(text)
    assert "Workbook copy" in text
    text = run(["refdata", "import-ncci", "--mue", str(DATA / "ncci" / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv")],
               terminal=True)
    assert_fits(text)
    text = run(["refdata", "show"], terminal=True)
    assert_fits(text)
    assert "MUE table of 2026-01-01" in text


def test_help_names_values_in_words_and_fits():
    """Every command's help at 80 columns: FILE, DIR, DATE, AMOUNT, KEY instead of <path>, <str>; flags
    without a type; no line wider than the terminal."""
    from typer.main import get_command

    group = get_command(app)
    paths: list[list[str]] = [[]]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    seen = ""
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)})
        assert result.exit_code == 0, (path, result.output)
        long = [line for line in result.output.splitlines() if len(line) > WIDTH]
        assert not long, (path, long[:2])
        assert not re.search(r"<(path|str|bool|int|list\[)", result.output), (path, result.output)
        seen += result.output
    for option, word in (("--as-of", "DATE"), ("--tolerance", "AMOUNT"), ("--payer", "KEY"), ("--remit", "FILE"),
                         ("--dest", "DIR")):
        assert re.search(rf"{option}\s+{word}\b", seen), option
    assert re.search(r"--json\s+Print JSON", seen)  # a flag: no type between the option and its help


# ---- piped ------------------------------------------------------------------------------------------

def test_piped_messages_are_not_wrapped(demo, tmp_path):
    dest, _ = demo
    text = run(["demo", "--dest", str(tmp_path / "demo")], terminal=False)
    lines = text.splitlines()
    # a long summary line stays one line (it is longer than 80 characters)
    summary = [line for line in lines if line.startswith("837P files in")]
    assert len(summary) == 1 and summary[0].endswith("sample-practice.otbill.xlsx") and len(summary[0]) > WIDTH
    held = next(line for line in lines if "held back L001310" in line)
    assert held.endswith("without KX, GA or GZ it is denied (PR-119)."), held
    assert any(line.startswith("Paid ") and line.endswith("Payments rows posted.") for line in lines)


def test_piped_width_without_columns_is_wide(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = Console(file=open("/dev/null", "w"))  # noqa: SIM115 - closed with the console
    try:
        set_console_width(None, piped=True, console=console)
        assert console.soft_wrap and console.width == cli_common.PIPE_WIDTH
        set_console_width(None, piped=False, console=console)
        assert not console.soft_wrap
    finally:
        console.file.close()


# ---- the helpers ------------------------------------------------------------------------------------

def test_shorten_middle_keeps_payer_and_control_number():
    name = "Cedar-Lane-Hand-Occupational-Therapy-LLC-MEDICARE-000000004.837"
    assert shorten_middle(name, 36) == "Cedar-Lane-…-MEDICARE-000000004.837"
    assert shorten_middle(name, len(name)) == name
    for width in range(5, len(name)):
        assert len(shorten_middle(name, width)) <= width


def test_header_words():
    assert header_words("ExpectedPayerPayment") == "Expected Payer Payment"
    assert header_words("MPPRReduction") == "MPPR Reduction"
    assert header_words("PayerKey") == "Payer Key"


def test_fitted_table_drops_least_important_columns_not_amounts():
    """Twelve money columns cannot fit 80 columns: the table keeps the key and the kept amounts whole
    and drops the others, highest ``keep`` first."""
    cols = [Col("PayerKey", whole=True)] + [Col(f"Amount{i}", keep=i, justify="right", whole=True) for i in range(12)]
    rows = [["MEDICAID", *[f"{100000 + i:,}.00" for i in range(12)]],
            ["MEDICARE", *[f"{200000 + i:,}.00" for i in range(12)]]]
    console = Console(width=WIDTH, file=open("/dev/null", "w"))  # noqa: SIM115
    try:
        with console.capture() as captured:
            console.print(fitted_table("Totals", cols, rows, console=console))
    finally:
        console.file.close()
    text = captured.get()
    assert_fits(text)
    assert "MEDICAID" in text and "MEDICARE" in text
    # Amount0 has keep=0: never dropped; the widest keep numbers go first
    assert "100,000.00" in text and "200,000.00" in text
    assert "100,011.00" not in text
    # each column costs its 10-character amount + 3 (border, padding): (80 - 1 - (8 + 3)) // 13 = 5 columns
    # after the key, so Amount0..Amount4 stay
    assert "100,004.00" in text and "100,005.00" not in text
