"""Install, remove and diagnose the otbill Excel add-in on the biller's Windows machine.

``install`` copies ``otbill.xlam`` into the user's XLSTART folder (a trusted location: a file a local
installer copies there carries no Mark-of-the-Web, so its macros are not blocked) and writes the
user's xlwings config ``%USERPROFILE%\\.otbill\\otbill.conf`` (interpreter + UDF module), which the
add-in's VBA reads because its ``PROJECT_NAME`` is ``otbill``. ``doctor`` checks what xlwings users
most often get wrong: add-in and package versions apart (the VBA declares a version-stamped DLL),
the DLL not beside the interpreter, the UDF module not importable, a stale XLSTART copy.

Every lookup of the operating system (paths, environment, Excel's COM interface, imports) goes
through :class:`WindowsEnv`, so the tests run all of it against a fake Windows in a tmp folder.
"""

from __future__ import annotations

import filecmp
import importlib
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from otbill_xl._version import __version__
from otbill_xl.errors import OtbillError

#: The file name of the add-in, in the package and in XLSTART.
ADDIN_NAME = "otbill.xlam"
#: The module whose ``@xw.func`` functions become the worksheet functions.
UDF_MODULE = "otbill_xl.excel.addin"
#: The add-in's VBA ``PROJECT_NAME``: the config folder and file are named after it.
PROJECT_NAME = "otbill"

#: What a biller on macOS or Linux is told (exit 2).
WINDOWS_STEPS = """\
The otbill add-in installs on Windows with Excel (worksheet functions need Windows). On Windows:
  1. Install Python 3.11 or later from python.org (tick "Add python.exe to PATH").
  2. In a Command Prompt: py -m venv %USERPROFILE%\\otbill-venv
  3. %USERPROFILE%\\otbill-venv\\Scripts\\activate
  4. pip install "otbill-xl[excel]"
  5. otbill excel install
  6. Start Excel: the otbill tab is on the ribbon. Run `otbill excel doctor` if it is not.
On macOS the ribbon buttons work after `xlwings runpython install`; the worksheet functions do not."""


class NotOnWindows(OtbillError):
    message = WINDOWS_STEPS


class AddinMissing(OtbillError):
    message = ("The otbill.xlam add-in is not in this installation of otbill-xl; "
                       "reinstall with: pip install --force-reinstall \"otbill-xl[excel]\"")


def _real_excel_startup_path() -> Path | None:  # pragma: no cover - needs Excel
    """Excel's own XLSTART folder, asked through COM the way ``xlwings addin install`` does
    (asking for ``StartupPath`` also creates the folder). ``None`` when Excel cannot be reached."""
    try:
        import xlwings as xw

        active = xw.apps.active if xw.apps else None
        if active is not None:
            return Path(active.startup_path)
        with xw.App(visible=False) as app:
            return Path(app.startup_path)
    except Exception:  # noqa: BLE001 - no Excel / COM failure: the caller falls back to %APPDATA%
        return None


def _xlwings_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("xlwings")
    except Exception:  # noqa: BLE001 - not installed
        return None


def _module_importable(name: str) -> bool:
    """Really imported (not just found): the UDF module fails in Excel when xlwings itself does not import."""
    try:
        importlib.import_module(name)
        return True
    except Exception:  # noqa: BLE001 - any import failure is what Excel would hit
        return False


def _default_interpreter() -> Path:
    """``pythonw.exe`` of the running environment (no console window behind Excel)."""
    exe = Path(sys.executable)
    return exe.with_name("pythonw.exe") if exe.name.lower() == "python.exe" else exe


