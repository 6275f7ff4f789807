"""Duplicate rules: the same service twice, and PT and OT lines on one day that a payer cannot tell
apart (facts §1.1, §4; CARC 18 / B20)."""

from __future__ import annotations

from collections.abc import Iterator

from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Discipline
from otbill_xl.domain.scrub._context import M_NODISC, M_OT, M_PT, Hit, VisitContext, hit, rule

E, W = Severity.ERROR, Severity.WARNING


@rule("dup.line", E, "duplicates", "Same patient, DOS, code and modifiers as an earlier row.", "visit",
      min_lines=2)
def dup_line(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Two lines with the same patient, date of service, code and modifier set bill the same service
    twice (denied as duplicate, CARC 18); a timed code is one line per DOS with its units
    (facts §1.1). The later row(s) are flagged and left out of the unit checks."""
    if len(v.entries) < 2:
        return
    seen: dict[tuple[str, frozenset[str]], int] = {}
    for i, e in enumerate(v.entries):
        key = (e.facts.code, e.facts.mod_set)
        j = seen.get(key)
        if j is None:
            seen[key] = i
            continue
        v.dup.add(i)
        timed = e.facts.info is not None and e.facts.info.is_timed
        fix = (f"Put all of the day's {e.facts.code} minutes and units on {v.ref(j)} and delete this row."
               if timed else "Delete this row if it repeats the same service.")
        yield i, hit("dup.line", "Code",
                     f"Same patient, DOS, code {e.facts.code} and modifiers as {v.ref(j)}.", fix)


@rule("dup.pt-ot-same-day", W, "duplicates",
      "OT and PT lines on the same day where a line has no discipline modifier.", "visit",
      when=M_OT | M_PT | M_NODISC, min_lines=2)
def pt_ot_same_day(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """When OT and PT both treat a patient on one day, only GO/GP tell the payer the services belong
    to two plans of care (facts §4); a line without its discipline modifier looks like a duplicate
    of the other discipline's service (CARC 18/B20). Lines already reported by ``mod.go-missing``
    are skipped."""
    if len(v.entries) < 2:
        return
    discs = {e.facts.disc for e in v.entries}
    if Discipline.OT not in discs or Discipline.PT not in discs:
        return
    for i, e in enumerate(v.entries):
        f = e.facts
        if f.disc_mods or "mod.go-missing" in f.fired or f.disc is None:
            continue
        yield i, hit("dup.pt-ot-same-day", f.free_column,
                     f"OT and PT both billed this day and this {f.disc.value} line has no "
                     f"{f.disc.modifier}.", f"Add {f.disc.modifier} in {f.free_column}.")
