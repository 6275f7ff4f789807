"""A fake Excel for `otbill excel selftest` and the ribbon tests: it runs the add-in's VBA macros the way
Excel would reach Python — it finds the public Sub in otbill.bas, builds its RunPython string exactly as
the VBA does, and executes that string with the workbook file as the caller — and it evaluates the
selftest's worksheet formulas by calling the ``@xw.func`` functions of otbill_xl.excel.addin with the
values xlwings would pass (numbers as floats, array constants as rows, a sheet range as rows of values).
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from otbill_xl.excel import build, macros

_SUB = r'Public Sub {name}\(Optional selftest As String = ""\)\s+RunPython (".*?")\s+End Sub'


def vba_selftest_arg(selftest: str) -> str:
    """otbill.bas's ``SelftestArg``: nothing for a button press; else ``selftest='<path>'`` with
    backslashes turned into slashes and quotes dropped."""
    if selftest == "":
        return ""
    return "selftest='" + selftest.replace("\\", "/").replace("'", "") + "'"


def runpython_code(macro: str, selftest: str = "", bas: str | None = None) -> str:
    """The Python code the VBA Sub ``macro`` hands to RunPython: its string expression evaluated (VBA
    string literals with doubled quotes, joined by ``&`` with ``SelftestArg(selftest)``)."""
    bas = bas if bas is not None else build.ribbon_bas()
    m = re.search(_SUB.format(name=re.escape(macro)), bas)
    if m is None:
        raise LookupError(f"no Public Sub {macro}(Optional selftest As String) with a RunPython line in otbill.bas")
    parts = []
    for token in re.split(r"\s*&\s*", m.group(1)):
        if token == "SelftestArg(selftest)":
            parts.append(vba_selftest_arg(selftest))
        elif token.startswith('"') and token.endswith('"'):
            parts.append(token[1:-1].replace('""', '"'))
        else:
            raise ValueError(f"unexpected VBA in {macro}: {token}")
    return "".join(parts)


class FakeExcel:
    """One open workbook (a file) and the add-in's macros and functions."""

    def __init__(self, monkeypatch: Any, *, missing_images: tuple[str, ...] = (), failing: tuple[str, ...] = ()) -> None:
        self.monkeypatch = monkeypatch
        self.missing_images = missing_images
        self.failing = failing
        self.path: Path | None = None
        self.port: Any = None
        self.ran: list[str] = []
        self.formulas: list[str] = []
        self.closed = False

    # -- the workbook ---------------------------------------------------------------------------
    def open(self, workbook: Path) -> None:
        from otbill_xl.workbook.files import FileWorkbook

        self.path = Path(workbook)
        self.port = FileWorkbook(self.path)

    def save(self) -> None:
        from otbill_xl.workbook.files import FileWorkbook

        assert self.path is not None
        staged = self.path.with_name(self.path.stem + ".saving.xlsx")
        self.port.save(str(staged))
        os.replace(staged, self.path)
        self.port = FileWorkbook(self.path)   # Excel keeps the book open: later macros see what was saved

    def close(self) -> None:
        self.closed = True

    def has_image(self, image_mso: str) -> bool:
        return image_mso not in self.missing_images

    # -- macros ---------------------------------------------------------------------------------
    def run(self, macro: str, *args: str) -> None:
        if macro in self.failing:
            raise RuntimeError(f"Cannot run the macro '{macro}'")
        code = runpython_code(macro, *args)
        self.ran.append(code)
        assert self.path is not None
        self.monkeypatch.setattr(macros, "_caller", lambda: (self.port, self.path.parent, None))
        exec(compile(code, f"<RunPython {macro}>", "exec"), {})  # noqa: S102 - the add-in's own RunPython string

    # -- formulas -------------------------------------------------------------------------------
    def spill(self, formula: str) -> list[list[Any]]:
        from otbill_xl.excel import addin
        from otbill_xl.workbook.reader import read_book

        self.formulas.append(formula)
        name, args = parse_formula(formula, self.port)
        args = [_as_declared(a, dims) for a, dims in zip(args, declared_ndims()[name], strict=False)]
        self.monkeypatch.setattr(addin, "_practice_book", lambda: read_book(self.port).book)
        result = getattr(addin, name)(*args)
        if isinstance(result, list) and result and isinstance(result[0], list):
            return result
        if isinstance(result, list):
            return [[v] for v in result]
        return [[result]]


