"""``otbill excel install / uninstall / doctor`` against a fake Windows machine in a tmp folder
(every OS, path and COM lookup goes through :class:`otbill_xl.excel.install.WindowsEnv`)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from otbill_xl.cli_excel_install import doctor_command, install_command, uninstall_command
from otbill_xl.excel import install as inst

VERSION = "0.37.8"


def _addin(path: Path, xlwings_version: str = VERSION, filler: bytes = b"") -> Path:
    """A stand-in .xlam: a zip whose vbaProject.bin carries the VBA's version line as a literal run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/vbaProject.bin", b"\x00\x01Const XLWINGS_VERSION As String = \"" +
                   xlwings_version.encode() + b"\"\x00" + filler)
    return path


class FakeWindows:
    """A user's profile, a venv with pythonw.exe (the DLL in the venv root, where pip puts it) and
    the packaged add-in, all under tmp."""

    def __init__(self, root: Path, *, excel_answers: bool = True, dll: bool = True, udf_ok: bool = True,
                 xlwings: str | None = VERSION, windows: bool = True) -> None:
        self.root = root
        self.profile = root / "Users" / "biller"
        self.appdata = self.profile / "AppData" / "Roaming"
        self.com_xlstart = root / "ExcelStartup"
        self.venv = root / "venv"
        self.python = self.venv / "Scripts" / "pythonw.exe"
        self.python.parent.mkdir(parents=True)
        self.python.write_bytes(b"MZ")
        if dll:
            (self.venv / f"xlwings64-{VERSION}.dll").write_bytes(b"MZ")
        self.source = _addin(root / "site-packages" / "otbill_xl" / "excel" / "otbill.xlam")
        self.env = inst.WindowsEnv(
            is_windows=lambda: windows,
            excel_startup_path=lambda: self.com_xlstart if excel_answers else None,
            environ={"APPDATA": str(self.appdata), "USERPROFILE": str(self.profile)}.get,
            interpreter=lambda: self.python,
            xlwings_version=lambda: xlwings,
            module_importable=lambda name: udf_ok,
            addin_source=lambda: self.source,
            is_64bit=lambda: True,
        )

    def files(self) -> set[Path]:
        return {p for p in self.root.rglob("*") if p.is_file()}


def test_dry_run_writes_nothing(tmp_path):
    fake = FakeWindows(tmp_path)
    before = fake.files()
    result = inst.install(dry_run=True, env=fake.env)
    assert fake.files() == before
    assert result.addin_to == fake.com_xlstart / "otbill.xlam"
    assert result.conf_file == fake.profile / ".otbill" / "otbill.conf"
    assert result.lines()[0].startswith("Would copy")
    assert result.problems == []


def test_install_copies_the_addin_and_writes_the_conf(tmp_path):
    fake = FakeWindows(tmp_path)
    result = inst.install(env=fake.env)
    copied = fake.com_xlstart / "otbill.xlam"
    assert copied.read_bytes() == fake.source.read_bytes()
    conf = inst.read_conf(fake.profile / ".otbill" / "otbill.conf")
    assert conf == {"INTERPRETER_WIN": str(fake.python), "UDF MODULES": "otbill_xl.excel.addin"}
    assert result.dll == fake.venv / f"xlwings64-{VERSION}.dll"
    assert result.problems == []
    assert all(c.ok for c in inst.doctor(fake.env)), [c.line() for c in inst.doctor(fake.env)]


def test_install_falls_back_to_appdata_xlstart_without_excel(tmp_path):
    fake = FakeWindows(tmp_path, excel_answers=False)
    inst.install(env=fake.env)
    assert (fake.appdata / "Microsoft" / "Excel" / "XLSTART" / "otbill.xlam").is_file()


def test_install_reports_a_missing_dll_with_its_fix(tmp_path):
    fake = FakeWindows(tmp_path, dll=False)
    result = inst.install(env=fake.env)
    assert result.dll is None
    assert len(result.problems) == 1
    assert f"xlwings64-{VERSION}.dll" in result.problems[0]
    assert f'pip install --force-reinstall "xlwings=={VERSION}"' in result.problems[0]


def test_uninstall_removes_what_install_put_there(tmp_path):
    fake = FakeWindows(tmp_path)
    before = fake.files()
    inst.install(env=fake.env)
    removed = inst.uninstall(fake.env)
    assert len(removed) == 2
    assert fake.files() == before
    assert inst.uninstall(fake.env) == []