@dataclass(frozen=True)
class WindowsEnv:
    """The machine as install/doctor see it. The default is the real one; tests pass a fake."""

    is_windows: Callable[[], bool] = lambda: sys.platform == "win32"
    excel_startup_path: Callable[[], Path | None] = _real_excel_startup_path
    environ: Callable[[str], str | None] = os.environ.get
    interpreter: Callable[[], Path] = _default_interpreter
    xlwings_version: Callable[[], str | None] = _xlwings_version
    module_importable: Callable[[str], bool] = _module_importable
    addin_source: Callable[[], Path] = lambda: Path(__file__).resolve().parent / ADDIN_NAME
    is_64bit: Callable[[], bool] = lambda: sys.maxsize > 2**32


def xlstart_folder(env: WindowsEnv) -> Path:
    """Excel's XLSTART folder (via COM); without Excel reachable, ``%APPDATA%\\Microsoft\\Excel\\XLSTART``."""
    found = env.excel_startup_path()
    if found:
        return Path(found)
    appdata = env.environ("APPDATA")
    if not appdata:
        raise OtbillError("Cannot find the XLSTART folder: Excel did not answer and %APPDATA% is not set. "
                          "Start Excel once, close it, and run `otbill excel install` again.")
    return Path(appdata) / "Microsoft" / "Excel" / "XLSTART"


def conf_path(env: WindowsEnv) -> Path:
    """``%USERPROFILE%\\.otbill\\otbill.conf``: the user config file the add-in's VBA reads."""
    profile = env.environ("USERPROFILE") or str(Path.home())
    return Path(profile) / f".{PROJECT_NAME}" / f"{PROJECT_NAME}.conf"


def conf_text(interpreter: Path) -> str:
    """The config file in xlwings' format: one ``"KEY","VALUE"`` line per setting."""
    return f'"INTERPRETER_WIN","{interpreter}"\r\n"UDF MODULES","{UDF_MODULE}"\r\n'


