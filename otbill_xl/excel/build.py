"""Build ``otbill.xlam``, the add-in a biller installs, on any OS (no Excel needed).

The add-in is xlwings' own ribbon add-in template (``quickstart_addin_ribbon.xlam``, BSD-3) from the
*installed, pinned* xlwings wheel, so its ``xlwings`` VBA module declares exactly the DLL that
``pip install otbill-xl[excel]`` puts beside it (a version mismatch is xlwings' most reported failure).
Its VBA is edited with pyopenvba; the ribbon and the config sheet are swapped at the zip level:

- ``xlwings`` module: ``PROJECT_NAME`` = ``otbill`` (its user config becomes ``~/.otbill/otbill.conf``
  instead of the ``myaddin`` file every quickstart add-in shares);
- the template's one-button ``RibbonMyAddin`` module is replaced by ``otbill.bas`` (our callbacks);
- ``xlwings_udfs``: the worksheet-function wrappers, written by xlwings' own generator from the
  ``@xw.func`` functions of :mod:`otbill_xl.excel.addin`, so no "Import Functions" (and no *Trust access
  to the VBA project object model*) is needed in Excel;
- ``customUI/customUI14.xml`` (2009/07 namespace) replaces the template's 2006 ``customUI.xml``;
- ``otbill_help``: ``Application.MacroOptions`` for each function (description, category ``otbill``,
  argument help), from the same ``@xw.func`` docstrings and ``@xw.arg`` docs xlwings' "Import
  Functions" registers; ``ThisWorkbook``'s ``Workbook_Open`` runs it;
- the config sheet ``_myaddin.conf`` becomes ``otbill.conf`` with ``UDF Modules`` set and no empty rows
  (an empty key there would hide the interpreter ``otbill excel install`` writes to the user's config).

Facts: ../shared/reference/excel-addin-notes.md. Build-time only: pyopenvba is not needed to run the add-in.
"""

from __future__ import annotations

import html
import importlib
import io
import re
import shutil
import sys
import tempfile
import types
import zipfile
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from unittest import mock

from otbill_xl.errors import OtbillError

PROJECT_NAME = "otbill"
CATEGORY = "otbill"  # the Insert Function dialog's category (as addin.CATEGORY)
CONFIG_SHEET = f"{PROJECT_NAME}.conf"
UDF_MODULE = "otbill_xl.excel.addin"
RIBBON_MODULE = "otbill"  # VB_Name in otbill.bas
UDF_VBA_MODULE = "xlwings_udfs"  # the name xlwings' "Import Functions" gives it
HELP_VBA_MODULE = "otbill_help"  # registers each worksheet function's help when the add-in opens
TEMPLATE_RIBBON_MODULE = "RibbonMyAddin"
TEMPLATE_NAME = "quickstart_addin_ribbon.xlam"
CUSTOMUI_PART = "customUI/customUI14.xml"
CUSTOMUI_NS = "http://schemas.microsoft.com/office/2009/07/customui"
EXTENSIBILITY_REL = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
# the modules the built add-in holds: the template's, minus its ribbon module, plus ours
MODULES = ("ThisWorkbook", "Sheet2", "Dictionary", "xlwings", RIBBON_MODULE, UDF_VBA_MODULE, HELP_VBA_MODULE)
#: added to the template's (empty) ThisWorkbook module
WORKBOOK_OPEN = """
Private Sub Workbook_Open()
    ' the Insert Function dialog's help for otbill's worksheet functions (otbill_help is generated)
    otbill_help.RegisterFunctionHelp
End Sub
"""


class AddinBuildError(OtbillError):
    """The add-in cannot be built (xlwings or pyopenvba missing, or the template is not the expected one)."""


def ribbon_xml() -> str:
    return resources.files("otbill_xl.excel").joinpath("ribbon/customUI14.xml").read_text(encoding="utf-8")


def ribbon_bas() -> str:
    return resources.files("otbill_xl.excel").joinpath("ribbon/otbill.bas").read_text(encoding="utf-8")


def packaged_addin() -> Path:
    """The add-in shipped in the wheel (``make addin`` writes it; a test keeps it equal to a fresh build)."""
    return Path(str(resources.files("otbill_xl.excel").joinpath(f"{PROJECT_NAME}.xlam")))


