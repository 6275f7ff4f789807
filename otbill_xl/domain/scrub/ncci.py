"""NCCI rules: CMS's procedure-to-procedure (PTP) pairs and medically unlikely edits (MUE), and a
plausibility ceiling on units where no MUE is known (facts §3 "MUE", §6; issue #12 §3-4).

The CMS tables are the user's: ``otbill refdata import-ncci`` reads CMS's quarterly practitioner
files (:mod:`otbill_xl.formats.ncci`) into a per-user store, the actions load them
(:mod:`otbill_xl.actions.refdata`) and hand them to :func:`otbill_xl.domain.scrub.scrub` as an
:class:`NcciTables` — immutable records, dated: every PTP edit carries its effective and deletion
dates, every MUE table the first date of service of its quarter. This module never reads a file.

Without an imported PTP file the pairs shipped in ``refdata/ncci_pairs.csv`` (secondary sources,
facts §6) are a fallback at warning severity (``ncci.pair-unverified``), and the finding says to
import CMS's file.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from types import MappingProxyType
from typing import NamedTuple

from otbill_xl import refdata
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import Practice
from otbill_xl.domain.scrub._context import (
    M_NCCI,
    PRACTICE,
    Hit,
    SheetContext,
    VisitContext,
    finding,
    hit,
    plural,
    register,
    rule,
)
from otbill_xl.domain.scrub.units import limit_on

E, W = Severity.ERROR, Severity.WARNING

#: The Practice setting that raises or lowers the ceiling, and its default (see :func:`units_ceiling`).
CEILING_SETTING = "MaxUnitsPerDay"
DEFAULT_CEILING = 8

#: MUE adjudication indicators (MAI; facts §3 "MUE"; CMS MUE page): 1 = claim-line edit, 2 = date of
#: service edit, policy (absolute), 3 = date of service edit, clinical.
MAI_TEXT = {1: "line edit", 2: "date-of-service edit, policy", 3: "date-of-service edit, clinical"}
IMPORT_HINT = "otbill refdata import-ncci"


class PtpEdit(NamedTuple):
    """One NCCI procedure-to-procedure edit.

    ``deleted_on`` is the first date of service on which the edit no longer applies (CMS's "Deletion
    Date"; None: still in effect). ``modifier_indicator``: ``"0"`` never billable together, ``"1"``
    billable with an NCCI-associated modifier (59, XE, XS, XP, XU) when the services are distinct,
    ``"9"`` not applicable (the edit was deleted as if it never existed) (facts §6).
    """

    column1: str
    column2: str
    modifier_indicator: str
    effective_from: date | None
    deleted_on: date | None
    source: str

    def in_effect(self, dos: date) -> bool:
        if self.effective_from is not None and dos < self.effective_from:
            return False
        return not (self.deleted_on is not None and dos >= self.deleted_on)


class MueEdit(NamedTuple):
    """One code's practitioner MUE in one quarter's table: most units per line (MAI 1) or per
    patient and date of service (MAI 2/3)."""

    code: str
    value: int
    mai: int
    rationale: str = ""


@dataclass(frozen=True)
class MueTable:
    """One quarter's practitioner MUE table: in effect from ``effective_from`` until the next
    loaded table's date."""

    effective_from: date
    edits: Mapping[str, MueEdit]


@dataclass(frozen=True)
class NcciTables:
    """The CMS NCCI data the user imported (``otbill refdata import-ncci``).

    ``ptp`` maps a column-1 code to its edits (empty: no PTP file imported, the shipped pairs are the
    fallback); ``mue`` holds the quarters' MUE tables, oldest first (empty: none imported).
    """

    ptp: Mapping[str, tuple[PtpEdit, ...]] = field(default_factory=lambda: MappingProxyType({}))
    mue: tuple[MueTable, ...] = ()
    #: How the data is named in messages (e.g. "CMS PTP edits of 2026-01-01").
    ptp_label: str = ""

    @cached_property
    def mue_starts(self) -> tuple[date, ...]:
        return tuple(t.effective_from for t in self.mue)

    def mue_on(self, code: str, dos: date) -> tuple[MueEdit, date] | None:
        """The MUE of ``code`` in the table in effect on ``dos`` (the latest quarter starting on or
        before it), with that table's date; None when no table covers ``dos`` or it has no MUE for
        the code."""
        k = bisect.bisect_right(self.mue_starts, dos)
        if k == 0:
            return None
        table = self.mue[k - 1]
        edit = table.edits.get(code)
        return (edit, table.effective_from) if edit is not None else None


def tables(ptp: Mapping[str, tuple[PtpEdit, ...]] | None = None, mue: tuple[MueTable, ...] = (),
           ptp_label: str = "") -> NcciTables:
    """An immutable :class:`NcciTables` (the mappings are wrapped read-only)."""
    mue_sorted = tuple(sorted((MueTable(t.effective_from, MappingProxyType(dict(t.edits))) for t in mue),
                              key=lambda t: t.effective_from))
    return NcciTables(MappingProxyType(dict(ptp or {})), mue_sorted, ptp_label)


@cache
def shipped_pairs() -> Mapping[str, tuple[PtpEdit, ...]]:
    """The fallback PTP pairs shipped in ``refdata/ncci_pairs.csv`` (secondary sources, facts §6),
    by column-1 code."""
    out: dict[str, list[PtpEdit]] = {}
    for row in csv.DictReader(io.StringIO(refdata.read_text("ncci_pairs.csv"))):
        pair = PtpEdit(
            row["column1"].strip(), row["column2"].strip(), row["modifier_indicator"].strip(),
            date.fromisoformat(row["effective_from"]) if row["effective_from"] else None,
            date.fromisoformat(row["deleted_on"]) if row["deleted_on"] else None,
            row["source"],
        )
        out.setdefault(pair.column1, []).append(pair)
    return MappingProxyType({k: tuple(v) for k, v in out.items()})


@dataclass(frozen=True)
class NcciRun:
    """What the NCCI rules use in one scrub run: the pair table in use (imported or shipped), the
    MUE tables and the units ceiling (the Practice's ``MaxUnitsPerDay`` or the default)."""

    tables: NcciTables
    pairs: Mapping[str, tuple[PtpEdit, ...]]
    imported_pairs: bool
    ceiling: int
    pair_codes: frozenset[str]

    @classmethod
    def build(cls, ncci: NcciTables | None, practice: Practice | None) -> NcciRun:
        t = ncci if ncci is not None else NcciTables()
        imported = bool(t.ptp)
        pairs = t.ptp if imported else shipped_pairs()
        codes = frozenset(c for edits in pairs.values() for p in edits for c in (p.column1, p.column2))
        ceiling, _problem = units_ceiling(practice)
        return cls(t, pairs, imported, ceiling, codes)

    def boundaries(self, codes: frozenset[str] | set[str]) -> set[date]:
        """Dates on which a table the visit rules read changes for one of ``codes`` (the codes of the
        book): the scrub's eras, within which a visit pattern's result is reused. Only real changes
        count (a quarter whose MUEs for these codes equal the last quarter's adds no era)."""
        days: set[date] = set()
        for c1, edits in self.pairs.items():
            if c1 not in codes:
                continue
            for p in edits:
                if p.column2 in codes:
                    days.update(d for d in (p.effective_from, p.deleted_on) if d is not None)
        previous: dict[str, MueEdit] | None = None
        for t in self.tables.mue:
            now = {c: e for c in codes if (e := t.edits.get(c)) is not None}
            if now != previous:
                days.add(t.effective_from)
            previous = now
        return days


def units_ceiling(practice: Practice | None) -> tuple[int, str]:
    """The most units of one code a patient's day may carry when no MUE is loaded for the code, and
    a problem text when the Practice setting could not be used.

    Default :data:`DEFAULT_CEILING` = 8 units: **a stated default, not a CMS number.** Eight 15-minute
    units are two hours of a single timed code on one patient's day (under the 8-minute rule 8 units
    need at least 113 minutes, facts §1); an outpatient therapy visit of that length *of one code* is
    implausible, while real days stay well below it. It only guards against typing slips (450 minutes
    for 45, giving 30 units) until CMS's MUE table is imported; a practice that does bill more sets
    ``MaxUnitsPerDay`` on its Practice sheet.
    """
    raw = (practice.extra.get(CEILING_SETTING, "") if practice is not None else "") or ""
    text = str(raw).strip()
    if not text:
        return DEFAULT_CEILING, ""
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 1 or value != int(value):
        return DEFAULT_CEILING, f"{CEILING_SETTING} {text!r} is not a whole number of units of 1 or more"
    return int(value), ""


# --- MUE and the units ceiling ------------------------------------------------------------


def _units(v: VisitContext, i: int) -> int | None:
    units = v.entries[i].line.units
    return units if units is not None else v.computed.get(i)


@rule("ncci.mue", E, "ncci", "Units over CMS's practitioner MUE for the code on the date of service.", "visit")
def mue_exceeded(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Medically unlikely edits (facts §3 "MUE"; CMS Medicare NCCI MUE page): the most units of a code
    a provider reports for one patient on one date of service. Units over the MUE deny the **whole
    line** (CARC 151 with RARC N362, facts §7), not just the excess. The MUE adjudication indicator
    says how units are counted: MAI 1 is a claim-line edit (each line's units against the MUE); MAI 2
    (policy) and 3 (clinical) are date-of-service edits (the units of all the code's lines of the
    patient's day, summed, against the MUE; then every such line is denied)
    (https://www.denialstop.com/blog/mue-limits-medicare [S], facts §3). Units are the entered units,
    the computed ones when Units is blank. Where no MUE is loaded for the code on the DOS,
    ``ncci.units-ceiling`` applies instead."""
    run: NcciRun | None = v.ncci
    if v.dos is None or run is None:
        return
    yield from _unit_checks(v, run, v.dos)


register("ncci.units-ceiling", E, "ncci",
         "Units of one code on a patient's day above the plausibility ceiling (no MUE loaded).")


def _unit_checks(v: VisitContext, run: NcciRun, dos: date) -> Iterator[tuple[int, Hit]]:
    mue_loaded = bool(run.tables.mue)
    if not mue_loaded:  # the usual visit, a few units in all, cannot pass the ceiling with any code
        total = 0
        for i, e in enumerate(v.entries):
            units = e.line.units
            total += (units if units is not None else v.computed.get(i, 0)) or 0
        if total <= run.ceiling:
            return
    by_code: dict[str, list[tuple[int, int]]] = {}
    for i, e in enumerate(v.entries):
        if i in v.dup:
            continue
        units = _units(v, i)
        if units is None or units <= 0 or not e.facts.code:
            continue
        by_code.setdefault(e.facts.code, []).append((i, units))
    hits: list[tuple[int, Hit]] = []
    for code, lines in by_code.items():
        found = run.tables.mue_on(code, dos) if mue_loaded else None
        total = sum(u for _, u in lines)
        if found is not None:
            mue, table_date = found
            where = f"CMS practitioner MUE table of {table_date.isoformat()}"
            if mue.mai == 1:
                for i, units in lines:
                    if units > mue.value:
                        hits.append((i, hit(
                            "ncci.mue", "Units",
                            f"{code} is billed with {plural(units, 'unit')} on this line; its MUE is "
                            f"{mue.value} per line (MAI 1, {MAI_TEXT[1]}; {where}): the payer denies the "
                            "whole line.",
                            f"Correct Units (or Minutes) of {code}: at most {mue.value} on one line.")))
            elif total > mue.value:
                kind = MAI_TEXT.get(mue.mai, "date-of-service edit")
                appeal = (" MAI 2 is absolute: units above it are not paid even on appeal." if mue.mai == 2
                          else " With MAI 3 more units may be paid on appeal with the treatment notes.")
                for i, _ in lines:
                    hits.append((i, hit(
                        "ncci.mue", "Units",
                        f"{code} is billed with {plural(total, 'unit')} on this date of service; its MUE is "
                        f"{mue.value} per patient per day (MAI {mue.mai}, {kind}; {where}): the payer denies "
                        f"every {code} line of the day.",
                        f"Correct Units (or Minutes) of {code} on this day to at most {mue.value} in total."
                        + appeal)))
            continue
        if total <= run.ceiling or limit_on(code, dos) is not None:
            continue  # a code with a sourced daily limit is checked by units.daily-limit
        source = ("CMS's MUE table has no value for it on this date" if mue_loaded
                  else "no CMS MUE table is imported")
        for i, _ in lines:
            hits.append((i, hit(
                "ncci.units-ceiling", "Units",
                f"{code} is billed with {plural(total, 'unit')} on this patient's day, above the plausibility "
                f"ceiling of {run.ceiling} units of one code a day ({source}).",
                f"Check Units and Minutes of {code} (e.g. 450 minutes typed for 45). If the units are right, "
                f"raise the ceiling with the Practice setting {CEILING_SETTING} (e.g. {total}), or import "
                f"CMS's practitioner MUE table: {IMPORT_HINT} --mue FILE.")))
    hits.sort(key=lambda t: t[0])
    yield from hits


@rule("ncci.ceiling-setting", W, "ncci", "The Practice setting MaxUnitsPerDay is not a whole number.", "sheet")
def ceiling_setting(ctx: SheetContext) -> Iterator[Finding]:
    """``MaxUnitsPerDay`` (Practice sheet) sets the units ceiling of :func:`units_ceiling`; a value
    that is not a whole number of 1 or more is ignored (the default applies) and reported."""
    _value, problem = units_ceiling(ctx.book.practice)
    if problem:
        yield finding("ncci.ceiling-setting", PRACTICE, None, CEILING_SETTING,
                      f"{problem}; the default of {DEFAULT_CEILING} units of one code a day is used.",
                      f"Set {CEILING_SETTING} to a whole number such as 12, or clear it.")


# --- PTP pairs ------------------------------------------------------------------------------


@rule("ncci.ptp-pair", E, "ncci",
      "CMS PTP pair on the same patient and DOS: column-2 code needs 59/X{EPSU} (or cannot be billed).",
      "visit", when=M_NCCI, min_lines=2)
def ptp_pair(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """NCCI procedure-to-procedure edits (facts §6; CMS Medicare NCCI PTP page): when both codes of an
    edit are billed for one patient on one date of service, the column-2 code is denied (CARC 236/97)
    unless the edit's modifier indicator is 1 and the column-2 line carries 59, XE, XS, XP or XU
    because the services were distinct (separate time intervals: XU/59 on the column-2 code, facts
    §4). Indicator 0: never billable together. Indicator 9: no edit (deleted as if it never existed).
    An edit applies from its effective date until its deletion date (the first DOS it no longer
    applies). Pairs come from CMS's PTP file as imported; without one, the shipped secondary-source
    pairs are reported as ``ncci.pair-unverified`` warnings instead."""
    run: NcciRun | None = v.ncci
    if run is None or len(v.entries) < 2 or v.dos is None:
        return
    present: dict[str, list[int]] = {}
    wanted = run.pair_codes
    for i, e in enumerate(v.entries):
        f = e.facts
        if f.code in wanted and f.active:
            present.setdefault(f.code, []).append(i)
    if len(present) < 2:
        return
    issues: dict[int, list[tuple[PtpEdit, int]]] = {}
    for code1, rows1 in present.items():
        for pair in run.pairs.get(code1, ()):
            rows2 = present.get(pair.column2)
            if rows2 is None or pair.modifier_indicator not in ("0", "1") or not pair.in_effect(v.dos):
                continue
            for i in rows2:
                if pair.modifier_indicator == "1" and v.entries[i].facts.has_ncci_mod:
                    continue
                issues.setdefault(i, []).append((pair, rows1[0]))
    imported = run.imported_pairs
    source = (run.tables.ptp_label or "CMS PTP file") if imported else "secondary sources"
    unverified = "" if imported else (
        f" Not verified against CMS's file (this pair comes from {source}): import the current quarter's "
        f"practitioner PTP file with {IMPORT_HINT} --ptp FILE.")
    for i in sorted(issues):
        f = v.entries[i].facts
        pairs = issues[i]
        others = ", ".join(f"{p.column1} on {v.ref(j)}" for p, j in pairs)
        if any(p.modifier_indicator == "0" for p, _ in pairs):
            column = "Code"
            message = (f"{f.code} cannot be billed on the same day as {others} (NCCI PTP edit, modifier "
                       f"indicator 0; {source}).")
            fix = f"Remove {f.code} from this day's claim.{unverified}"
        else:
            column = f.free_column
            message = (f"NCCI pairs {f.code} (column 2) with {others} ({source}): without 59/XU the payer "
                       f"denies {f.code}.")
            fix = (f"If {f.code} was done in a separate time interval, add XU (or 59) in {column}; otherwise "
                   f"remove the line.{unverified}")
        yield i, (hit("ncci.ptp-pair", column, message, fix) if imported
                  else hit("ncci.pair-unverified", column, message, fix))


register("ncci.pair-unverified", W, "ncci",
         "Shipped NCCI pair (secondary source; no CMS PTP file imported) on the same patient and DOS.")
