"""Units rules: billed units against the minutes under the payer's unit rule (CMS 8-minute rule or
AMA/CPT per-code rule), untimed codes at 1 unit, and daily unit limits (facts §1, §3).

One visit (patient + DOS) is split per discipline (GO/GP/GN; falling back to the rendering
provider's discipline, then the code's) unless ``group_by_discipline`` is off, and each part goes
to :func:`otbill_xl.domain.units.visit_units`. Results are cached per distinct (rule, lines) so a
practice's repeating visit patterns are computed once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from functools import cache

from otbill_xl import refdata
from otbill_xl.domain.codes import CodeKind, catalogue
from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Provider, UnitRule
from otbill_xl.domain.scrub._context import (
    M_LIMIT,
    M_UNTIMED,
    UNTIMED_KINDS,
    Entry,
    Hit,
    VisitContext,
    hit,
    plural,
    register,
    rule,
    runs_in,
)
from otbill_xl.domain.units import FAMILIES, UnitsInputError, visit_units

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

register("units.over-billed", E, "units", "More units billed than the minutes support under the payer's rule.")
register("units.under-billed", W, "units", "Fewer units billed than the minutes support under the payer's rule.")
register("units.under-8-minutes", E, "units",
         "Timed service under 8 minutes billed (CMS: the visit's only timed service; AMA: any).")
register("units.minutes-missing", INFO, "units", "Timed code with units but no minutes: units cannot be verified.")
register("units.missing", E, "units", "Timed code with neither units nor minutes.")
register("units.addon-line-missing", W, "units",
         "A family's base code (97129, 97545, 96112, 97550) carries more time than its one daily unit; "
         "the add-on line is missing.")
register("units.assistant-split", E, "units",
         "An assistant's and a therapist's lines of one code split its units differently from CMS's per-unit rule.")
register("units.minutes-invalid", E, "units", "Minutes negative, fractional or not a number.")

_FAMILY_CODES = frozenset(c for fam in FAMILIES for c in (fam.base, fam.addon))
#: 97129/97130 is one 15-minute service (pooled); the other families have their own time units.
_BASE_OF_ADDON = {fam.addon: fam.base for fam in FAMILIES}
_POOLED_FAMILY = {c: fam.base for fam in FAMILIES if fam.pooled for c in (fam.base, fam.addon)}
_RULE_LABEL = {UnitRule.CMS: "CMS 8-minute rule", UnitRule.AMA: "AMA/CPT per-code rule"}
#: The service a code's minutes count toward: a family's codes count together (facts §1.6).
_SERVICE_OF = {c: fam.base for fam in FAMILIES for c in (fam.base, fam.addon)}


@rule("units.untimed-over-1", E, "units",
      "Untimed, evaluation or group code billed per session (or per day) with more than 1 unit.", "visit",
      when=M_UNTIMED)
def untimed_over_1(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Untimed ("service-based") codes such as evaluations 97165-97168, group 97150 and supervised
    modalities are billed as 1 unit per session whatever the duration (facts §1.1, §3). What one
    unit counts is the catalogue's ``unit_counts`` (``refdata/codes.csv``, from the code's
    descriptor): ``session`` or ``day`` allow 1 unit; a descriptor that counts items ("each
    extremity (excluding hand) or each trunk section (spine)", 95851) allows more, capped only by
    the MUE."""
    for i, e in enumerate(v.entries):
        units = e.line.units
        info = e.facts.info
        if (units is not None and units > 1 and info is not None and info.kind in UNTIMED_KINDS
                and not info.counts_items):
            per = info.unit_counts or "session"
            yield i, hit("units.untimed-over-1", "Units",
                         f"{e.facts.code} is untimed ({info.kind.value}, 1 unit per {per}) but billed with "
                         f"{units} units.",
                         f"Bill 1 unit (the code counts one {per}, whatever the minutes).")