def _problems(env: inst.WindowsEnv) -> dict[str, inst.Check]:
    return {c.name: c for c in inst.doctor(env) if not c.ok}


def test_doctor_before_install_names_the_conf_and_the_xlstart_copy(tmp_path):
    fake = FakeWindows(tmp_path)
    problems = _problems(fake.env)
    assert set(problems) == {"interpreter", "XLSTART add-in"}
    assert "otbill excel install" in problems["interpreter"].fix
    assert problems["XLSTART add-in"].fix == "otbill excel install"


def test_doctor_reports_each_problem_with_its_fix(tmp_path):
    fake = FakeWindows(tmp_path, dll=False, udf_ok=False)
    inst.install(env=fake.env)
    # the XLSTART copy is an older add-in built for another xlwings: stale and version drift
    _addin(fake.com_xlstart / "otbill.xlam", "0.37.7")
    problems = _problems(fake.env)
    assert set(problems) == {"add-in xlwings version", "xlwings DLL", "UDF module", "XLSTART add-in"}
    assert "add-in 0.37.7, package 0.37.8" in problems["add-in xlwings version"].detail
    assert 'pip install "xlwings==0.37.7"' in problems["add-in xlwings version"].fix
    assert problems["xlwings DLL"].fix == f'pip install --force-reinstall "xlwings=={VERSION}" in this environment'
    assert problems["UDF module"].fix == 'pip install "otbill-xl[excel]"'
    assert "otbill excel install" in problems["XLSTART add-in"].fix
    assert all("-> fix: " in c.line() for c in problems.values())


def test_doctor_finds_an_interpreter_from_another_environment(tmp_path):
    fake = FakeWindows(tmp_path)
    inst.install(env=fake.env)
    other = tmp_path / "other" / "pythonw.exe"
    other.parent.mkdir()
    other.write_bytes(b"MZ")
    moved = inst.WindowsEnv(**{**fake.env.__dict__, "interpreter": lambda: other})
    problems = _problems(moved)
    assert set(problems) == {"interpreter"}
    assert str(other) in problems["interpreter"].detail


def test_doctor_without_xlwings(tmp_path):
    fake = FakeWindows(tmp_path, xlwings=None)
    inst.install(env=fake.env)
    problems = _problems(fake.env)
    assert problems["xlwings package"].fix == 'pip install "otbill-xl[excel]"'
    assert "xlwings DLL" in problems


def test_not_windows_raises_with_the_windows_steps(tmp_path):
    fake = FakeWindows(tmp_path, windows=False)
    with pytest.raises(inst.NotOnWindows) as err:
        inst.install(dry_run=True, env=fake.env)
    assert 'pip install "otbill-xl[excel]"' in str(err.value)
    with pytest.raises(inst.NotOnWindows):
        inst.uninstall(fake.env)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("install")(install_command)
    app.command("uninstall")(uninstall_command)
    app.command("doctor")(doctor_command)
    return app


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows exit")
@pytest.mark.parametrize("args", [["install"], ["install", "--dry-run"], ["uninstall"]])
def test_cli_exits_2_with_the_windows_steps_elsewhere(args):
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 2
    assert "otbill excel install" in result.output
    assert "pip install" in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows report")
def test_cli_doctor_elsewhere_reports_windows_as_the_problem():
    result = CliRunner().invoke(_app(), ["doctor"])
    assert result.exit_code == 1
    assert "PROBLEM Windows" in result.output
    assert "OK      otbill:" in result.output


def test_reads_xlwings_version_from_the_compressed_vba_of_xlwings_own_addin():
    # The ribbon add-in template inside the xlwings wheel: its VBA (compressed in vbaProject.bin)
    # declares XLWINGS_VERSION equal to the package's version (excel-addin-notes.md).
    xlwings = pytest.importorskip("xlwings")
    template = Path(xlwings.__file__).parent / "quickstart_addin_ribbon.xlam"
    if not template.is_file():
        pytest.skip("this xlwings has no quickstart_addin_ribbon.xlam")
    assert inst.addin_xlwings_version(template) == xlwings.__version__
    assert inst.addin_xlwings_version(Path(xlwings.__file__)) is None  # not a zip
