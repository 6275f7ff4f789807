"""``otbill excel build``: the add-in made from the pinned xlwings template, read back with pyopenvba and,
independently, olevba; its ribbon, callbacks, UDF wrappers, version stamp and config sheet checked."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

xlwings = pytest.importorskip("xlwings")
pytest.importorskip("pyopenvba")

from lxml import etree  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from otbill_xl.excel import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RIBBON = ROOT / "otbill_xl" / "excel" / "ribbon"


@pytest.fixture(scope="module")
def addin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build_addin(tmp_path_factory.mktemp("addin") / "otbill.xlam")


@pytest.fixture(scope="module")
def content(addin: Path) -> dict:
    return build.read_addin(addin)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _declared_udfs() -> set[str]:
    """The ``@xw.func`` functions of addin.py, found by reading its source (not through xlwings)."""
    tree = ast.parse((ROOT / "otbill_xl" / "excel" / "addin.py").read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
            and any(ast.unparse(d).startswith("xw.func") for d in node.decorator_list)}


def test_module_set_and_our_sources(content: dict) -> None:
    modules = content["modules"]
    assert set(modules) == {"ThisWorkbook", "Sheet2", "Dictionary", "xlwings", "otbill", "xlwings_udfs", "otbill_help"}
    assert "RibbonMyAddin" not in modules  # the template's one-button module is gone
    assert modules["otbill"].strip() == _lf((RIBBON / "otbill.bas").read_text(encoding="utf-8")).strip()
    assert modules["xlwings_udfs"].strip() == _lf(build.udf_wrappers_vba()).strip()
    assert modules["otbill_help"].strip() == _lf(build.help_vba()).strip()
    assert "Private Sub Workbook_Open()\n    ' the Insert Function" in modules["ThisWorkbook"]
    assert "    otbill_help.RegisterFunctionHelp\nEnd Sub" in modules["ThisWorkbook"]


def test_every_function_registers_its_help_when_the_addin_opens(content: dict) -> None:
    """Issue 15 §5: each @xw.func's docstring is its Insert Function description and each @xw.arg doc its
    argument help (what xlwings' "Import Functions" registers), in the otbill category, from Workbook_Open."""
    import inspect

    from otbill_xl.excel import addin

    vba = content["modules"]["otbill_help"]
    calls = re.findall(r"Application\.MacroOptions Macro:=\"'\" & ThisWorkbook\.Name & \"'!(\w+)\", "
                       r"Description:=\"([^\n]*?)\", Category:=\"otbill\"(, ArgumentDescriptions:=args)?$", vba, re.M)
    assert {name for name, _, _ in calls} == _declared_udfs()
    for name, description, has_args in calls:
        function = getattr(addin, name)
        assert description.replace('""', '"') == function.__doc__.strip()[:255]
        assert 0 < len(description) <= 255
        block = vba[:vba.index(f"'!{name}\"")].rsplit("ReDim args", 1)[1]
        assert block.startswith(f"(0 To {len(inspect.signature(function).parameters) - 1})")
        assert has_args
    assert "On Error Resume Next" in vba  # help text never stops the add-in from opening
    assert max(len(line) for line in vba.splitlines()) < 1023  # VBA's line limit


def test_xlwings_module_is_the_templates_with_our_project_name(content: dict) -> None:
    from pyopenvba import ExcelFile

    with ExcelFile(build.template_path()) as wb:
        template = _lf(wb.get_module("xlwings"))
    ours = content["modules"]["xlwings"]
    assert 'Public Const PROJECT_NAME As String = "otbill"' in ours
    assert ours == template.replace('PROJECT_NAME As String = "myaddin"', 'PROJECT_NAME As String = "otbill"')


def test_version_stamp_and_dll_names_equal_installed_xlwings(content: dict) -> None:
    vba = content["modules"]["xlwings"]
    assert re.findall(r'XLWINGS_VERSION As String = "([^"]+)"', vba) == [xlwings.__version__]
    dlls = set(re.findall(r'"(xlwings(?:32|64)-[^"]+\.dll)"', vba))
    assert dlls == {f"xlwings32-{xlwings.__version__}.dll", f"xlwings64-{xlwings.__version__}.dll"}


def test_pinned_xlwings_is_the_installed_one() -> None:
    """pyproject pins the version the add-in's DLL names are stamped with."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'excel = \["xlwings==([^"]+)"\]', text).group(1) == xlwings.__version__  # type: ignore[union-attr]


def test_olevba_reads_the_same_modules(addin: Path, content: dict) -> None:
    olevba = pytest.importorskip("oletools.olevba")
    parser = olevba.VBA_Parser(str(addin))
    try:
        found = {Path(name).stem: _lf(code) for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()
    assert set(found) == set(content["modules"])
    for name in ("otbill", "xlwings_udfs"):
        assert found[name].strip() == content["modules"][name].strip()


def test_every_ribbon_action_has_its_callback_sub(content: dict) -> None:
    actions = etree.fromstring(content["customui"].encode()).xpath("//@onAction")
    assert actions, "the ribbon has no buttons"
    vba = content["modules"]["otbill"]
    for action in actions:
        assert re.search(rf"^Sub {re.escape(action)}\(control As IRibbonControl\)", vba, re.M), action


def test_udf_wrappers_match_the_declared_functions(content: dict) -> None:
    """Drift: a UDF added to addin.py without a wrapper here (or a stale wrapper) fails."""
    wrapped = set(re.findall(r"^Function (\w+)\(", content["modules"]["xlwings_udfs"], re.M))
    assert wrapped == _declared_udfs()
    assert wrapped == set(build.udf_names())
    assert len(wrapped) >= 10  # addin.py declares ten today
    for name in wrapped:
        assert f'XLPy.CallUDF("otbill_xl.excel.addin", "{name}", ' in content["modules"]["xlwings_udfs"]


def test_wrappers_keep_optional_arguments_optional(content: dict) -> None:
    vba = content["modules"]["xlwings_udfs"]
    # addin.py: def OT_UNITS(codes, minutes, rule=None, visits=None)
    assert "Function OT_UNITS(codes, minutes, Optional rule, Optional visits)" in vba
    assert "ActiveWorkbook" in vba and "ThisWorkbook" not in vba  # an add-in calls for the active book


def test_customui14_part_and_relationship(content: dict) -> None:
    assert "customUI/customUI.xml" not in content["parts"]
    root = etree.fromstring(content["customui"].encode())
    assert root.tag == "{http://schemas.microsoft.com/office/2009/07/customui}customUI"
    ids = root.xpath("//@id")
    assert len(ids) == len(set(ids))
    rels = etree.fromstring(content["rels"].encode())
    ui = [r for r in rels if r.get("Type") == "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"]
    assert [r.get("Target") for r in ui] == ["customUI/customUI14.xml"]


def test_config_sheet(content: dict) -> None:
    assert content["sheets"] == ["otbill.conf"]
    # GetConfig reads the add-in's sheet first and stops at a key even when its value is empty: only keys
    # with values, and none that must come from the user's otbill.conf (the interpreter install writes)
    assert content["config"] == {"UDF Modules": "otbill_xl.excel.addin", "Debug UDFs": False,
                                 "Use UDF Server": False, "Show Console": False}
    assert not {"Interpreter_Win", "PYTHONPATH", "Conda Path", "Conda Env"} & set(content["config"])


def test_template_config_sheet_would_hide_the_users_interpreter() -> None:
    """Why the rows go: the template's sheet has Interpreter_Win with no value (read as xlwings does)."""
    with zipfile.ZipFile(build.template_path()) as z:
        shared = build._shared_strings(z.read("xl/sharedStrings.xml").decode("utf-8"))
        template = build.config_values(z.read("xl/worksheets/sheet1.xml").decode("utf-8"), shared)
    assert "Interpreter_Win" in template and template["Interpreter_Win"] is None


def test_build_leaves_xlwings_as_it_was(addin: Path) -> None:
    """The build swaps in xlwings' Windows decorators only while it reads the UDFs."""
    before = (xlwings.func, xlwings.arg, sys.modules.get("pythoncom"))
    build.udf_names()
    assert (xlwings.func, xlwings.arg, sys.modules.get("pythoncom")) == before


def test_cli_build(tmp_path: Path) -> None:
    from otbill_xl.cli import app

    out = tmp_path / "sub" / "otbill.xlam"
    result = CliRunner().invoke(app, ["excel", "build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "10 worksheet functions" in result.output


def test_cli_build_without_pyopenvba(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from otbill_xl.cli import app

    monkeypatch.setitem(sys.modules, "pyopenvba", None)
    result = CliRunner().invoke(app, ["excel", "build", "--out", str(tmp_path / "x.xlam")])
    assert result.exit_code == 2
    assert "pyopenvba" in result.output and not (tmp_path / "x.xlam").exists()


def test_libreoffice_opens_the_addin_and_sees_its_vba(addin: Path, tmp_path: Path) -> None:
    """LibreOffice opens the .xlam headless (its type detection refuses the add-in content type, so the
    import filter is named: "Calc MS Excel 2007 VBA XML") and keeps every VBA module as Basic source; saved
    as ODS, its Basic library holds our modules with our sources, and the config sheet is there."""
    import html

    from tests.test_xlsx_patch import _soffice

    soffice = _soffice()
    out = tmp_path / "lo"
    result = subprocess.run([str(soffice), f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
                             "--headless", "--norestore", "--infilter=Calc MS Excel 2007 VBA XML",
                             "--convert-to", "ods", "--outdir", str(out), str(addin)],
                            capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    ods = out / "otbill.ods"
    assert ods.exists(), result.stdout[-2000:]
    with zipfile.ZipFile(ods) as z:
        basic = {Path(n).stem: z.read(n).decode("utf-8") for n in z.namelist()
                 if n.startswith("Basic/") and n.count("/") == 2 and not Path(n).stem.startswith("script-")}
        assert 'table:name="otbill.conf"' in z.read("content.xml").decode("utf-8")
    assert set(basic) == set(build.MODULES)
    for name in ("otbill", "xlwings_udfs", "otbill_help"):
        source = html.unescape(re.search(r"<script:module[^>]*>(.*)</script:module>", basic[name], re.S).group(1))
        ours = _lf((RIBBON / "otbill.bas").read_text(encoding="utf-8")) if name == "otbill" else \
            _lf(build.udf_wrappers_vba() if name == "xlwings_udfs" else build.help_vba())
        # LibreOffice adds its VBA-mode header and drops the Attribute lines
        body = [line for line in ours.splitlines() if not line.startswith("Attribute VB_")]
        seen = [line for line in source.splitlines() if not line.startswith(("Rem Attribute", "Option VBASupport"))]
        assert "\n".join(seen).strip() == "\n".join(body).strip(), name


def test_packaged_addin_equals_a_fresh_build(content: dict) -> None:
    """The add-in in the wheel is current: same VBA sources, ribbon and config as a build now (not bytes).
    Fails after a change to the ribbon, otbill.bas, a UDF or the xlwings pin until `make addin` is run."""
    packaged = build.packaged_addin()
    assert packaged.exists(), "otbill_xl/excel/otbill.xlam is missing: run `make addin`"
    assert build.read_addin(packaged) == content, "the packaged add-in is stale: run `make addin`"


def test_packaged_addin_is_package_data() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"otbill_xl\.excel" = \[[^\]]*"otbill\.xlam"', text)
