"""Layer rules (shared/design/ARCHITECTURE.md): dependencies point downward only, and the domain is
pure — no Excel libraries, no file system, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "otbill_xl"

# What each layer may not import (modules above it, and for the domain any I/O).
ABOVE_DOMAIN = ("otbill_xl.workbook", "otbill_xl.formats", "otbill_xl.ledger", "otbill_xl.actions",
                "otbill_xl.templates", "otbill_xl.excel", "otbill_xl.cli", "otbill_xl.api")
SURFACES = ("otbill_xl.excel", "otbill_xl.cli", "otbill_xl.api")
FORBIDDEN = {
    "domain": ("openpyxl", "python_calamine", "xlwings", "pandas", "os", "pathlib", "shutil", "tempfile",
               "sqlite3", "psycopg", "zipfile", "glob", "subprocess", "socket", "urllib", "requests", "time", *ABOVE_DOMAIN),
    "formats": ("xlwings", "openpyxl", "otbill_xl.workbook", "otbill_xl.ledger", "otbill_xl.actions",
                "otbill_xl.templates", *SURFACES),
    "ledger": ("xlwings", "openpyxl", "python_calamine", "otbill_xl.workbook", "otbill_xl.actions",
               "otbill_xl.templates", *SURFACES),
    # the port, its adapters and reading: no actions, no ledger, no surface
    "workbook": ("xlwings", "otbill_xl.actions", "otbill_xl.ledger", "otbill_xl.templates", *SURFACES),
    # check, price, claims, batch, fee-schedule import: any layer below, never a surface
    "actions": ("xlwings", "otbill_xl.templates", *SURFACES),
    # the template and the sample practice: written through openpyxl from the contract and the domain
    "templates": ("xlwings", "otbill_xl.actions", "otbill_xl.ledger", *SURFACES),
}
# Calls that read files or the clock, wherever they come from.
FORBIDDEN_CALLS_IN_DOMAIN = {"open", "today", "now", "utcnow", "read_text", "read_bytes", "write_text",
                             "write_bytes", "fromtimestamp"}


def modules(layer: str) -> list[Path]:
    return sorted((PKG / layer).rglob("*.py"))


def imported_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violates(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer):
    assert modules(layer) or layer == "formats", f"no modules in {layer}"
    bad = []
    for path in modules(layer):
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            if violates(name, FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, "\n".join(bad)


def test_domain_opens_no_files_and_reads_no_clock():
    bad = []
    for path in modules("domain"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                via_refdata = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "refdata"
                if name in FORBIDDEN_CALLS_IN_DOMAIN and not via_refdata:  # refdata: bundled tables, read-only
                    bad.append(f"{path.relative_to(PKG)}:{node.lineno} calls {name}()")
    assert not bad, "\n".join(bad)


def test_the_checker_catches_violations():
    """The rules above are not vacuous: a module doing forbidden things is caught."""
    tree = ast.parse("import openpyxl\nfrom pathlib import Path\nfrom datetime import date\nx = open('f')\ny = date.today()\n")
    names = imported_names(tree)
    assert violates("openpyxl", FORBIDDEN["domain"]) and "openpyxl" in names and "pathlib" in names
    calls = {n.func.id if isinstance(n.func, ast.Name) else n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"open", "today"} <= calls & FORBIDDEN_CALLS_IN_DOMAIN
