"""Test helpers for X12 files: pyx12 validation with readable errors, and structural checks the
tests apply to every 837P the writer produces."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from otbill_xl.formats.x12 import ControlNumbers, Separators


def pyx12_validate(text: str) -> tuple[bool, list[str]]:
    """Validate ``text`` with pyx12 4.0.0 (``x12n_document``). Returns (valid, error messages);
    the messages come from its JSON error document, one per error with its segment."""
    import pyx12.params
    import pyx12.x12n_document

    fd_json, fd_999 = io.StringIO(), io.StringIO()
    ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=io.StringIO(text),
                                           fd_997=fd_999, fd_html=None, fd_xmldoc=None, fd_json=fd_json)
    messages: list[str] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            here = where
            if "seg_id" in node:
                here = f"{where} segment {node.get('seg_count')} {node['seg_id']} ({node.get('name')})"
            if "ele_pos" in node or "refdes" in node:
                here = f"{here} element {node.get('refdes') or node.get('ele_pos')}"
            for err in node.get("errors", ()):
                if isinstance(err, dict):
                    messages.append(f"{here.strip()}: [{err.get('err_cde')}] {err.get('err_str')} "
                                    f"(value {err.get('err_val')!r})")
            for key, value in node.items():
                if key != "errors":
                    walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    raw = fd_json.getvalue()
    if raw:
        walk(json.loads(raw), "")
    if not ok and not messages:
        messages.append("pyx12 reported the file invalid without details; 999:\n" + fd_999.getvalue())
    return ok, messages


def split_segments(text: str, seps: Separators = Separators()) -> list[list[str]]:
    return [s.strip().split(seps.element) for s in text.split(seps.segment) if s.strip()]


def check_structure(text: str, control: ControlNumbers, seps: Separators = Separators()) -> list[str]:
    """The writer's own invariants; returns a list of problems (empty = fine)."""
    problems: list[str] = []
    first = text.split(seps.segment, 1)[0] + seps.segment
    if len(first) != 106:
        problems.append(f"ISA is {len(first)} characters, not 106")
    segs = split_segments(text, seps)
    ids = [s[0] for s in segs]
    if ids[:3] != ["ISA", "GS", "ST"] or ids[-3:] != ["SE", "GE", "IEA"]:
        problems.append(f"envelope order wrong: {ids[:3]} ... {ids[-3:]}")
    isa, gs, st, se, ge, iea = segs[0], segs[1], segs[2], segs[-3], segs[-2], segs[-1]
    if isa[13] != f"{control.interchange:09d}" or iea[2] != isa[13] or iea[1] != "1":
        problems.append(f"interchange control numbers: ISA13={isa[13]} IEA={iea[1:]}")
    if gs[6] != str(control.group) or ge[2] != gs[6] or ge[1] != "1":
        problems.append(f"group control numbers: GS06={gs[6]} GE={ge[1:]}")
    if int(st[2]) != control.transaction or not 4 <= len(st[2]) <= 9 or se[2] != st[2]:
        problems.append(f"transaction control numbers: ST02={st[2]} SE02={se[2]}")
    if int(se[1]) != len(segs) - 4:
        problems.append(f"SE01={se[1]} but ST..SE holds {len(segs) - 4} segments")

    # HL numbering: 1, 2, 3, ... and every parent is an earlier HL of the right level.
    levels: dict[str, str] = {}
    expected = 1
    parent_level = {"20": "", "22": "20", "23": "22"}
    last_hl: list[str] | None = None
    children: dict[str, int] = {}
    for s in segs:
        if s[0] != "HL":
            continue
        if s[1] != str(expected):
            problems.append(f"HL {s[1]} out of sequence (expected {expected})")
        expected += 1
        want = parent_level.get(s[3])
        if want is None:
            problems.append(f"HL {s[1]} has level {s[3]}")
        elif want == "" and s[2] != "":
            problems.append(f"HL {s[1]} (20) has a parent")
        elif want and levels.get(s[2]) != want:
            problems.append(f"HL {s[1]} level {s[3]} has parent {s[2]} of level {levels.get(s[2])}")
        if s[2]:
            children[s[2]] = children.get(s[2], 0) + 1
        levels[s[1]] = s[3]
        last_hl = s
    if last_hl is None:
        problems.append("no HL segments")
    for s in segs:
        if s[0] == "HL" and s[3] in ("20", "22"):
            has_child = children.get(s[1], 0) > 0
            if (s[4] == "1") != has_child:
                problems.append(f"HL {s[1]} child code {s[4]} but it has {children.get(s[1], 0)} children")

    # CLM02 = sum of SV102 per claim.
    claim: list[str] | None = None
    total = Decimal(0)

    def close() -> None:
        if claim is not None and Decimal(claim[2]) != total:
            problems.append(f"claim {claim[1]}: CLM02 {claim[2]} but lines sum to {total}")

    for s in segs:
        if s[0] in ("CLM", "HL", "SE"):
            close()
            claim, total = (s, Decimal(0)) if s[0] == "CLM" else (None, Decimal(0))
        elif s[0] == "SV1":
            total += Decimal(s[2])
        for el in s if s[0] != "ISA" else ():
            if el != el.strip():
                problems.append(f"{s[0]} has an element with surrounding spaces: {el!r}")
    for s in segs[2:-3]:
        if s[-1] == "" and len(s) > 1:
            problems.append(f"{s[0]} ends with an empty element")
    return problems
