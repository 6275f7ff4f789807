"""Billable units for one visit: the CMS 8-minute rule and the AMA/CPT per-code midpoint rule.

References are to ``shared/reference/ot-billing-facts.md``:

* §1.1 scope: only 15-minute timed codes (``CodeInfo.is_timed``) count toward the timed
  minutes; untimed, evaluation and group codes are **1 unit per session whatever the minutes**.
* §1.2 units-by-total-minutes table: ``units = (M + 7) // 15``.
* §1.3 several timed codes on one day (CMS): pool the minutes, full units first, the remaining
  units to the largest leftovers, ties are the provider's choice.
* §1.5 AMA/CPT per-code rule: the same table applied to each code on its own, no pooling.
* §1.6 special families (97129/97130, 97545/97546, 96112/96113, 97550/97551).
* §1.1 last bullet: one line per timed code per date of service.

This module is pure: no file, Excel or clock access. It runs once per visit (~250,000 visits
for 1,000,000 charge lines), so the per-call path avoids pydantic, builds one dict lookup per
line from a table prepared once per catalogue, and only enumerates alternatives inside a tied
group.

Grouping lines into visits (patient + date of service + discipline, facts §1.3 "Per
discipline?") is the caller's job: :func:`visit_units` receives one visit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from operator import index as _as_index
from typing import NamedTuple, SupportsIndex, cast
from weakref import WeakKeyDictionary

from otbill_xl.domain.codes import CodeCatalogue, normalize_code
from otbill_xl.domain.codes import catalogue as _bundled_catalogue
from otbill_xl.domain.models import UnitRule
from otbill_xl.errors import OtbillError

__all__ = [
    "FAMILIES",
    "MAX_ALTERNATIVES",
    "CodeFamily",
    "UnitsInputError",
    "VisitUnits",
    "assistant_units",
    "family_units",
    "visit_units",
]

#: A tie among many equal leftovers could list a very large number of allocations (C(n, k)).
#: Real visits have a handful of timed codes; past this many the list is cut and the
#: explanation says so.
MAX_ALTERNATIVES = 1000


class UnitsInputError(OtbillError, ValueError):
    """A visit line that cannot be turned into units: unknown code, negative or fractional minutes.

    The message names the 1-based line number within the visit and what to fix. It never echoes
    free text that could be patient data (a shifted column can put a name in the code cell): an
    unknown code is quoted only when it has the shape of a CPT/HCPCS code, and minutes only when
    they are numbers.
    """


@dataclass(frozen=True)
class CodeFamily:
    """A base code and its add-on that are counted together on their own time scale (facts §1.6).

    ``base`` covers the first ``base_minutes``; each ``addon`` unit covers a further
    ``addon_minutes``. ``pooled`` families (97129/97130: both 15-minute codes) are one timed
    service inside the 15-minute rules; the others are counted by :func:`family_units`.
    """

    base: str
    addon: str
    base_minutes: int
    addon_minutes: int
    pooled: bool
    label: str


#: The special families of facts §1.6. Their codes never go through the 15-minute pool as
#: separate codes.
FAMILIES: tuple[CodeFamily, ...] = (
    CodeFamily("97129", "97130", 15, 15, True, "cognitive intervention"),
    CodeFamily("97545", "97546", 120, 60, False, "work hardening"),
    CodeFamily("96112", "96113", 60, 30, False, "developmental testing"),
    CodeFamily("97550", "97551", 30, 15, False, "caregiver training"),
)


def family_units(family: CodeFamily, minutes: int) -> tuple[int, int]:
    """(base units, add-on units) for a time-based family's combined minutes: CPT midpoint rule.

    Inferred, not sourced ([U] in facts §1.6): CPT's general time rule (facts §1.5) says a unit of
    time is reached once its midpoint is **passed**, so this applies it to the family's own time
    units. The base unit counts when ``minutes > base_minutes / 2``; the k-th add-on unit counts
    when the minutes beyond ``base_minutes`` exceed ``(k - 1/2) * addon_minutes``:

    * 97545/97546 (2 h, then each hour): 97545 from 61 min; 97546 ×1 from 151, ×2 from 211.
    * 96112/96113 (1 h, then each 30 min): 96112 from 31 min; 96113 ×1 from 76, ×2 from 106.
    * 97550/97551 (30 min, then each 15): 97550 from 16 min; 97551 ×1 from 38, ×2 from 53.

    For 97129/97130 (15 and 15) the same formula reproduces the 8-minute table.
    """
    base_len = family.base_minutes
    if 2 * minutes <= base_len:
        return 0, 0
    extra = minutes - base_len
    if extra <= 0:
        return 1, 0
    step = family.addon_minutes
    # count of k >= 1 with 2*extra > (2k - 1) * step
    return 1, (2 * extra + step - 1) // (2 * step)


@dataclass(frozen=True)
class VisitUnits:
    """Billable units of one visit, per input line.

    ``codes`` and ``units`` follow the input order. ``timed_minutes`` is the pooled minutes of the
    15-minute timed services (CMS) or their sum (AMA), 97129/97130 included; the longer-unit
    families (97545/97546, 96112/96113, 97550/97551) and untimed codes are not in it.
    ``alternatives`` lists the other per-line allocations CMS accepts when leftovers tie
    (facts §1.3 step 4), in a deterministic order; it is empty under AMA.
    """

    rule: UnitRule
    codes: tuple[str, ...]
    units: tuple[int, ...]
    total_units: int
    timed_minutes: int
    alternatives: tuple[tuple[int, ...], ...]
    explanation: str
    #: Units the minutes support on a family's add-on code that is not on the visit, as
    #: ``((code, units), ...)``: the base code (97129, 97545, 96112, 97550) is billed once a day, so
    #: the rest cannot sit on its line (facts §1.6) — the biller adds an add-on line for them.
    unplaced: tuple[tuple[str, int], ...] = ()

    def by_code(self) -> dict[str, int]:
        """Units summed per code, codes in input order of first appearance."""
        return _sum_by_code(self.codes, self.units)

    def alternatives_by_code(self) -> list[dict[str, int]]:
        """Each alternative allocation as units per code (same key order as :meth:`by_code`)."""
        return [_sum_by_code(self.codes, alt) for alt in self.alternatives]


def _sum_by_code(codes: tuple[str, ...], units: Sequence[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for code, unit in zip(codes, units, strict=True):
        out[code] = out.get(code, 0) + unit
    return out


# --- catalogue table ----------------------------------------------------------------------

# What a code is to this engine. Service kinds reuse the first three values and add _SCALED.
_TIMED = 0  # 15-minute timed code: pooled under CMS, per code under AMA
_UNTIMED = 1  # one unit per session (untimed, evaluation, group, supply, other)
_FAMILY = 2  # member of a special family (facts §1.6)
_SCALED = 3  # service kind only: a time-based family on its own time units

_FAMILY_OF = {code: fam for fam in FAMILIES for code in (fam.base, fam.addon)}


def _build_table(cat: CodeCatalogue) -> dict[str, int]:
    table: dict[str, int] = {}
    for info in cat:
        if info.code in _FAMILY_OF:
            table[info.code] = _FAMILY
        elif info.is_timed:
            table[info.code] = _TIMED
        else:
            # untimed, evaluation, group, supply, other (unlisted) and any timed code whose unit
            # is not 15 minutes: one unit per line (facts §1.1).
            table[info.code] = _UNTIMED
    return table


_tables: WeakKeyDictionary[CodeCatalogue, dict[str, int]] = WeakKeyDictionary()
_bundled_table: dict[str, int] | None = None
#: (catalogue, table) of the last lookup, one tuple so threads never see a mixed pair. Callers
#: pass the same catalogue for every visit, and a WeakKeyDictionary lookup builds a weak
#: reference per call.
_last: tuple[CodeCatalogue | None, dict[str, int] | None] = (None, None)


def _table_for(cat: CodeCatalogue | None) -> dict[str, int]:
    global _bundled_table, _last
    table: dict[str, int] | None
    if cat is None or cat is _bundled_catalogue():
        if _bundled_table is None:
            _bundled_table = _build_table(_bundled_catalogue())
        table = _bundled_table
    else:
        table = _tables.get(cat)
        if table is None:
            table = _tables[cat] = _build_table(cat)
    _last = (cat, table)
    return table


# --- input checks -------------------------------------------------------------------------

#: CPT (5 digits), HCPCS Level II (letter + 4 digits) or CPT Category II/III (4 digits + letter).
#: Only text of this shape is quoted back in an error; anything else might be a shifted name.
_CODE_SHAPE = re.compile(r"[0-9]{5}|[A-Z][0-9]{4}|[0-9]{4}[A-Z]")

_RULES: dict[object, UnitRule] = {UnitRule.CMS: UnitRule.CMS, UnitRule.AMA: UnitRule.AMA}


def _parse_rule(rule: UnitRule | str) -> UnitRule:
    found = _RULES.get(rule.strip().lower()) if isinstance(rule, str) else None
    if found is None:
        shown = repr(rule) if isinstance(rule, str) and len(rule) <= 10 else "given"
        raise UnitsInputError(f"unit rule {shown} is not known; use 'cms' or 'ama'")
    return found


def _unknown_code(code: object, line: int) -> UnitsInputError:
    key = normalize_code(code) if isinstance(code, (str, int, float)) else ""
    if not key:
        return UnitsInputError(f"line {line}: the code is blank; enter the CPT/HCPCS code billed")
    if _CODE_SHAPE.fullmatch(key):
        return UnitsInputError(
            f"line {line}: code {key} is not in the code catalogue; correct the code "
            "(or add it to the catalogue)"
        )
    return UnitsInputError(
        f"line {line}: the code cell does not hold a CPT/HCPCS code; enter the code billed"
    )


def _check_minutes(minutes: object, line: int) -> int:
    """Whole minutes >= 0 from an int-like value; 23.0 is accepted, 23.5 and -5 are not."""
    if isinstance(minutes, bool):
        raise UnitsInputError(f"line {line}: minutes must be a whole number of minutes, not yes/no")
    try:
        # duck-typed on purpose: a value without __index__ raises the TypeError handled below
        value = _as_index(cast(SupportsIndex, minutes))
    except TypeError:
        if isinstance(minutes, (float, Decimal, Fraction)):
            if minutes != minutes or minutes in (float("inf"), float("-inf")):
                raise UnitsInputError(
                    f"line {line}: minutes are not a number; enter whole minutes (0 or more)"
                ) from None
            if minutes != int(minutes):
                raise UnitsInputError(
                    f"line {line}: minutes {minutes} are not a whole number; enter whole minutes"
                ) from None
            value = int(minutes)
        else:
            raise UnitsInputError(
                f"line {line}: minutes must be a number; enter whole minutes (0 or more)"
            ) from None
    if value < 0:
        raise UnitsInputError(f"line {line}: minutes {value} are negative; enter 0 or more minutes")
    return value


# --- the engine ---------------------------------------------------------------------------

def visit_units(
    lines: Sequence[tuple[str, int | None]],
    rule: UnitRule | str = "cms",
    *,
    catalogue: CodeCatalogue | None = None,
    assistant: Sequence[bool] | None = None,
) -> VisitUnits:
    """Billable units for each line of one visit (one patient, one DOS, one discipline).

    ``lines`` are ``(code, minutes)`` pairs; minutes may be ``None`` (0 on a timed code).
    ``rule`` is ``cms`` (Medicare default) or ``ama`` (per payer, facts §1.5).

    **Services.** Lines are first grouped into services:

    * The same code on several lines is one service with the minutes added (one line per code
      per DOS, facts §1.1): its units go on the first such line, the others get 0, and the
      explanation says so. This holds for untimed codes too (one unit for the day).
    * A special family (facts §1.6) is one service whatever codes of it appear.
    * Untimed codes (kinds untimed, evaluation, group, supply, and ``other`` codes outside the
      families) are 1 unit per service whatever the minutes and never join the timed pool (§1.1).

    **CMS 8-minute rule** (facts §1.2-§1.3). The 15-minute timed services, 97129/97130 counted as
    one service, are pooled: ``total = (M + 7) // 15``. Each service first gets ``minutes // 15``
    full units; the remaining units go one each to the services with the largest leftover
    (``minutes % 15``). So a service can win a unit with under 8 leftover minutes (Example 3)
    and one with 8+ minutes can get 0 (Example 4); two or more short services that together reach
    8 minutes give 1 unit to the longest (§1.3 step 5). No service gets two remainder units
    (§1.3 step 6).

    **Tie-break** (§1.3 step 4: the provider's choice). When the last remainder unit(s) fall on
    equal leftovers, the engine picks, among the tied services, the one with **more total
    minutes**, then the **lower code** (string order). Input order is deliberately not used, so
    the same visit gives the same per-code answer however its lines are sorted. Every other
    choice within the tied group is returned in ``alternatives`` (combinations of the tied group
    in tie-break order, the pick itself excluded), capped at :data:`MAX_ALTERNATIVES`.

    **AMA/CPT per-code rule** (facts §1.5): each 15-minute timed service on its own,
    ``(minutes + 7) // 15``; no pooling, no alternatives.

    **97129/97130** (facts §1.6, [U]): the family's combined minutes are one timed service in the
    CMS pool or the AMA per-code table; of its units the first goes to 97129 (once a day) and the
    rest to 97130. When only one of the two codes is on the visit its line carries all of the
    family's units (so the day's total still matches the minutes) and the explanation says which
    units belong on the missing code; the scrubber flags the missing base.

    **97545/97546, 96112/96113, 97550/97551** (facts §1.6): not pooled with the 15-minute codes
    under either rule; units from the family's combined minutes by the CPT midpoint rule on the
    family's own time units, see :func:`family_units` (inferred, [U]). Base unit to the base
    code, the rest to the add-on, same placement as above when one code is missing.

    **Assistant and therapist on the same code** (CMS CQ/CO billing examples, facts §4):
    ``assistant`` says, per line, whether an OTA/PTA furnished that line's minutes (minutes
    furnished together with the therapist are the therapist's). When one code's lines are by both,
    the code's units are split by :func:`assistant_units` — the assistant's units on the first
    assistant line (billed with CO/CQ), the therapist's on the first therapist line — instead of
    all on the first line.

    Raises :class:`UnitsInputError` for an unknown code, negative or non-whole minutes, or an
    unknown rule.
    """
    unit_rule = _RULES.get(rule) if isinstance(rule, str) else None
    if unit_rule is None:
        unit_rule = _parse_rule(rule)
    if not isinstance(lines, (list, tuple)):
        lines = list(lines)
    last = _last
    if catalogue is None and _bundled_table is not None:
        table = _bundled_table
    elif catalogue is last[0] and last[1] is not None:
        table = last[1]
    else:
        table = _table_for(catalogue)
    if assistant is not None and len(assistant) != len(lines):
        raise UnitsInputError(f"{len(assistant)} assistant flags for {len(lines)} lines; give one per line")
    return _run(lines, unit_rule, table, assistant)


def assistant_units(units: int, assistant_minutes: int, therapist_minutes: int) -> int:
    """How many of a timed service's ``units`` are billed with CO/CQ when an assistant (OTA/PTA) and
    a therapist each furnished some of its minutes separately (CMS "Billing examples using CQ/CO
    modifiers"; facts §4 de minimis): judged per 15-minute unit —

    * each full 15 minutes one person furnished is that person's unit (the assistant's: CO/CQ);
    * the units left over go to whoever furnished more of the leftover minutes; when two units are
      left, each gets one (the CY2022 refinement: therapist and assistant each furnished about 9-14
      minutes); on equal leftovers the unit is the assistant's — their part is then well over the
      10 % de minimis share of that unit.

    CMS's example: assistant 23 min and therapist 13 min of 97110 (2 units) → 1 unit with CO/CQ
    (the assistant's full 15) and 1 without (the therapist's 13 beat the assistant's 8 left).
    """
    if units <= 0:
        return 0
    full_a, left_a = divmod(max(assistant_minutes, 0), 15)
    full_t, left_t = divmod(max(therapist_minutes, 0), 15)
    full_a = min(full_a, units)
    full_t = min(full_t, units - full_a)
    rest = units - full_a - full_t
    if rest <= 0:
        return full_a
    if rest >= 2:  # one each; any more go with the larger leftover (never with real minutes)
        return full_a + 1 + (rest - 2 if left_a > left_t else 0)
    return full_a + (1 if left_a >= left_t and left_a > 0 else 0)


def _run(lines: Sequence[object], unit_rule: UnitRule, table: dict[str, int],
         assistant: Sequence[bool] | None = None) -> VisitUnits:
    """The engine."""
    # Lines typed canonically (catalogue code text, whole minutes or None) go straight through;
    # anything else is checked and normalized first, line by line, by _canonical.
    codes: list[str] = []
    mins: list[int] = []
    timed: list[int] = []
    special = False
    # The fast path takes the lines as canonical (code, minutes) pairs; anything else raises in the
    # loop and goes through _canonical.
    pairs = cast("Sequence[tuple[str, int | None]]", lines)
    try:
        for i, (code, minutes) in enumerate(pairs):
            tag = table[code]
            if minutes is None:
                minutes = 0
            elif type(minutes) is not int or minutes < 0:
                raise KeyError
            if tag == _TIMED:
                timed.append(i)
            elif tag == _FAMILY:
                special = True
            codes.append(code)
            mins.append(minutes)
    except (KeyError, TypeError, ValueError):
        return _run(_canonical(lines, table), unit_rule, table, assistant)
    n = len(codes)
    if special or (n > 1 and len(set(codes)) != n):
        return _grouped(codes, mins, unit_rule, table, assistant)

    # One service per line, no family: units straight onto the lines.
    units = [1] * n
    if unit_rule is UnitRule.CMS:
        timed_minutes, won, contested, tie = _cms(timed, mins, codes, units)
    else:
        timed_minutes = 0
        for i in timed:
            m = mins[i]
            timed_minutes += m
            units[i] = (m + 7) // 15
        won, contested, tie = (), False, None
    alternatives = () if tie is None else tuple(map(tuple, tie.alternatives))
    text = _explain(unit_rule, codes, None, mins, units, timed, timed_minutes, won, contested, tie, None, ())
    return _result(unit_rule, codes, units, timed_minutes, alternatives, text)


def _canonical(lines: Sequence[object], table: dict[str, int]) -> list[tuple[str, int]]:
    """Checked, normalized ``(code, minutes)`` pairs; :class:`UnitsInputError` names the bad line."""
    out: list[tuple[str, int]] = []
    for i, line in enumerate(lines, 1):
        try:
            # anything but a pair raises the TypeError / ValueError handled below
            code, minutes = cast("tuple[object, object]", line)
        except (TypeError, ValueError):
            raise UnitsInputError(f"line {i}: expected a (code, minutes) pair") from None
        key = normalize_code(code) if isinstance(code, (str, int, float)) else ""
        if key not in table:
            raise _unknown_code(code, i)
        if minutes is None:
            m = 0
        elif type(minutes) is int and minutes >= 0:
            m = minutes
        else:
            m = _check_minutes(minutes, i)
        out.append((key, m))
    return out


def _result(
    rule: UnitRule,
    codes: list[str],
    units: list[int],
    timed_minutes: int,
    alternatives: tuple[tuple[int, ...], ...],
    explanation: str,
    unplaced: tuple[tuple[str, int], ...] = (),
) -> VisitUnits:
    # The explanation is written for every visit. Measured on the scrub benchmark's 121,255 calls
    # (1,000,500 lines): 0.9 s → 1.4 s, about 3% of the scrub (so it is not left for a lazy first read),
    # and the plain constructor costs ~0.05 s there (0.3%, so no object.__new__ shortcut).
    return VisitUnits(
        rule=rule,
        codes=tuple(codes),
        units=tuple(units),
        total_units=sum(units),
        timed_minutes=timed_minutes,
        alternatives=alternatives,
        explanation=explanation,
        unplaced=unplaced,
    )


def _grouped(
    codes: list[str], mins: list[int], unit_rule: UnitRule, table: dict[str, int],
    assistant: Sequence[bool] | None = None,
) -> VisitUnits:
    """Visits with a code on two lines or a special family: lines are grouped into services."""
    n = len(codes)
    # services, in order of first appearance
    s_key: list[str] = []
    s_kind: list[int] = []
    s_fam: list[CodeFamily | None] = []
    s_min: list[int] = []
    s_lines: list[list[int]] = []
    where: dict[str, int] = {}
    for i in range(n):
        code = codes[i]
        tag = table[code]
        fam = _FAMILY_OF[code] if tag == _FAMILY else None
        key = code if fam is None else fam.base
        j = where.get(key)
        if j is None:
            where[key] = len(s_key)
            s_key.append(key)
            s_kind.append(tag if fam is None else (_TIMED if fam.pooled else _SCALED))
            s_fam.append(fam)
            s_min.append(mins[i])
            s_lines.append([i])
        else:
            s_min[j] += mins[i]
            s_lines[j].append(i)

    ns = len(s_key)
    s_units = [1] * ns
    timed = [j for j in range(ns) if s_kind[j] == _TIMED]
    for j in range(ns):
        if s_kind[j] == _SCALED:
            s_units[j] = sum(family_units(s_fam[j], s_min[j]))  # type: ignore[arg-type]
    if unit_rule is UnitRule.CMS:
        timed_minutes, won, contested, tie = _cms(timed, s_min, s_key, s_units)
    else:
        timed_minutes = 0
        for j in timed:
            timed_minutes += s_min[j]
            s_units[j] = (s_min[j] + 7) // 15
        won, contested, tie = (), False, None

    units = _place(s_units, s_fam, s_lines, codes, n)
    alternatives: tuple[tuple[int, ...], ...] = ()
    if tie is not None:
        # (an alternative that gives a base-only family more than its one daily unit cannot be billed
        # on the visit's lines as they are: it is not offered)
        placed = [(alt, _place(alt, s_fam, s_lines, codes, n)) for alt in tie.alternatives]
        alternatives = tuple(tuple(units_) for alt, units_ in placed if sum(units_) == sum(alt))
    split_notes: list[str] = []
    split_codes: list[str] = []
    if assistant is not None and any(assistant):
        for j in range(ns):
            if s_fam[j] is None and s_kind[j] == _TIMED:
                note = _by_furnisher(units, s_lines[j], mins, assistant, codes)
                if note:
                    split_notes.append(note)
                    split_codes.append(s_key[j])
                    alternatives = tuple(tuple(_furnisher_split(list(alt), s_lines[j], mins, assistant))
                                         for alt in alternatives)
    text = _explain_grouped(
        unit_rule,
        codes,
        s_key,
        s_kind,
        s_fam,
        s_min,
        s_lines,
        s_units,
        timed,
        timed_minutes,
        won,
        contested,
        tie,
        split_codes=frozenset(split_codes),
    )
    if split_notes:
        text = f"{text} {' '.join(split_notes)}"
    unplaced = tuple((fam.addon, s_units[j] - 1) for j, fam in enumerate(s_fam)
                     if fam is not None and s_units[j] > 1 and all(codes[i] == fam.base for i in s_lines[j]))
    return _result(unit_rule, codes, units, timed_minutes, alternatives, text, unplaced)


def _furnisher_split(units: list[int], lines: list[int], mins: list[int], assistant: Sequence[bool]) -> list[int]:
    """``units`` with one service's units moved from its first line to the first assistant line and
    the first therapist line, as :func:`assistant_units` splits them (lines by both only)."""
    by_assistant = [i for i in lines if assistant[i]]
    by_therapist = [i for i in lines if not assistant[i]]
    if not by_assistant or not by_therapist:
        return units
    total = sum(units[i] for i in lines)
    co = assistant_units(total, sum(mins[i] for i in by_assistant), sum(mins[i] for i in by_therapist))
    for i in lines:
        units[i] = 0
    units[by_assistant[0]] = co
    units[by_therapist[0]] = total - co
    return units


def _by_furnisher(units: list[int], lines: list[int], mins: list[int], assistant: Sequence[bool],
                  codes: list[str]) -> str:
    """Split one service's units by who furnished them (in place); the explanation's note, or ``""``."""
    if all(assistant[i] for i in lines) or not any(assistant[i] for i in lines):
        return ""
    _furnisher_split(units, lines, mins, assistant)
    a = next(i for i in lines if assistant[i])
    t = next(i for i in lines if not assistant[i])
    a_min = sum(mins[i] for i in lines if assistant[i])
    t_min = sum(mins[i] for i in lines if not assistant[i])
    return (f"{codes[a]} by assistant ({a_min} min) and therapist ({t_min} min): {units[a]} unit(s) with "
            f"CO/CQ on line {a + 1}, {units[t]} without on line {t + 1} (CMS de minimis, judged per "
            "15-minute unit).")


class _Tie(NamedTuple):
    tied: list[int]  # service indexes with the tied leftover, in tie-break order
    need: int  # how many of them get a remainder unit
    first_unit: int  # ordinal of the first unit decided by the tie
    last_unit: int
    alternatives: list[list[int]]  # the other service-unit vectors
    truncated: bool


def _cms(
    timed: list[int], s_min: list[int], s_key: list[str], s_units: list[int]
) -> tuple[int, Sequence[int], bool, _Tie | None]:
    """CMS 8-minute rule over the timed services (facts §1.2-§1.3), writing ``s_units``.

    Returns the pooled minutes, the services that won a remainder unit, whether a service with
    leftover minutes went without one, and the tie (if the last unit(s) fell on equal leftovers).
    """
    pooled = 0
    full = 0
    cand: list[int] = []  # services with leftover minutes ...
    lefts: list[int] = []  # ... and their leftovers (minutes % 15)
    for j in timed:
        m = s_min[j]
        pooled += m
        f = m // 15
        s_units[j] = f
        full += f
        if m - 15 * f:
            cand.append(j)
            lefts.append(m - 15 * f)
    rest = (pooled + 7) // 15 - full
    if not rest:
        return pooled, (), bool(cand), None
    if len(cand) <= rest:  # every leftover wins (§1.3 step 6: rest never exceeds this count)
        for j in cand:
            s_units[j] += 1
        return pooled, cand, False, None
    # More leftovers than units: the largest leftovers win. Without a tie at the cut-off the
    # winners are the leftovers above it; a tie at the cut-off goes to _contest.
    if rest == 1:
        cutoff = max(lefts)
        if lefts.count(cutoff) == 1:
            winner = cand[lefts.index(cutoff)]
            s_units[winner] += 1
            return pooled, (winner,), True, None
    else:
        order = sorted(lefts, reverse=True)
        cutoff = order[rest - 1]
        if order[rest] != cutoff:
            won = [j for j, left in zip(cand, lefts, strict=True) if left >= cutoff]
            for j in won:
                s_units[j] += 1
            return pooled, won, True, None
    won, tie = _contest(rest, cutoff, pooled, cand, lefts, s_min, s_key, s_units)
    return pooled, won, True, tie


def _contest(
    rest: int,
    cutoff: int,
    pooled: int,
    cand: list[int],
    lefts: list[int],
    s_min: list[int],
    s_key: list[str],
    s_units: list[int],
) -> tuple[list[int], _Tie]:
    """The last remainder unit(s) fall on equal leftovers (``cutoff``): the provider's choice
    (facts §1.3 step 4).

    Leftovers above the cut-off win outright. Inside the tied group the engine picks by more
    total minutes, then the lower code; every other choice of ``need`` services from the group
    is listed as an alternative (in tie-break order, at most :data:`MAX_ALTERNATIVES`).
    """
    won = [j for j, left in zip(cand, lefts, strict=True) if left > cutoff]
    tied = [j for j, left in zip(cand, lefts, strict=True) if left == cutoff]
    tied.sort(key=lambda j: (-s_min[j], s_key[j]))
    need = rest - len(won)
    for j in won:
        s_units[j] += 1
    base = s_units.copy()  # every unit but the tied ones
    for j in tied[:need]:
        s_units[j] += 1
    won += tied[:need]
    alternatives: list[list[int]] = []
    truncated = False
    combos = combinations(tied, need)
    next(combos)  # the engine's own pick: the first `need` of the tied group
    for combo in combos:
        if len(alternatives) >= MAX_ALTERNATIVES:
            truncated = True
            break
        alt = base.copy()
        for j in combo:
            alt[j] += 1
        alternatives.append(alt)
    total = (pooled + 7) // 15
    return won, _Tie(tied, need, total - need + 1, total, alternatives, truncated)


def _place(
    s_units: list[int],
    s_fam: list[CodeFamily | None],
    s_lines: list[list[int]],
    codes: list[str],
    n: int,
) -> list[int]:
    """Per-line units from per-service units: first line of a service; a family's base unit on
    the base line and the rest on the add-on line. With the base code alone, its line gets the one
    unit the base code may carry a day (the rest belong on the missing add-on: ``unplaced``); with
    the add-on alone, its line gets them all (the scrubber holds it for the missing base)."""
    units = [0] * n
    for j, lines in enumerate(s_lines):
        u = s_units[j]
        fam = s_fam[j]
        if fam is None:
            units[lines[0]] = u
            continue
        base_line, addon_line = _family_lines(fam, lines, codes)
        if base_line >= 0 and addon_line >= 0:
            b = min(u, 1)
            units[base_line] = b
            units[addon_line] = u - b
        elif base_line >= 0:
            units[base_line] = min(u, 1)
        else:
            units[addon_line] = u
    return units


def _family_lines(fam: CodeFamily, lines: list[int], codes: list[str]) -> tuple[int, int]:
    base_line = addon_line = -1
    for i in lines:
        if codes[i] == fam.base:
            if base_line < 0:
                base_line = i
        elif addon_line < 0:
            addon_line = i
    return base_line, addon_line


def _family_split(fam: CodeFamily, u: int, lines: list[int], codes: list[str]) -> str:
    """'97129×1, 97130×2', or where the units belong when one code of the family is missing."""
    b = min(u, 1)
    a = u - b
    base_line, addon_line = _family_lines(fam, lines, codes)
    if base_line >= 0 and addon_line >= 0:
        return f"{fam.base}×{b}, {fam.addon}×{a}"
    if base_line >= 0:
        return f"{fam.base}×{b}; no {fam.addon} line: add {fam.addon}×{a}" if a else ""
    return f"no {fam.base} line: the first unit belongs on {fam.base}" if b else ""


# --- explanation --------------------------------------------------------------------------


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _explain_grouped(
    rule: UnitRule,
    codes: list[str],
    s_key: list[str],
    s_kind: list[int],
    s_fam: list[CodeFamily | None],
    s_min: list[int],
    s_lines: list[list[int]],
    s_units: list[int],
    timed: list[int],
    timed_minutes: int,
    won: Sequence[int],
    contested: bool,
    tie: _Tie | None,
    split_codes: frozenset[str] = frozenset(),
) -> str:
    """Labels, family splits and duplicate notes for a grouped visit, then :func:`_explain`.
    ``split_codes``: codes whose units are split by who furnished them (their own note follows)."""
    labels: list[str] = []
    suffix: dict[int, str] = {}
    notes: list[str] = []
    for j in range(len(s_key)):
        fam = s_fam[j]
        lines_j = s_lines[j]
        present = [codes[i] for i in lines_j]
        if fam is None:
            labels.append(s_key[j])
        else:
            labels.append(f"{fam.base}/{fam.addon}" if len(set(present)) == 2 else present[0])
            split = _family_split(fam, s_units[j], lines_j, codes)
            if s_kind[j] == _SCALED:
                split = f" ({split}; midpoint rule)" if split else " (midpoint rule)"
            elif split:
                split = f" ({split})"
            suffix[j] = split
        if len(set(present)) < len(present):
            for code in dict.fromkeys(present):
                on = [i for i in lines_j if codes[i] == code]
                if len(on) > 1:
                    numbers = ", ".join(str(i + 1) for i in on)
                    where = ("units split by who furnished them" if code in split_codes
                             else f"one line per code per day, units on line {on[0] + 1}")
                    notes.append(f"{code} on lines {numbers} counted as one service (minutes added; {where})")
    return _explain(
        rule, labels, s_kind, s_min, s_units, timed, timed_minutes, won, contested, tie, suffix, notes
    )


def _explain(
    rule: UnitRule,
    labels: list[str],
    kinds: list[int] | None,
    s_min: list[int],
    s_units: list[int],
    timed: list[int],
    timed_minutes: int,
    won: Sequence[int],
    contested: bool,
    tie: _Tie | None,
    suffix: dict[int, str] | None,
    notes: Sequence[str],
) -> str:
    """One line for the biller, e.g. ``47 timed min → 3 units: 97112 24 min → 2 (larger
    leftover), 97110 23 min → 1``. ``kinds`` None means every non-timed service is untimed."""
    parts: list[str] = []
    if timed:
        items = []
        tied = tie.tied if tie is not None else ()
        for j in timed:
            text = f"{labels[j]} {s_min[j]} min → {s_units[j]}"
            if suffix and j in suffix:
                text += suffix[j]
            if contested and j in won:  # another service with leftover minutes lost to this one
                text += " (tie pick)" if j in tied else " (larger leftover)"
            items.append(text)
        if rule is UnitRule.CMS:
            total = sum(s_units[j] for j in timed)
            noun = "unit" if total == 1 else "units"
            parts.append(f"{timed_minutes} timed min → {total} {noun}: {', '.join(items)}")
        else:
            parts.append("AMA per code: " + ", ".join(items))
    if len(timed) < len(labels):
        if kinds is None:
            kinds = [_UNTIMED] * len(labels)
            for j in timed:
                kinds[j] = _TIMED
        for j in range(len(labels)):
            kind = kinds[j]
            if kind == _UNTIMED:
                parts.append(f"{labels[j]} untimed → {s_units[j]}")
            elif kind == _SCALED:
                fam = _FAMILY_OF[labels[j].partition("/")[0]]
                parts.append(f"{labels[j]} {fam.label} {s_min[j]} min → {s_units[j]}{suffix[j]}")  # type: ignore[index]
    if tie is not None:
        names = [labels[j] for j in tie.tied]
        if tie.need == 1:
            text = f"tie: {_either(names)} may take the {_ordinal(tie.last_unit)} unit"
        else:
            text = (
                f"tie: any {tie.need} of {', '.join(names)} may take units {tie.first_unit}–{tie.last_unit}"
            )
        if tie.truncated:
            text += f" (only the first {MAX_ALTERNATIVES} other choices are listed)"
        parts.append(text)
    parts.extend(notes)
    return "; ".join(parts) if parts else "no lines"