def template_path() -> Path:
    try:
        import xlwings
    except ImportError:
        raise AddinBuildError('xlwings is not installed: pip install "otbill-xl[excel]"') from None
    path = Path(xlwings.__file__).parent / TEMPLATE_NAME
    if not path.exists():
        raise AddinBuildError(f"{TEMPLATE_NAME} is missing from xlwings {xlwings.__version__}")
    return path


@contextmanager
def _windows_udfs():
    """xlwings' UDF module (``xlwings.udfs``: the real ``@xw.func`` and the VBA wrapper generator) imports
    pywin32 at the top; on Linux/macOS those imports are stubbed, and ``xw.func``/``xw.arg``/``xw.ret``
    (no-ops off Windows) are pointed at the real decorators while the UDF module is imported. Everything is
    put back afterwards: the process's ``xlwings`` and ``otbill_xl.excel.addin`` stay as they were."""
    import xlwings

    stubs = {name: types.ModuleType(name) for name in ("pythoncom", "pywintypes", "win32com", "win32com.client")}
    stubs["pywintypes"].com_error = type("com_error", (Exception,), {})
    stubs["pythoncom"].CoInitialize = lambda: None
    stubs["win32com.client"].Dispatch = None
    missing = {k: v for k, v in stubs.items() if k not in sys.modules}
    with mock.patch.dict(sys.modules, missing):
        sys.modules.pop("xlwings.udfs", None)
        sys.modules.pop(UDF_MODULE, None)
        udfs = importlib.import_module("xlwings.udfs")
        with mock.patch.multiple(xlwings, func=udfs.xlfunc, sub=udfs.xlsub, script=udfs.xlsub, arg=udfs.xlarg,
                                 ret=udfs.xlret):
            yield udfs, importlib.import_module(UDF_MODULE)


def udf_names() -> list[str]:
    """Excel names of the ``@xw.func`` functions the add-in must wrap, sorted as xlwings writes them."""
    return [spec["name"] for spec in _xlfuncs()]


def _xlfuncs() -> list[dict[str, Any]]:
    """The ``__xlfunc__`` record xlwings' decorators give each ``@xw.func`` of the UDF module, in xlwings' order."""
    with _windows_udfs() as (_, module):
        return [getattr(module, a).__xlfunc__ for a in dir(module) if hasattr(getattr(module, a), "__xlfunc__")]


def udf_wrappers_vba() -> str:
    """The ``xlwings_udfs`` module source, as xlwings' ``import_udfs`` writes it for an add-in: its header
    lines, then ``generate_vba_wrapper`` for our UDF module (``ActiveWorkbook``, since the caller is .xlam)."""
    out = io.StringIO()
    out.write(f'Attribute VB_Name = "{UDF_VBA_MODULE}"\n')
    out.write("'Autogenerated code by xlwings - changes will be lost with next import!\n")
    out.write("""#Const App = "Microsoft Excel" 'Adjust when using outside of Excel\n""")
    with _windows_udfs() as (udfs, module):
        udfs.generate_vba_wrapper(UDF_MODULE, module, out, types.SimpleNamespace(Name=f"{PROJECT_NAME}.xlam"))
    return out.getvalue()


def _vba_string(text: str) -> str:
    """A VBA string literal: quotes doubled; ASCII only (a module is stored in the project's code page)."""
    if not text.isascii():
        raise AddinBuildError(f"worksheet-function help must be ASCII (a VBA module is stored in a code page): {text!r}")
    return '"' + text.replace('"', '""') + '"'


def function_help() -> list[tuple[str, str, list[str]]]:
    """(name, description, argument descriptions) of every ``@xw.func``, cut to Excel's 255 characters,
    exactly what xlwings' ``import_udfs`` passes to ``Application.MacroOptions``."""
    return [(f["name"], (f["ret"]["doc"] or "")[:255], [(a["doc"] or "")[:255] for a in f["args"] if not a["vba"]])
            for f in _xlfuncs()]


