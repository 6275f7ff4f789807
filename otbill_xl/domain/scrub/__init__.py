"""The charge scrubber: every billing rule run over a practice book, findings per cell.

``scrub(book, as_of=...)`` returns a :class:`ScrubResult` with the findings (rule id, severity,
sheet/row/column, message, fix), the units each line should carry under its payer's unit rule,
and the number of lines checked. It is pure: no file, Excel or clock access; ``as_of`` is the
day the check is made (timely filing, future dates).

Rules live one family per module (``codes``, ``modifiers``, ``units``, ``ncci``, ``diagnoses``,
``identifiers``, ``dates``, ``payer_rules``, ``duplicates``, ``practice``, ``claim_values``);
:data:`RULES` lists every rule id with its severity, family and a one-line description.

How it stays fast on a million lines (see ``_context`` for the rule scopes):

* one pass indexes the lines by patient + DOS while looking up the per-line facts in dicts keyed
  by what the line rules depend on (code and its status, modifier cells, rendering NPI, payer):
  line rules run once per distinct key, not once per line;
* visit rules run once per distinct visit pattern (the lines' facts, minutes, units, diagnoses,
  the dated-table era of the DOS and the unit rule); other visits replay the result;
* dated rules (plan of care, authorization, filing limit ...) run only for visits outside the
  patient's safe DOS range;
* findings are only built when a rule fires;
* Python's cyclic garbage collector is paused during the run (the index holds millions of small
  containers and none of them form cycles) and restored afterwards.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from otbill_xl.domain import npi as npi_mod
from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.codes import CodeKind, CodeStatus, catalogue, normalize_code
from otbill_xl.domain.findings import Finding

# Rule modules register their rules on import (see _MODULE_ORDER for the order they run in).
from otbill_xl.domain.scrub import (  # noqa: F401
    claim_values,
    codes,
    dates,
    diagnoses,
    duplicates,
    identifiers,
    kx,
    modifiers,
    ncci,
    payer_rules,
    practice,
    units,
)
from otbill_xl.domain.scrub._context import (
    ASSISTANT_MODIFIERS_FROM,
    BOUNDS,
    CHARGES,
    DX_COLUMNS,
    M_ADDON,
    M_EVAL,
    M_LIMIT,
    M_NCCI,
    M_NODISC,
    M_OT,
    M_PT,
    M_UNTIMED,
    PATIENTS,
    PAYERS,
    PRACTICE,
    RULES,
    SCOPES,
    UNTIMED_KINDS,
    DxFacts,
    Entry,
    LineFacts,
    PatientFacts,
    PatientVisits,
    RuleInfo,
    SheetContext,
    VisitContext,
    complete_line_facts,
    finding,
    line_ref,
    parse_modifier_cells,
    timely_limit_for,
    unit_rule_for,
)

__all__ = ["RULES", "RuleInfo", "ScrubResult", "scrub"]

_SHEET_RANK = {PRACTICE: 0, PAYERS: 1, PATIENTS: 2, CHARGES: 3}

#: Order of rule families within a scope: duplicates first (later visit rules skip the rows it
#: flags), units before the daily limit and the NCCI unit checks (which read computed units);
#: registration order within a module.
_MODULE_ORDER = ("duplicates", "modifiers", "codes", "units", "ncci", "diagnoses", "identifiers", "dates",
                 "payer_rules", "practice", "claim_values")


def _ordered(scope: str) -> list:
    def rank(fn) -> int:
        return _MODULE_ORDER.index(fn.__module__.rsplit(".", 1)[-1])

    return sorted(SCOPES[scope], key=rank)


_LINE_RULES = _ordered("line")
_DX_RULES = _ordered("dx")
_VISIT_RULES = _ordered("visit")
_DATED_RULES = _ordered("dated")
_PATIENT_RULES = _ordered("patient")
_SHEET_RULES = _ordered("sheet")
_first = itemgetter(0)
_REF_RE = re.compile("\x00ref:(\\d+)\x00")

#: Switches for tests (the result must not depend on them).
_USE_VISIT_CACHE = True
_USE_SAFE_RANGE = True
_USE_WHEN_MASKS = True  # skip visit rules whose ``when`` bits / ``min_lines`` cannot be met (tests turn it off)


def _era_boundaries(run: ncci.NcciRun, book_codes: set[str]) -> list[date]:
    """Dates on which a dated table used by visit rules changes (NCCI pairs and MUEs of the codes in
    the book, unit limits)."""
    days = run.boundaries(book_codes)
    for rows in units.unit_limits().values():
        days.update(start for start, _limit, _src in rows if start is not None)
    return sorted(days)


@dataclass(frozen=True)
class ScrubResult:
    """What the scrubber found.

    ``computed_units`` maps a Charges worksheet row to the units its line should carry under the
    payer's unit rule, for every timed/untimed line whose units could be computed.
    """

    findings: tuple[Finding, ...]
    computed_units: dict[int, int] = field(default_factory=dict)
    lines_checked: int = 0


class _Scrubber:
    def __init__(self, book: PracticeBook, as_of: date, group_by_discipline: bool,
                 ncci_tables: ncci.NcciTables | None = None) -> None:
        self.book = book
        self.as_of = as_of
        self.group_by_discipline = group_by_discipline
        self.catalogue = catalogue()
        self.providers = book.providers_by_npi
        self.payers = book.payers_by_key
        self.patients = book.patients_by_id
        self.patient_facts: dict[str, PatientFacts] = {}
        self.codes: dict[str, tuple] = {}
        self.line_facts: dict[tuple, LineFacts] = {}
        self.dx_facts: dict[tuple, DxFacts] = {}
        self.visit_results: dict[tuple, tuple] = {}
        self.memo: dict = {}
        self.eras: dict[date | None, int] = {}
        self.ncci = ncci.NcciRun.build(ncci_tables, book.practice)
        self.boundaries: list[date] = []  # set by visits(), once the book's codes are known
        self.ncci_codes = self.ncci.pair_codes
        self.limited = frozenset(units.unit_limits())
        self.findings: list[Finding] = []

    # --- cached facts ---------------------------------------------------------------------

    def _patient(self, pid: str) -> PatientFacts:
        patient = self.patients.get(pid)
        payer = self.payers.get(patient.payer_key) if patient is not None else None
        pf = PatientFacts(pid, patient, payer, unit_rule_for(payer), timely_limit_for(payer),
                          payer.payer_key if payer is not None else "")
        if patient is not None:
            lo, hi = date.min, date.max
            for fn in BOUNDS:
                a, b = fn(pf, self.as_of)
                lo, hi = max(lo, a), min(hi, b)
            pf.safe_lo, pf.safe_hi = lo, hi
        self.patient_facts[pid] = pf
        return pf

    def _code(self, raw: str) -> tuple:
        code = normalize_code(raw)
        info = self.catalogue.get(code) if code else None
        entry = (code, info,
                 info.effective_from if info is not None else None,
                 info.deleted_on if info is not None else None)
        self.codes[raw] = entry
        return entry

    def _line_facts(self, key: tuple, pf: PatientFacts) -> LineFacts:
        raw, status, m1, m2, m3, m4, rendering, _payer_key, post2020 = key
        code, info = self.codes[raw][:2]
        npi_text = npi_mod.compact(rendering) if rendering else ""
        npi_ok = npi_mod.is_valid(npi_text)
        provider = self.providers.get(rendering) or self.providers.get(npi_text)
        supervisor = None
        if provider is not None and provider.supervisor_npi:
            supervisor = self.providers.get(provider.supervisor_npi)
        cells = (m1, m2, m3, m4)
        f = complete_line_facts(LineFacts(
            code=code, info=info, status=status, cells=cells,
            mods=parse_modifier_cells(cells), npi=npi_text, npi_ok=npi_ok, provider=provider,
            payer=pf.payer, post2020=post2020, supervisor=supervisor,
        ))
        hits = []
        for fn in _LINE_RULES:
            hits.extend(fn(f))
        f.hits = tuple(hits)
        f.fired = frozenset(h.rule for h in hits)
        f.mask = self._mask(f)
        self.line_facts[key] = f
        return f

    def _mask(self, f: LineFacts) -> int:
        mask = 0
        if f.info is not None:
            kind = f.info.kind
            if f.active:
                if kind is CodeKind.EVALUATION:
                    mask |= M_EVAL
                if f.info.addon_to:
                    mask |= M_ADDON
                if f.code in self.ncci_codes:
                    mask |= M_NCCI
            if kind in UNTIMED_KINDS:
                mask |= M_UNTIMED
        if f.code in self.limited:
            mask |= M_LIMIT
        if f.disc is not None:
            mask |= {"OT": M_OT, "PT": M_PT}.get(f.disc.value, 0)
        if not f.disc_mods:
            mask |= M_NODISC
        return mask

    def _dx_facts(self, key: tuple) -> DxFacts:
        dx_codes = []
        columns = []
        for column, cell in zip(DX_COLUMNS, key, strict=True):
            text = str(cell).strip() if cell else ""
            if text:
                dx_codes.append(text)
                columns.append(column)
        d = DxFacts(tuple(dx_codes), tuple(columns))
        hits = []
        for fn in _DX_RULES:
            hits.extend(fn(d))
        d.hits = tuple(hits)
        self.dx_facts[key] = d
        return d

    def _era(self, dos: date | None) -> int:
        era = -1 if dos is None else bisect.bisect_right(self.boundaries, dos)
        self.eras[dos] = era
        return era

    # --- passes ---------------------------------------------------------------------------

    def index(self) -> dict[tuple, list[Entry]]:
        """One pass over the lines: cached line/dx facts, their hits, lines grouped by visit."""
        groups: dict[tuple, list[Entry]] = {}
        patient_facts = self.patient_facts
        code_cache = self.codes
        line_facts = self.line_facts
        dx_facts = self.dx_facts
        emit = self.findings.append
        as_of = self.as_of
        active, deleted, not_yet = CodeStatus.ACTIVE, CodeStatus.DELETED, CodeStatus.NOT_YET_EFFECTIVE
        unknown = CodeStatus.UNKNOWN
        cutoff = ASSISTANT_MODIFIERS_FROM
        for line in self.book.charges:
            pid = line.patient_id
            pf = patient_facts.get(pid)
            if pf is None:
                pf = self._patient(pid)
            raw = line.code
            c = code_cache.get(raw)
            if c is None:
                c = self._code(raw)
            dos = line.dos
            when = dos if dos is not None else as_of
            if c[1] is None:
                status = unknown
            elif c[3] is not None and when >= c[3]:
                status = deleted
            elif c[2] is not None and when < c[2]:
                status = not_yet
            else:
                status = active
            key = (raw, status, line.mod1, line.mod2, line.mod3, line.mod4, line.rendering_npi,
                   pf.payer_key, when >= cutoff)
            lf = line_facts.get(key)
            if lf is None:
                lf = self._line_facts(key, pf)
            dkey = (line.dx1, line.dx2, line.dx3, line.dx4)
            dx = dx_facts.get(dkey)
            if dx is None:
                dx = self._dx_facts(dkey)
            entry = Entry(line, lf, dx)
            gkey = (pid, dos)
            group = groups.get(gkey)
            if group is None:
                groups[gkey] = [entry]
            else:
                group.append(entry)
            if lf.hits:
                for h in lf.hits:
                    emit(finding(h.rule, CHARGES, line.row, h.column, h.message, h.fix))
            if dx.hits:
                for h in dx.hits:
                    emit(finding(h.rule, CHARGES, line.row, h.column, h.message, h.fix))
        return groups

    def _visit_result(self, v: VisitContext, mask: int) -> tuple:
        """Run the visit rules on one visit: (hits as (entry index, Hit), computed (index, units))."""
        n = len(v.entries)
        hits = []
        skip = _USE_WHEN_MASKS
        for fn in _VISIT_RULES:
            if skip and (n < fn.min_lines or (mask & fn.when) != fn.when):
                continue
            hits.extend(fn(v))
        return tuple(hits), tuple(v.computed.items())

    def _emit(self, entries: list[Entry], i: int, h) -> None:
        message, fix = h.message, h.fix
        if "\x00" in message or "\x00" in fix:
            def name(m: re.Match) -> str:
                return line_ref(entries[int(m.group(1))].line)

            message, fix = _REF_RE.sub(name, message), _REF_RE.sub(name, fix)
        self.findings.append(finding(h.rule, CHARGES, entries[i].line.row, h.column, message, fix))

    def visits(self, groups: dict[tuple, list[Entry]]) -> dict[int, int]:
        """Visit and dated rules per patient + DOS, then patient rules; returns computed units."""
        computed: dict[int, int] = {}
        emit = self._emit
        results = self.visit_results
        eras = self.eras
        as_of = self.as_of
        by_dis = self.group_by_discipline
        use_cache = _USE_VISIT_CACHE
        use_safe = _USE_SAFE_RANGE
        patient_facts = self.patient_facts
        self.boundaries = _era_boundaries(self.ncci, {c[0] for c in self.codes.values()})
        by_patient: dict[str, list[tuple[date, list[Entry]]]] = {}
        for (pid, dos), entries in groups.items():
            pf = patient_facts[pid]
            era = eras.get(dos)
            if era is None:
                era = self._era(dos)
            skey = (era, pf.unit_rule, *[(e[1], e[0].minutes, e[0].units, e[2]) for e in entries])
            result = results.get(skey) if use_cache else None
            if result is None:
                mask = 0
                for e in entries:
                    mask |= e[1].mask
                v = VisitContext(pid, dos, pf, entries, as_of, by_dis, memo=self.memo, ncci=self.ncci)
                result = results[skey] = self._visit_result(v, mask)
            hits, units_ = result
            for i, h in hits:
                emit(entries, i, h)
            for i, u in units_:
                computed[entries[i][0].row] = u
            if dos is None or not use_safe or not (pf.safe_lo <= dos <= pf.safe_hi):
                v = VisitContext(pid, dos, pf, entries, as_of, by_dis)
                for fn in _DATED_RULES:
                    for i, h in fn(v):
                        emit(entries, i, h)
            if dos is not None and pf.patient is not None:
                visits = by_patient.get(pid)
                if visits is None:
                    by_patient[pid] = [(dos, entries)]
                else:
                    visits.append((dos, entries))
        for pid, visits in by_patient.items():
            visits.sort(key=_first)
            pv = PatientVisits(patient_facts[pid], visits, as_of)
            for fn in _PATIENT_RULES:
                for k, j, h in fn(pv):
                    emit(visits[k][1], j, h)
        return computed

    def sheets(self) -> None:
        ctx = SheetContext(self.book, self.as_of, self.patient_facts)
        for fn in _SHEET_RULES:
            self.findings.extend(fn(ctx))


def _sort_key(f: Finding) -> tuple:
    loc = f.location
    return (_SHEET_RANK.get(loc.sheet, 9), loc.row or 0, f.severity.rank, f.rule, loc.column)


def scrub(book: PracticeBook, *, as_of: date, group_by_discipline: bool = True,
          price_all: Callable[[dict[int, int]], Any] | None = None,
          ncci_tables: ncci.NcciTables | None = None) -> ScrubResult:
    """Check every charge line and the reference sheets of ``book`` as of the day ``as_of``.

    ``group_by_discipline`` (default) computes timed units per patient + DOS + discipline
    (GO/GP/GN); when False, a patient's timed minutes of one day are pooled across disciplines
    (facts §1.3 "Per discipline?"). ``price_all`` — given the computed units, the pricing of the whole
    book (a pipeline that prices anyway passes it) — lets the KX rule read its running totals instead
    of pricing the patients near a threshold again. ``ncci_tables``: CMS's PTP and MUE data as the user
    imported them (``otbill refdata import-ncci``, loaded by :mod:`otbill_xl.actions.refdata`); without
    them the shipped NCCI pairs are warnings and units are held to the Practice's units ceiling.
    """
    with gc_paused():
        s = _Scrubber(book, as_of, group_by_discipline, ncci_tables)
        groups = s.index()
        computed = s.visits(groups)
        s.sheets()
        priced = price_all(computed) if price_all and SCOPES["book"] else None
        for fn in SCOPES["book"]:  # the KX rules (kx.py)
            s.findings.extend(fn(book, computed, priced))
        findings = sorted(s.findings, key=_sort_key)
        return ScrubResult(tuple(findings), computed, len(book.charges))