def read_conf(path: Path) -> dict[str, str]:
    """The settings of a config file (keys upper-case), as xlwings reads it."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        values = re.findall(r'"([^"]*)"', line)
        if len(values) >= 2:
            out[values[0].upper()] = values[1]
    return out


def dll_name(version: str, is_64bit: bool) -> str:
    return f"xlwings{64 if is_64bit else 32}-{version}.dll"


def find_dll(interpreter: Path, version: str, is_64bit: bool) -> Path | None:
    """The xlwings DLL where the add-in's VBA looks: beside the interpreter, else one folder up
    (a virtual environment's ``Scripts`` folder has the DLL in the environment's root)."""
    name = dll_name(version, is_64bit)
    for folder in (interpreter.parent, interpreter.parent.parent):
        if (folder / name).is_file():
            return folder / name
    return None


_VERSION_LINE = re.compile(rb'XLWINGS_VERSION\s*(?:As String\s*)?=\s*"(\d+\.\d+\.\d+)"')


def ovba_decompress(data: bytes, start: int, limit: int = 1 << 20) -> bytes:
    """Decompress an MS-OVBA compressed container starting at ``data[start]`` (the 0x01 signature
    byte), as far as it is valid. VBA module source is stored this way inside ``vbaProject.bin``."""
    out = bytearray()
    pos = start + 1
    while pos + 2 <= len(data) and len(out) < limit:
        header = int.from_bytes(data[pos:pos + 2], "little")
        if (header >> 12) & 0b111 != 0b011:  # chunk signature: anything else ends the container
            break
        chunk_end = min(pos + (header & 0x0FFF) + 3, len(data))
        pos += 2
        chunk_start = len(out)
        if not header >> 15:  # an uncompressed chunk: 4096 raw bytes
            out += data[pos:pos + 4096]
            pos += 4096
            continue
        while pos < chunk_end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= chunk_end:
                    break
                if not (flags >> bit) & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                token = int.from_bytes(data[pos:pos + 2], "little")
                pos += 2
                bit_count = max((len(out) - chunk_start - 1).bit_length(), 4)
                offset = (token >> (16 - bit_count)) + 1
                length = (token & (0xFFFF >> bit_count)) + 3
                if offset > len(out) - chunk_start:
                    return bytes(out)  # not a real container
                for _ in range(length):
                    out.append(out[-offset])
        pos = chunk_end
    return bytes(out)


def addin_xlwings_version(addin: Path) -> str | None:
    """``XLWINGS_VERSION`` declared in the add-in's VBA, or ``None`` when it cannot be read.

    Module source is MS-OVBA-compressed inside ``vbaProject.bin`` (an OLE file); rather than parse
    the OLE directory (no new dependency), every place a compressed container can start is tried.
    The xlwings module is small and stored in one run, which is how writers lay modules out."""
    try:
        with zipfile.ZipFile(addin) as z:
            blob = z.read("xl/vbaProject.bin")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    hit = _VERSION_LINE.search(blob)  # stored uncompressed (e.g. a test stand-in)
    if hit:
        return hit.group(1).decode()
    for start in (m.start() for m in re.finditer(rb"\x01", blob)):
        if (blob[start + 2:start + 3] or b"\0")[0] >> 4 & 0b0111 != 0b011:
            continue  # the first chunk header's signature bits do not match
        hit = _VERSION_LINE.search(ovba_decompress(blob, start))
        if hit:
            return hit.group(1).decode()
    return None


@dataclass
class InstallResult:
    dry_run: bool
    addin_from: Path
    addin_to: Path
    conf_file: Path
    conf: str
    interpreter: Path
    dll: Path | None
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "Would copy" if self.dry_run else "Copied"
        write = "Would write" if self.dry_run else "Wrote"
        out = [f"{verb} {self.addin_from} -> {self.addin_to}",
               f"{write} {self.conf_file} (interpreter {self.interpreter}, UDF module {UDF_MODULE})"]
        out.append(f"xlwings DLL: {self.dll}" if self.dll else "xlwings DLL: not found")
        out.extend(f"Problem: {p}" for p in self.problems)
        if not self.dry_run and not self.problems:
            out.append("Done. Start Excel: the otbill tab is on the ribbon.")
        return out


def _dll_problem(env: WindowsEnv, interpreter: Path) -> tuple[Path | None, str | None]:
    version = env.xlwings_version()
    if version is None:
        return None, 'xlwings is not installed in this environment; fix: pip install "otbill-xl[excel]"'
    dll = find_dll(interpreter, version, env.is_64bit())
    if dll is None:
        name = dll_name(version, env.is_64bit())
        return None, (f"{name} is neither in {interpreter.parent} nor in {interpreter.parent.parent}; "
                      f'fix: pip install --force-reinstall "xlwings=={version}" in this environment')
    return dll, None


def install(dry_run: bool = False, env: WindowsEnv | None = None) -> InstallResult:
    """Copy the add-in into XLSTART and write the user config; ``dry_run`` only says what it would do.
    Raises :class:`NotOnWindows` (with the Windows steps) elsewhere."""
    env = env or WindowsEnv()
    if not env.is_windows():
        raise NotOnWindows()
    source = env.addin_source()
    if not source.is_file():
        raise AddinMissing()
    interpreter = env.interpreter()
    target = xlstart_folder(env) / ADDIN_NAME
    conf_file = conf_path(env)
    dll, problem = _dll_problem(env, interpreter)
    result = InstallResult(dry_run, source, target, conf_file, conf_text(interpreter), interpreter, dll,
                           [problem] if problem else [])
    if not interpreter.is_file():
        result.problems.append(f"{interpreter} does not exist; fix: run `otbill excel install` from the "
                               "environment's own Scripts folder")
    if dry_run:
        return result
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)  # copyfile: no metadata, so no Zone.Identifier stream comes along
    conf_file.parent.mkdir(parents=True, exist_ok=True)
    conf_file.write_text(result.conf, encoding="utf-8", newline="")
    return result


def uninstall(env: WindowsEnv | None = None) -> list[str]:
    """Remove the XLSTART copy and the user config; returns what was removed (empty: nothing was there)."""
    env = env or WindowsEnv()
    if not env.is_windows():
        raise NotOnWindows()
    removed = []
    conf_file = conf_path(env)
    for path in (xlstart_folder(env) / ADDIN_NAME, conf_file):
        if path.is_file():
            path.unlink()
            removed.append(str(path))
    if conf_file.parent.is_dir() and not any(conf_file.parent.iterdir()):
        conf_file.parent.rmdir()
    return removed


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{'OK     ' if self.ok else 'PROBLEM'} {self.name}: {self.detail}" + ("" if self.ok else f" -> fix: {self.fix}")


_REINSTALL = "run `otbill excel install` again"


def doctor(env: WindowsEnv | None = None) -> list[Check]:
    """Each thing the add-in needs, OK or the problem with its fix."""
    env = env or WindowsEnv()
    checks = [Check("otbill", True, __version__)]
    windows = env.is_windows()
    if not windows:
        checks.append(Check("Windows", False, "the add-in's worksheet functions need Windows with Excel",
                            "install on Windows (`otbill excel install` prints the steps)"))
    xlw = env.xlwings_version()
    checks.append(Check("xlwings package", True, xlw) if xlw else
                  Check("xlwings package", False, "not installed", 'pip install "otbill-xl[excel]"'))
    source = env.addin_source()
    installed = xlstart_folder(env) / ADDIN_NAME if windows else None
    addin_file = installed if installed and installed.is_file() else (source if source.is_file() else None)
    if addin_file is not None:
        addin_v = addin_xlwings_version(addin_file)
        if addin_v is None:
            checks.append(Check("add-in xlwings version", False, f"cannot read XLWINGS_VERSION from {addin_file}",
                                'pip install --force-reinstall "otbill-xl[excel]", then ' + _REINSTALL))
        elif xlw and addin_v != xlw:
            checks.append(Check("add-in xlwings version", False,
                                f"add-in {addin_v}, package {xlw} (the add-in would look for the {addin_v} DLL)",
                                f'pip install "xlwings=={addin_v}", or upgrade otbill-xl[excel] and {_REINSTALL}'))
        else:
            checks.append(Check("add-in xlwings version", True, addin_v))
    interpreter = env.interpreter()
    conf_file = conf_path(env)
    if windows:
        conf = read_conf(conf_file) if conf_file.is_file() else {}
        configured = conf.get("INTERPRETER_WIN")
        if not configured:
            checks.append(Check("interpreter", False, f"{conf_file} is missing or names no interpreter", _REINSTALL))
        elif not Path(configured).is_file():
            checks.append(Check("interpreter", False, f"{configured} (in {conf_file}) does not exist", _REINSTALL))
        elif Path(configured) != interpreter:
            checks.append(Check("interpreter", False, f"{conf_file} names {configured}, this environment is "
                                f"{interpreter}", f"{_REINSTALL} from the environment Excel should use"))
        else:
            checks.append(Check("interpreter", True, configured))
        dll, problem = _dll_problem(env, Path(configured) if configured else interpreter)
        checks.append(Check("xlwings DLL", True, str(dll)) if dll else
                      Check("xlwings DLL", False, "not found", (problem or "").partition("fix: ")[2]))
    else:
        checks.append(Check("interpreter", True, str(interpreter)))
    checks.append(Check("UDF module", True, UDF_MODULE) if env.module_importable(UDF_MODULE) else
                  Check("UDF module", False, f"{UDF_MODULE} does not import", 'pip install "otbill-xl[excel]"'))
    if windows and installed is not None:
        if not installed.is_file():
            checks.append(Check("XLSTART add-in", False, f"{installed} is missing", "otbill excel install"))
        elif source.is_file() and not filecmp.cmp(installed, source, shallow=False):
            checks.append(Check("XLSTART add-in", False, f"{installed} differs from this otbill-xl's add-in "
                                "(an older or newer version)", f"close Excel and {_REINSTALL}"))
        else:
            checks.append(Check("XLSTART add-in", True, str(installed)))
    return checks