def help_vba() -> str:
    """The ``otbill_help`` module: one ``Application.MacroOptions`` per worksheet function. One statement
    per line and the arguments in an array filled line by line, so no line nears VBA's 1,023 characters."""
    out = [f'Attribute VB_Name = "{HELP_VBA_MODULE}"',
           "' Generated by `otbill excel build` from the @xw.func docstrings and @xw.arg docs of",
           f"' {UDF_MODULE}: the Insert Function dialog's help. Run by ThisWorkbook's Workbook_Open.",
           "Option Explicit", "",
           "Public Sub RegisterFunctionHelp()",
           "    Dim args() As String",
           "    ' help text must never stop the add-in from opening (e.g. Excel 2007 has no ArgumentDescriptions)",
           "    On Error Resume Next"]
    for name, doc, args in function_help():
        if args:
            out.append(f"    ReDim args(0 To {len(args) - 1})")
            out.extend(f"    args({i}) = {_vba_string(a)}" for i, a in enumerate(args))
        out.append(f"    Application.MacroOptions Macro:=\"'\" & ThisWorkbook.Name & \"'!{name}\", "
                   f"Description:={_vba_string(doc)}, Category:={_vba_string(CATEGORY)}"
                   + (", ArgumentDescriptions:=args" if args else ""))
    out += ["End Sub", ""]
    return "\n".join(out)


def _xlwings_module(source: str) -> str:
    new, n = re.subn(r'(Public Const PROJECT_NAME As String = )"[^"]*"', rf'\1"{PROJECT_NAME}"', source)
    if n != 1:
        raise AddinBuildError("the template's xlwings module has no PROJECT_NAME constant")
    return new


def _crlf(source: str) -> str:
    return source.replace("\r\n", "\n").replace("\n", "\r\n")


def _edit_vba(src: Path, dest: Path) -> None:
    try:
        from pyopenvba import ExcelFile
    except ImportError:
        raise AddinBuildError('pyopenvba is needed to build the add-in: pip install "otbill-xl[dev]"') from None
    with ExcelFile(src) as wb:
        names = set(wb.module_names())
        expected = ({m for m in MODULES if m not in (RIBBON_MODULE, UDF_VBA_MODULE, HELP_VBA_MODULE)}
                    | {TEMPLATE_RIBBON_MODULE})
        if names != expected:
            raise AddinBuildError(f"unexpected modules in the xlwings template: {sorted(names)}")
        wb.set_module("xlwings", _xlwings_module(wb.get_module("xlwings")))
        project = wb.vba_project()
        project.delete_module(TEMPLATE_RIBBON_MODULE)
        # CRLF: the line ending the VBA editor stores and exports
        project.add_module(RIBBON_MODULE, _crlf(ribbon_bas()))
        project.add_module(UDF_VBA_MODULE, _crlf(udf_wrappers_vba()))
        project.add_module(HELP_VBA_MODULE, _crlf(help_vba()))
        wb.set_module("ThisWorkbook", _crlf(wb.get_module("ThisWorkbook").rstrip("\r\n") + "\n" + WORKBOOK_OPEN))
        wb.save(dest)
    with ExcelFile(dest) as saved:  # pyopenvba's own consistency check of what it wrote
        problems = saved.validate()
    if problems:
        raise AddinBuildError("pyopenvba: " + "; ".join(problems))


#: The add-in's config sheet: only what is fixed when the add-in is built. xlwings' GetConfig takes a key
#: found on this sheet even when its value is empty, and looks no further; the template's empty
#: Interpreter_Win, PYTHONPATH and Conda rows would hide the interpreter `otbill excel install` writes to
#: %USERPROFILE%\.otbill\otbill.conf (xlwings would then start whatever ``pythonw`` is on PATH and fail with
#: ModuleNotFound), so they are left out. Keys are the template's shared strings.
CONFIG_ROWS: tuple[tuple[str, str | bool], ...] = (
    ("UDF Modules", UDF_MODULE), ("Debug UDFs", False), ("Use UDF Server", False), ("Show Console", False))


def _config_sheet(xml: str, shared: list[str]) -> str:
    """The config sheet's rows replaced by :data:`CONFIG_ROWS`, from A1 down without a gap (xlwings reads
    A1 to the first blank); keys point at the template's shared strings, values are inline."""
    rows = []
    for n, (key, value) in enumerate(CONFIG_ROWS, start=1):
        if key not in shared:
            raise AddinBuildError(f"the template's config sheet has no {key} row")
        cell = (f'<c r="B{n}" s="1" t="b"><v>{int(value)}</v></c>' if isinstance(value, bool)
                else f'<c r="B{n}" s="1" t="inlineStr"><is><t>{value}</t></is></c>')
        rows.append(f'<row r="{n}" spans="1:2" ht="15.75"><c r="A{n}" s="1" t="s"><v>{shared.index(key)}</v></c>'
                    f"{cell}</row>")
    new, n = re.subn(r"<sheetData>.*</sheetData>", "<sheetData>" + "".join(rows) + "</sheetData>", xml, flags=re.S)
    if n != 1:
        raise AddinBuildError("the template's config sheet has no sheetData")
    return re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:B{len(CONFIG_ROWS)}"', new)