_NDIMS: dict[str, list[int | None]] = {}


def declared_ndims() -> dict[str, list[int | None]]:
    """Each function's arguments' ``ndim`` as its ``@xw.arg`` declares it (read through xlwings' own decorators)."""
    if not _NDIMS:
        for spec in build._xlfuncs():
            _NDIMS[spec["name"]] = [a["options"].get("ndim") for a in spec["args"]]
    return _NDIMS


def _as_declared(value: Any, ndim: int | None) -> Any:
    """What xlwings hands over: ndim=2 makes a single value a 1x1 range; without it, one row or one
    column of a range arrives as a flat list and a single cell as the value."""
    is_2d = isinstance(value, list) and value and isinstance(value[0], list)
    if ndim == 2:
        return value if is_2d else [[value]]
    if is_2d:
        if len(value) == 1 and len(value[0]) == 1:
            return value[0][0]
        if len(value) == 1 or all(len(r) == 1 for r in value):
            return [v for r in value for v in r]
    return value


# -- a small parser for the selftest's formulas ----------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"]|"")*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<range>\'[^\']+\'![A-Z]+\d+:[A-Z]+\d+)'
                    r'|(?P<date>DATE\(\d+,\d+,\d+\))|(?P<punct>[{};,()])|(?P<name>[A-Z_]+))')


def _cell(text: str) -> tuple[int, int]:
    from otbill_xl.workbook.files import column_index

    m = re.fullmatch(r"([A-Z]+)(\d+)", text)
    assert m, text
    return int(m.group(2)), column_index(m.group(1))


def parse_formula(formula: str, port: Any) -> tuple[str, list[Any]]:
    """``=NAME(arg, ...)`` → the function name and the arguments as xlwings passes them."""
    assert formula.startswith("="), formula
    tokens = []
    pos = 1
    while pos < len(formula):
        m = _TOKEN.match(formula, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse {formula[pos:]!r}")
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    assert tokens[0][0] == "name" and tokens[1] == ("punct", "(") and tokens[-1] == ("punct", ")"), formula
    name = tokens[0][1]
    args: list[Any] = []
    i = 2

    def scalar(kind: str, text: str) -> Any:
        if kind == "str":
            return text[1:-1].replace('""', '"')
        if kind == "num":
            return float(text)
        if kind == "date":
            y, mo, d = (int(x) for x in re.findall(r"\d+", text))
            return float((date(y, mo, d) - date(1899, 12, 30)).days)
        raise ValueError(text)

    while i < len(tokens) - 1:
        kind, text = tokens[i]
        if (kind, text) == ("punct", "{"):
            rows, row = [], []
            i += 1
            while tokens[i] != ("punct", "}"):
                k, t = tokens[i]
                if (k, t) == ("punct", ";"):
                    rows.append(row)
                    row = []
                elif (k, t) != ("punct", ","):
                    row.append(scalar(k, t))
                i += 1
            rows.append(row)
            args.append(rows)
        elif kind == "range":
            sheet, cells = text.rsplit("!", 1)
            (r1, c1), (r2, c2) = (_cell(c) for c in cells.split(":"))
            values = port.values(sheet.strip("'"))
            args.append([list(r[c1 - 1:c2]) + [None] * (c2 - c1 + 1 - len(r[c1 - 1:c2])) for r in values[r1 - 1:r2]])
        elif kind != "punct":
            args.append(scalar(kind, text))
        i += 1
        if tokens[i] == ("punct", ","):
            i += 1
    return name, args
