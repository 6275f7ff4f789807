"""Code rules: is the CPT/HCPCS code known and valid on the DOS, does it fit the discipline, are
add-ons billed with their base code, and are evaluations billed sensibly (facts §3, §9, §1.6)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from re import compile as re_compile

from otbill_xl.domain.codes import CodeKind, CodeStatus, catalogue
from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Discipline
from otbill_xl.domain.scrub._context import (
    M_ADDON,
    M_EVAL,
    Hit,
    LineFacts,
    VisitContext,
    a_an,
    hit,
    rule,
)
from otbill_xl.domain.scrub.modifiers import wrong_discipline_modifier

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

#: Re-evaluation codes (facts §3): the other evaluation codes are initial evaluations.
REEVALUATIONS = frozenset({"97168", "97164", "97004", "97002"})


def _looks_like_code(text: str) -> bool:
    """Echo a cell only when it looks like a code, so a name typed there is never repeated."""
    return 0 < len(text) <= 7 and text.isascii() and text.isalnum() and any(c.isdigit() for c in text)


#: The shapes of real procedure codes: CPT Category I (5 digits), Category II/III (4 digits + F/T),
#: PLA (4 digits + U), HCPCS Level II (a letter A-V + 4 digits).
_CPT_HCPCS = re_compile(r"\d{5}|\d{4}[FTU]|[A-V]\d{4}")


def _therapy_range(code: str) -> bool:
    """The code lies where the catalogue covers every code (the 97xxx physical medicine and
    rehabilitation section, and the blocks of the catalogue's other numeric codes, e.g. 925xx, 958xx):
    a code there that the catalogue does not know is a typo or a retired code."""
    return code.startswith("97") or code[:3] in _catalogue_blocks()


@cache
def _catalogue_blocks() -> frozenset[str]:
    return frozenset(info.code[:3] for info in catalogue() if info.code[:1].isdigit())


@rule("code.unknown", E, "codes", "Code is blank, not a CPT/HCPCS code, or unknown in the therapy code range.",
      "line")
def code_unknown(f: LineFacts) -> Iterator[Hit]:
    """The Code cell must hold a CPT/HCPCS code: a blank cell, a typo, or a code in the therapy range the
    catalogue does not know (facts §3) cannot be billed (payer answer CARC 181/B18)."""
    if f.info is None and (not _CPT_HCPCS.fullmatch(f.code) or _therapy_range(f.code)):
        shown = f.code if _looks_like_code(f.code) else ""
        what = f"Code {shown} is not a CPT/HCPCS code." if shown else (
            "The code is blank." if not f.code else "The Code cell does not hold a CPT/HCPCS code.")
        yield hit("code.unknown", "Code", what, "Enter the CPT/HCPCS code billed (e.g. 97530).")


@rule("code.not-in-catalogue", W, "codes", "A CPT/HCPCS code the OT code catalogue does not know.", "line")
def code_not_in_catalogue(f: LineFacts) -> Iterator[Hit]:
    """OTs bill codes outside the therapy catalogue (facts §3): orthotics (HCPCS L-codes), splints and
    casts (29xxx), supplies. Such a code is billed as typed — a warning, never a hold — but the OT
    rules (units from minutes, discipline, NCCI pairs, MPPR) cannot be applied to it."""
    if f.info is None and _CPT_HCPCS.fullmatch(f.code) and not _therapy_range(f.code):
        yield hit("code.not-in-catalogue", "Code",
                  f"Code {f.code} is not in the OT code catalogue: it is billed as typed, without the therapy "
                  "checks (enter its Units and Charge yourself).",
                  "Nothing to do if the code is right; otherwise correct it.")


@rule("code.deleted", E, "codes", "Code was deleted before the date of service (e.g. 97003/97004).", "line")
def code_deleted(f: LineFacts) -> Iterator[Hit]:
    """A code is invalid from its deletion date on (payer answer CARC 181). 97003/97004 were
    deleted for DOS from 2017-01-01: evaluations are 97165-97167 (by complexity, a clinician's
    choice, never auto-mapped) and the re-evaluation is 97168 (facts §3, §9)."""
    info = f.info
    if f.status is not CodeStatus.DELETED or info is None or info.deleted_on is None:
        return
    repl = info.replaced_by
    if f.code == "97003":
        fix = ("Bill the OT evaluation as 97165 (low), 97166 (moderate) or 97167 (high complexity); "
               "the therapist picks the complexity from the evaluation note.")
    elif len(repl) == 1:
        fix = f"Bill {repl[0]} instead."
    elif repl and info.kind is CodeKind.EVALUATION:
        fix = f"Bill one of {', '.join(repl)} by complexity (the therapist's choice)."
    elif repl:
        fix = f"Bill the current code(s): {', '.join(repl)}."
    else:
        fix = "Bill a code valid on the date of service."
    yield hit("code.deleted", "Code",
              f"Code {f.code} was deleted for dates of service from {info.deleted_on.isoformat()}.", fix)


@rule("code.not-yet-effective", E, "codes", "Code is not yet valid on the date of service.", "line")
def code_not_yet_effective(f: LineFacts) -> Iterator[Hit]:
    """A code is invalid before its effective date (e.g. 97129 before 2020-01-01, 97550 before
    2024-01-01; facts §3, §1.6)."""
    if (f.status is CodeStatus.NOT_YET_EFFECTIVE and f.info is not None
            and (start := f.info.effective_from) is not None):
        yield hit("code.not-yet-effective", "Code",
                  f"Code {f.code} is valid only for dates of service from "
                  f"{start.isoformat()}.",
                  "Check the DOS, or bill the code in use on that date.")


@rule("code.discipline-mismatch", INFO, "codes",
      "Code usually billed under another discipline's plan of care than the line's GO/GP/GN (valid "
      "when that plan covers it).", "line")
def discipline_mismatch(f: LineFacts) -> Iterator[Hit]:
    """GO/GP/GN name the plan of care (OT/PT/SLP), and the modifier follows the plan of care, not the
    code (facts §4: "97110 under an OT plan = GO"; facts §3: the catalogue's disciplines say who
    *usually* bills a code and are "not a rule", "97116 or 97012 under an OT plan of care is billed
    with GO"). So 97113/97116/97012 with GO and a PT's 97535 with GP are valid lines: this is only
    an info asking the biller to make sure the plan of care covers the service. An evaluation code
    names its discipline in its descriptor (97161 "Physical therapy evaluation", CY2017 PFS final
    rule, Table 23), so a PT evaluation on a GO line more likely means the wrong code; no payer
    source seen says such a line is denied, so it is an info too (with the code to bill).
    Not reported when the modifier itself is wrong for the provider (``mod.wrong-discipline``)."""
    if f.info is None or not f.info.disciplines or not f.disc_mods:
        return
    if wrong_discipline_modifier(f) is not None:
        return
    disc, column = f.disc_mods[0]
    if disc in f.info.disciplines:
        return
    owners = "/".join(d.value for d in f.info.disciplines)
    if f.info.kind is CodeKind.EVALUATION:
        yield hit("code.discipline-mismatch", "Code",
                  f"{f.code} is {a_an(owners)} evaluation code but the line carries {disc.modifier} "
                  f"({disc.value} plan of care).",
                  f"{_evaluation_fix(disc, f.code)} If this was {a_an(owners)} evaluation, change {column} "
                  f"to {f.info.disciplines[0].modifier}.")
        return
    yield hit("code.discipline-mismatch", "Code",
              f"{f.code} is usually billed under {a_an(owners)} plan of care; this line carries "
              f"{disc.modifier} ({disc.value}).",
              f"Nothing to change if the {disc.value} plan of care covers {f.code} (the modifier follows "
              f"the plan of care, not the code); if it was {owners} treatment, change {column} to "
              f"{f.info.disciplines[0].modifier}.")


def _evaluation_fix(disc: Discipline, code: str) -> str:
    reeval = code in REEVALUATIONS
    if disc is Discipline.OT:
        return "Bill the OT re-evaluation 97168." if reeval else \
            "Bill the OT evaluation 97165/97166/97167 (by complexity)."
    if disc is Discipline.PT:
        return "Bill the PT re-evaluation 97164." if reeval else \
            "Bill the PT evaluation 97161/97162/97163 (by complexity)."
    return "Bill the SLP evaluation code (92521-92524) that fits."


@rule("code.addon-without-base", E, "codes",
      "Add-on code billed without its base code for the same patient and DOS.", "visit", when=M_ADDON)
def addon_without_base(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Add-on codes need their base code the same day: 97130 needs 97129, 97546 needs 97545,
    96113 needs 96112, 97551 needs 97550 (facts §1.6; payers deny with CARC B15, facts §8)."""
    codes = None
    for i, e in enumerate(v.entries):
        info = e.facts.info
        if info is None or not info.addon_to or not e.facts.active:
            continue
        if codes is None:
            codes = {x.facts.code for x in v.entries if x.facts.active}
        base = info.addon_to
        if base not in codes:
            yield i, hit("code.addon-without-base", "Code",
                         f"Add-on {info.code} is billed without its base code {base} on the same day.",
                         f"Bill the first unit as {base} (and only the further time as {info.code}).")


def _evaluations(v: VisitContext) -> list[tuple[int, Discipline, bool]]:
    out = []
    for i, e in enumerate(v.entries):
        f = e.facts
        info = f.info
        if (info is not None and info.kind is CodeKind.EVALUATION and f.active and info.disciplines
                and i not in v.dup):
            out.append((i, info.disciplines[0], f.code in REEVALUATIONS))
    return out


@rule("eval.eval-and-reeval-same-day", E, "codes",
      "Evaluation and re-evaluation of the same discipline on the same day.", "visit",
      when=M_EVAL, min_lines=2)
def eval_and_reeval(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """An initial evaluation (97165-97167) and a re-evaluation (97168) of the same discipline on one
    day contradict each other: a re-evaluation re-assesses a patient already evaluated (facts §3)."""
    if len(v.entries) < 2:
        return
    evals = _evaluations(v)
    if len(evals) < 2:
        return
    initial = {d: i for i, d, re in reversed(evals) if not re}
    for i, d, re in evals:
        if re and d in initial:
            yield i, hit("eval.eval-and-reeval-same-day", "Code",
                         f"Re-evaluation {v.entries[i].facts.code} is billed the same day as the "
                         f"{d.value} evaluation on {v.ref(initial[d])}.",
                         "Bill only one: the initial evaluation, or the re-evaluation.")


@rule("eval.duplicate-same-day", E, "codes",
      "More than one evaluation (or re-evaluation) of one discipline on the same day.", "visit",
      when=M_EVAL, min_lines=2)
def eval_duplicate(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """One evaluation per discipline per day: evaluation codes are 1 unit per session whatever the
    complexity (facts §3). Two evaluation lines (e.g. 97165 and 97166) for one patient and day
    bill the same evaluation twice; the later line is flagged. Exact duplicate rows are reported
    as ``dup.line`` instead."""
    if len(v.entries) < 2:
        return
    evals = _evaluations(v)
    if len(evals) < 2:
        return
    seen: dict[tuple[Discipline, bool], int] = {}
    for i, d, re in evals:
        key = (d, re)
        if key in seen:
            first = v.entries[seen[key]]
            yield i, hit("eval.duplicate-same-day", "Code",
                         f"A second {d.value} {'re-evaluation' if re else 'evaluation'} is billed this "
                         f"day ({first.facts.code} on {v.ref(seen[key])}).",
                         "Keep one evaluation line for the day (pick the complexity once) and delete "
                         "this one.")
        else:
            seen[key] = i

