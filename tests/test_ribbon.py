"""The ribbon's wiring, checked on Linux: customUI14.xml is well-formed with unique ids, every button has
a label, screentip, supertip and a known icon; every onAction is a ``Sub X(control As IRibbonControl)``
that runs a public macro; every macro's RunPython string (as the VBA builds it, for a button press and for
`otbill excel selftest`) is valid Python whose import works and whose function exists. That each string
also *runs* headless on the sample through the port is tests/test_excel_selftest.py."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

from excel_fake import runpython_code
from lxml import etree

from otbill_xl.excel import macros

RIBBON = Path(__file__).resolve().parent.parent / "otbill_xl" / "excel" / "ribbon"
NS = {"ui": "http://schemas.microsoft.com/office/2009/07/customui"}
BAS = (RIBBON / "otbill.bas").read_text(encoding="utf-8")


def _icons() -> set[str]:
    lines = (RIBBON / "imagemso.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def _buttons() -> list[etree._Element]:
    root = etree.parse(str(RIBBON / "customUI14.xml")).getroot()  # raises on malformed XML
    assert root.tag == "{http://schemas.microsoft.com/office/2009/07/customui}customUI"
    return root.findall(".//ui:button", NS)


def test_ribbon_xml_is_well_formed_with_unique_ids() -> None:
    root = etree.parse(str(RIBBON / "customUI14.xml")).getroot()
    ids = root.xpath("//@id")
    assert len(ids) == len(set(ids)) and len(ids) >= 12  # tab + 3 groups + 8 buttons


def test_every_button_has_label_screentip_supertip_and_a_known_icon() -> None:
    buttons = _buttons()
    assert [b.get("label") for b in buttons] == [
        "Check charges", "Price charges", "Create claims", "Reconcile payments",
        "Import fee schedule", "New practice workbook", "Show findings", "Help"]  # issue 15 §4
    for b in buttons:
        for attr in ("label", "screentip", "supertip", "imageMso", "onAction"):
            assert (b.get(attr) or "").strip(), f"{b.get('id')} has no {attr}"
        assert b.get("imageMso") in _icons(), f"{b.get('id')}: imageMso {b.get('imageMso')} is not in imagemso.txt"
        assert len(b.get("supertip")) <= 1024  # Office's limit for a supertip


def test_every_callback_runs_a_public_macro_whose_runpython_target_exists() -> None:
    callbacks = dict(re.findall(r"Sub (\w+)\(control As IRibbonControl\)\s+(\w+)\s+End Sub", BAS))
    actions = [b.get("onAction") for b in _buttons()]
    assert set(actions) == set(callbacks), "every onAction needs its Sub X(control As IRibbonControl)"
    assert len(set(callbacks.values())) == len(callbacks)  # one macro per button
    targets = set()
    for macro in callbacks.values():
        for selftest in ("", r"C:\Users\b\AppData\Local\Temp\otbill-selftest\selftest-check_charges.json"):
            code = runpython_code(macro, selftest)
            tree = ast.parse(code)  # valid Python
            imp, call = tree.body
            assert isinstance(imp, ast.Import) and isinstance(call, ast.Expr)
            module = importlib.import_module(imp.names[0].name)
            func = getattr(module, call.value.func.attr)
            assert callable(func) and "selftest" in inspect.signature(func).parameters
            if selftest:
                # a Windows path arrives as a Python string with forward slashes (no escapes to get wrong)
                assert ast.literal_eval(call.value.keywords[0].value) == selftest.replace("\\", "/")
            targets.add(call.value.func.attr.removesuffix("_button"))
    assert targets == set(macros.BUTTONS)