def _needs_minutes(e: Entry) -> bool:
    info = e.facts.info
    return info is not None and (info.is_timed or e.facts.code in _FAMILY_CODES)


def _computable(e: Entry) -> bool:
    f = e.facts
    info = f.info
    if not f.active or info is None:  # (an active code is a catalogue code: info is set)
        return False
    kind = info.kind
    if kind is CodeKind.TIMED or kind in UNTIMED_KINDS:
        return True
    return f.code in _FAMILY_CODES


def _outcome(rule_: UnitRule, lines: tuple[tuple[str, int | None, int | None, bool], ...]):
    """Computed units per line and the hits (line index, Hit) for one discipline part of a visit.

    ``lines`` are (code, minutes, entered units, furnished by an assistant); the caller memoizes per
    distinct part.
    """
    cat = catalogue()
    assistant = [a for *_, a in lines]
    try:
        vu = visit_units([(c, m) for c, m, _, _ in lines], rule_, catalogue=cat,
                         assistant=assistant if True in assistant else None)
    except UnitsInputError:
        return None, ()
    n = len(lines)
    hits: list[tuple[int, Hit]] = []
    # Which codes' entered units can be compared: timed codes whose lines all have units.
    first: dict[str, int] = {}
    entered: dict[str, int] = {}
    complete: dict[str, bool] = {}
    untimed = set()
    for i, (code, _m, u, _a) in enumerate(lines):
        info = cat.get(code)  # (visit_units accepted the codes: all are in the catalogue)
        if info is not None and info.kind in UNTIMED_KINDS:
            untimed.add(code)
        first.setdefault(code, i)
        complete[code] = complete.get(code, True) and u is not None
        entered[code] = entered.get(code, 0) + (u or 0)
    compared = [c for c in first if c not in untimed and complete[c]]

    # Lone timed service under 8 minutes (CMS) / any timed service under 8 minutes (AMA).
    under8: set[int] = set()
    services: dict[str, int] = {}
    for code, m, _u, _a in lines:
        if code in untimed or (code in _FAMILY_CODES and code not in _POOLED_FAMILY):
            continue
        key = _POOLED_FAMILY.get(code, code)
        services[key] = services.get(key, 0) + (m or 0)
    short = [k for k, m in services.items() if m < 8]
    if rule_ is UnitRule.CMS and len(services) != 1:
        short = []
    for key in short:
        mins = services[key]
        for i, (code, _m, u, _a) in enumerate(lines):
            if _POOLED_FAMILY.get(code, code) == key and (u is None or u > 0):
                under8.add(i)
                lone = "the only timed service of the visit" if rule_ is UnitRule.CMS else "under the midpoint"
                hits.append((i, hit(
                    "units.under-8-minutes", "Units",
                    f"{code}: {mins} timed minutes is under 8 and {lone}: not billable "
                    f"({_RULE_LABEL[rule_]}).",
                    "Set Units to 0 (or remove the line), or correct Minutes if more time was spent.")))

    for addon, extra in vu.unplaced:  # the base code of a family is billed once a day (facts §1.6)
        base = next(i for i, line in enumerate(lines) if line[0] == _BASE_OF_ADDON[addon])
        hits.append((base, hit("units.addon-line-missing", "Code",
                               f"The minutes of {lines[base][0]} support {plural(extra, 'more unit')}, which "
                               f"belong on {addon}: {lines[base][0]} is billed once a day.",
                               f"Add a {addon} line for the time after the first {lines[base][0]} unit "
                               f"({plural(extra, 'unit')}); as it is, that time is not billed.")))
    candidates = [vu.units, *vu.alternatives]
    best = vu.units
    if compared:
        def distance(alloc: tuple[int, ...]) -> int:
            sums: dict[str, int] = {}
            for code, u in zip(vu.codes, alloc, strict=True):
                sums[code] = sums.get(code, 0) + u
            return sum(abs(sums[c] - entered[c]) for c in compared)

        # the first (the engine's pick) on equal distance; each candidate's distance worked out once
        off, best = min((distance(c), k, c) for k, c in enumerate(candidates))[::2]
        if off:
            sums: dict[str, int] = {}
            for code, u in zip(vu.codes, best, strict=True):
                sums[code] = sums.get(code, 0) + u
            for code in compared:
                want, got = sums[code], entered[code]
                i = first[code]
                if got == want or i in under8:
                    continue
                why = f"{_RULE_LABEL[rule_]}: {vu.explanation}"
                if got > want:
                    hits.append((i, hit("units.over-billed", "Units",
                                        f"{code} is billed with {plural(got, 'unit')}; the minutes support "
                                        f"{want}.",
                                        f"Bill {plural(want, 'unit')} of {code} ({why}).")))
                else:
                    hits.append((i, hit("units.under-billed", "Units",
                                        f"{code} is billed with {plural(got, 'unit')}; the minutes support "
                                        f"{want}.",
                                        f"Bill {plural(want, 'unit')} of {code} ({why}).")))
    computed = list(best)
    # Keep the biller's split of one code over several lines when its total is right — unless an
    # assistant and a therapist share the code: then the split decides which units carry CO/CQ.
    for code in compared:
        idx = [i for i in range(n) if lines[i][0] == code]
        if len(idx) > 1 and sum(computed[i] for i in idx) == entered[code]:
            if len({lines[i][3] for i in idx}) > 1:
                wrong = [i for i in idx if lines[i][2] != computed[i]]
                if wrong:
                    hits.append((wrong[0], _furnisher_hit(code, idx, lines, computed)))
                continue
            for i in idx:
                entered_units = lines[i][2]
                if entered_units is not None:  # always: a compared code has units on every line
                    computed[i] = entered_units
    return tuple(computed), tuple(hits)


