"""The ribbon wiring: every button's callback exists in the VBA module, and every RunPython call
names a Python function that exists (so a renamed action cannot silently break a button)."""

from __future__ import annotations

import importlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

RIBBON = Path(__file__).resolve().parent.parent / "otbill_xl" / "excel" / "ribbon"
NS = {"ui": "http://schemas.microsoft.com/office/2009/07/customui"}


def test_buttons_callbacks_and_python_targets_exist():
    root = ET.parse(RIBBON / "customUI14.xml").getroot()
    actions = [b.get("onAction") for b in root.iterfind(".//ui:button", NS)]
    assert actions == ["OtbillCheckCharges", "OtbillPriceCharges", "OtbillCreateClaims", "OtbillReconcilePayments",
                       "OtbillImportFeeSchedule", "OtbillNewPracticeWorkbook", "OtbillShowFindings", "OtbillHelp"]
    vba = (RIBBON / "otbill.bas").read_text()
    subs = dict(re.findall(r'Sub (\w+)\(control As IRibbonControl\)\s+RunPython "([^"]+)"', vba))
    assert set(actions) <= set(subs)
    for code in subs.values():
        module, alias, func = re.fullmatch(r"import ([\w.]+) as (\w+); \2\.(\w+)\(\)", code).groups()
        assert callable(getattr(importlib.import_module(module), func))