def config_values(sheet_xml: str, shared: list[str]) -> dict[str, str | bool | None]:
    """The config sheet as xlwings' GetConfigFromSheet reads it: column A from A1 to the first blank
    row, each key with column B's value (None when empty — which still hides the user's config file)."""
    found: dict[str, str | bool | None] = {}
    for n, row in enumerate(re.findall(r"<row [^>]*>(.*?)</row>", sheet_xml, re.S), start=1):
        key = re.search(rf'<c r="A{n}"[^>]*t="s"[^>]*><v>(\d+)</v></c>', row)
        if key is None:
            break
        value = re.search(rf'<c r="B{n}"([^>]*)>(.*?)</c>', row, re.S)
        text = re.search(r"<(?:v|t)>([^<]*)</(?:v|t)>", value.group(2)) if value else None
        name = shared[int(key.group(1))]
        if text is None:
            found[name] = None
        elif ' t="b"' in value.group(1):  # type: ignore[union-attr]
            found[name] = text.group(1) == "1"
        else:
            found[name] = html.unescape(text.group(1))
    return found


def _shared_strings(xml: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<si><t[^>]*>([^<]*)</t></si>", xml)]


def _edit_parts(parts: dict[str, bytes]) -> dict[str, bytes]:
    out = dict(parts)
    del out["customUI/customUI.xml"]
    out[CUSTOMUI_PART] = ribbon_xml().encode("utf-8")
    rels = parts["_rels/.rels"].decode("utf-8")
    if rels.count(f'Type="{EXTENSIBILITY_REL}" Target="customUI/customUI.xml"') != 1:
        raise AddinBuildError("the template's ribbon relationship is not where expected")
    out["_rels/.rels"] = rels.replace('Target="customUI/customUI.xml"', f'Target="{CUSTOMUI_PART}"').encode()
    workbook = parts["xl/workbook.xml"].decode("utf-8")
    if workbook.count('name="_myaddin.conf"') != 1:
        raise AddinBuildError("the template's config sheet is not _myaddin.conf")
    out["xl/workbook.xml"] = workbook.replace('name="_myaddin.conf"', f'name="{CONFIG_SHEET}"').encode()
    shared = _shared_strings(parts["xl/sharedStrings.xml"].decode("utf-8"))
    out["xl/worksheets/sheet1.xml"] = _config_sheet(parts["xl/worksheets/sheet1.xml"].decode("utf-8"), shared).encode()
    return out


def build_addin(out: Path) -> Path:
    """Write ``otbill.xlam`` to ``out`` (parents created); returns ``out``."""
    template = template_path()
    with tempfile.TemporaryDirectory() as tmp:
        edited = Path(tmp) / f"{PROJECT_NAME}.xlam"
        _edit_vba(template, edited)
        with zipfile.ZipFile(edited) as z:
            order = [i.filename for i in z.infolist()]
            parts = {name: z.read(name) for name in order}
        parts = _edit_parts(parts)
        names = [n for n in order if n in parts] + [n for n in parts if n not in order]
        staged = Path(tmp) / "staged.xlam"
        # [Content_Types].xml first, as Office writes it; fixed timestamps so a build is reproducible
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as z:
            for name in names:
                z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), parts[name],
                           compress_type=zipfile.ZIP_DEFLATED)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staged, out)
    return out


def read_addin(path: Path) -> dict[str, Any]:
    """What a built add-in holds, for checks and for comparing two builds: VBA module sources (pyopenvba),
    the ribbon XML, and the config sheet's name and values."""
    from pyopenvba import ExcelFile

    with ExcelFile(path) as wb:
        modules = {k: v.replace("\r\n", "\n") for k, v in wb.vba_modules().items()}
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        customui = z.read(CUSTOMUI_PART).decode("utf-8") if CUSTOMUI_PART in names else None
        workbook = z.read("xl/workbook.xml").decode("utf-8")
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        rels = z.read("_rels/.rels").decode("utf-8")
        shared = _shared_strings(z.read("xl/sharedStrings.xml").decode("utf-8"))
    return {"modules": modules, "customui": customui, "parts": sorted(names), "rels": rels,
            "sheets": re.findall(r'<sheet name="([^"]+)"', workbook),
            "config": config_values(sheet, shared)}