def _by_assistant(provider: Provider | None) -> bool:
    """An OTA/PTA furnished the line's minutes (the Charges row's rendering provider)."""
    return provider is not None and provider.is_assistant


def _furnisher_hit(code: str, idx: list[int], lines, computed: list[int]) -> Hit:
    a_min = sum(lines[i][1] or 0 for i in idx if lines[i][3])
    t_min = sum(lines[i][1] or 0 for i in idx if not lines[i][3])
    a_units = sum(computed[i] for i in idx if lines[i][3])
    t_units = sum(computed[i] for i in idx if not lines[i][3])
    return hit("units.assistant-split", "Units",
               f"{code} by an assistant ({a_min} min) and a therapist ({t_min} min): the units on their lines "
               f"should be {a_units} with CO/CQ and {t_units} without.",
               f"Bill {plural(a_units, 'unit')} on the assistant's {code} line (with CO/CQ) and "
               f"{plural(t_units, 'unit')} on the therapist's (CMS de minimis, judged per 15-minute unit).")


def _parts(v: VisitContext) -> list[list[int]]:
    if not v.group_by_discipline:
        return [list(range(len(v.entries)))]
    parts: dict[object, list[int]] = {}
    for i, e in enumerate(v.entries):
        parts.setdefault(e.facts.disc, []).append(i)
    return list(parts.values())


def _bad_minutes(minutes: object) -> bool:
    """Minutes the units engine cannot use: negative, fractional or not a number (blank is None,
    "missing", not bad). 23.0 is 23 minutes."""
    if minutes is None:
        return False
    if isinstance(minutes, bool):
        return True
    if isinstance(minutes, int):
        return minutes < 0
    try:
        return not (minutes == int(minutes) and minutes >= 0)  # type: ignore[call-overload, operator]
    except (TypeError, ValueError, OverflowError):
        return True


def _usable(minutes: int | None) -> int | None:
    return None if _bad_minutes(minutes) else minutes


def _over_any_pool(v: VisitContext, idx: list[int], unknown: set[str]) -> Iterator[tuple[int, Hit]]:
    """CMS with some of the visit's timed minutes unknown: a 15-minute service gets its full units
    (``minutes // 15``) and at most one remainder unit (facts §1.3 step 6), so more than
    ``ceil(minutes / 15)`` units is over-billed whatever the unknown minutes add to the pool. Services
    with lines of unknown minutes, lines without units and the non-pooled families are left alone."""
    minutes: dict[str, int] = {}
    units: dict[str, int] = {}
    first: dict[str, int] = {}
    skip = set(unknown)
    for i in idx:
        e = v.entries[i]
        code = e.facts.code
        service = _SERVICE_OF.get(code, code)
        if (code in _FAMILY_CODES and code not in _POOLED_FAMILY) or e.line.units is None:
            skip.add(service)
            continue
        first.setdefault(service, i)
        minutes[service] = minutes.get(service, 0) + int(e.line.minutes or 0)  # (known: not bad, not missing)
        units[service] = units.get(service, 0) + e.line.units
    for service, i in first.items():
        if service in skip:
            continue
        most = -(-minutes[service] // 15)
        if units[service] > most:
            code = v.entries[i].facts.code
            yield i, hit("units.over-billed", "Units",
                         f"{code} is billed with {plural(units[service], 'unit')}; its {minutes[service]} minutes "
                         f"support at most {most} under the CMS 8-minute rule, whatever the visit's other timed "
                         "minutes are.",
                         f"Bill at most {plural(most, 'unit')} of {code}, and enter the missing minutes of the "
                         "visit's other lines so that every unit can be checked.")


@runs_in("visit")
def units_vs_minutes(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Units of timed codes come from the minutes (facts §1): CMS 8-minute rule for Medicare and MA
    (pool the visit's timed minutes, ``(M + 7) // 15`` units, full units first, the rest to the
    largest leftovers; ties accepted either way) or the AMA/CPT per-code rule, per the payer's
    UnitRule. Reports ``units.over-billed`` (error), ``units.under-billed`` (warning),
    ``units.under-8-minutes`` (a lone timed service under 8 minutes is not billable, §1.2),
    ``units.minutes-missing`` (info: units without minutes cannot be verified) and
    ``units.missing`` (neither). Fills the visit's computed units."""
    rule_ = v.pf.unit_rule
    cms = rule_ is UnitRule.CMS
    for part in _parts(v):
        keep: list[int] = []
        missing: list[int] = []
        unknown: set[str] = set()  # services whose minutes are not all known
        bad: set[int] = set()      # kept lines whose Minutes cannot be used (untimed: computed without them)
        for i in part:
            e = v.entries[i]
            if not _computable(e) or i in v.dup:
                continue
            if _bad_minutes(e.line.minutes):
                # Reported on its cell and left out of the computation (issue #12 §3): the other lines
                # of the visit are still checked.
                yield i, hit("units.minutes-invalid", "Minutes",
                             f"{e.facts.code}: Minutes is not a whole number of 0 or more, so this line's units "
                             "cannot be computed.",
                             "Enter the timed minutes from the treatment note as a whole number (0 or more).")
                if _needs_minutes(e):
                    unknown.add(_SERVICE_OF.get(e.facts.code, e.facts.code))
                    continue
                keep.append(i)  # (untimed: 1 unit whatever the minutes; computed without them)
                bad.add(i)
            elif e.line.minutes is None and _needs_minutes(e):
                missing.append(i)
                unknown.add(_SERVICE_OF.get(e.facts.code, e.facts.code))
            else:
                keep.append(i)
        if unknown and cms:
            # The pooled minutes are unknown: only lines that do not need minutes can be computed; the
            # others can still be billed over what their own minutes could ever give.
            yield from _over_any_pool(v, [i for i in keep if _needs_minutes(v.entries[i])], unknown)
            keep = [i for i in keep if not _needs_minutes(v.entries[i])]
        elif unknown:
            # AMA counts each service on its own: only a service with unknown minutes is uncheckable.
            keep = [i for i in keep if _SERVICE_OF.get(v.entries[i].facts.code, v.entries[i].facts.code)
                    not in unknown]
        for i in missing:
            e = v.entries[i]
            if e.line.units is None:
                yield i, hit("units.missing", "Units",
                             f"{e.facts.code} is a timed code with neither Units nor Minutes.",
                             "Enter the treatment minutes (units are then computed) or the units billed.")
            else:
                yield i, hit("units.minutes-missing", "Minutes",
                             f"{e.facts.code} has {plural(e.line.units, 'unit')} but no minutes: the units "
                             "cannot be checked.",
                             "Enter the timed minutes from the treatment note.")
        if not keep:
            continue
        entries = v.entries
        key = tuple([(f.code, None if i in bad else entries[i].line.minutes, entries[i].line.units,
                      f.provider is not None and f.provider.is_assistant)
                     for i in keep for f in (entries[i].facts,)])
        memo_key = ("units", rule_, key)
        found = v.memo.get(memo_key)
        if found is None:
            found = v.memo[memo_key] = _outcome(rule_, key)
        computed, hits = found
        if computed is None:
            continue
        for j, i in enumerate(keep):
            v.computed[i] = computed[j]
        for j, h in hits:
            yield keep[j], h


@cache
def unit_limits() -> dict[str, tuple[tuple[date | None, int, str], ...]]:
    """Daily unit limits per code (``refdata/unit_limits.csv``): (effective_from, max, source)."""
    out: dict[str, list[tuple[date | None, int, str]]] = {}
    for row in csv.DictReader(io.StringIO(refdata.read_text("unit_limits.csv"))):
        if not row["max_units_per_day"].strip():
            continue
        start = date.fromisoformat(row["effective_from"]) if row["effective_from"].strip() else None
        out.setdefault(row["code"].strip(), []).append((start, int(row["max_units_per_day"]), row["source"]))
    return {code: tuple(sorted(v, key=lambda t: t[0] or date.min)) for code, v in out.items()}


def limit_on(code: str, dos: date) -> int | None:
    """The daily unit limit of ``code`` in effect on ``dos`` (latest row starting on or before)."""
    found = None
    for start, limit, _src in unit_limits().get(code, ()):
        if start is None or start <= dos:
            found = limit
    return found


@cache
def _addon_of(base: str) -> str:
    return next((info.code for info in catalogue() if info.addon_to == base), "")


@rule("units.daily-limit", E, "units", "More units of a code in one day than its daily limit.", "visit",
      when=M_LIMIT)
def daily_limit(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Some codes may be billed only so many units a day (``refdata/unit_limits.csv``): 97129 is the
    first 15 minutes of cognitive intervention and is reported once a day, further time is 97130
    (facts §1.6); an evaluation is one unit per session (facts §3); base codes of the other
    add-on families (97545, 96112, 97550) cover the first block of time once. Units are the
    entered units (the computed ones when Units is blank), summed over the code's lines."""
    if v.dos is None:
        return
    limits = unit_limits()
    totals: dict[str, int] = {}
    for i, e in enumerate(v.entries):
        code = e.facts.code
        if code not in limits or i in v.dup:
            continue
        limit = limit_on(code, v.dos)
        if limit is None:
            continue
        units = e.line.units if e.line.units is not None else v.computed.get(i, 0)
        before = totals.get(code, 0)
        totals[code] = before + units
        if totals[code] <= limit:
            continue
        if before == 0 and e.facts.kind in UNTIMED_KINDS:
            continue  # one line over 1 unit: reported by units.untimed-over-1
        addon = _addon_of(code)
        fix = f"Bill at most {plural(limit, 'unit')} of {code} a day"
        fix += f"; bill further time as {addon}." if addon else "; remove the extra units or line."
        yield i, hit("units.daily-limit", "Units",
                     f"{code} is billed {plural(totals[code], 'unit')} on this day; the limit is {limit} a "
                     "day.", fix)
