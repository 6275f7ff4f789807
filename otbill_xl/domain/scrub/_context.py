"""Shared machinery of the scrub rules: the rule registry, hits, and the facts rules look at.

Rules come in scopes, each run as often as its inputs change, never more:

* ``line``: facts of one charge line that repeat across many lines (code + its status on the DOS,
  modifier cells, rendering NPI, payer, DOS on/after 2020-01-01). The engine caches the hits per
  distinct combination, so a rule runs once per combination, not once per line.
* ``dx``: the four diagnosis cells, cached the same way.
* ``visit``: the lines of one patient + date of service, *structurally*: a visit rule may read
  only the entries (their :class:`LineFacts`, :class:`DxFacts`, minutes and units), the DOS
  through the dated tables (:func:`era` boundaries), the payer's unit rule and
  ``group_by_discipline``. The engine caches the result per distinct visit pattern. Other lines
  of the visit are named in messages with :meth:`VisitContext.ref`, filled in per visit.
* ``dated``: one visit against the patient's dates (DOS, birth, plan of care, authorization,
  filing limit). Each module with dated rules registers a :func:`bounds` function giving the DOS
  range in which none of its dated rules can fire; visits inside every range skip them.
* ``patient``: one patient's visits in date order (counts of treatment days, visits).
* ``sheet``: the Practice / Patients sheets themselves.

Every rule function carries a stable rule id registered in :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from otbill_xl.domain.codes import CodeInfo, CodeKind, CodeStatus
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.models import (
    MOD_COLUMNS,
    MODIFIER_SEPARATORS,
    ChargeLine,
    Discipline,
    Patient,
    Payer,
    PayerType,
    Provider,
    UnitRule,
    first_free_modifier,
)

CHARGES = "Charges"
PATIENTS = "Patients"
PRACTICE = "Practice"
PAYERS = "Payers"

DX_COLUMNS = ("Dx1", "Dx2", "Dx3", "Dx4")

#: Plan-of-care discipline modifiers (facts §4).
DISCIPLINE_OF_MODIFIER = {"GO": Discipline.OT, "GP": Discipline.PT, "GN": Discipline.SLP}
#: NCCI-associated modifiers that bypass a PTP edit with modifier indicator 1 (facts §4, §6).
NCCI_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})
#: CO/CQ required on assistant services from this date of service (facts §4).
ASSISTANT_MODIFIERS_FROM = date(2020, 1, 1)
MEDICARE_TYPES = frozenset({PayerType.MEDICARE, PayerType.MEDICARE_ADVANTAGE})
UNTIMED_KINDS = frozenset({CodeKind.UNTIMED, CodeKind.EVALUATION, CodeKind.GROUP})

#: Line statuses that show the line was already sent to the payer (timely filing is then moot).
BILLED_STATUSES = frozenset({
    "billed", "submitted", "sent", "accepted", "paid", "partially paid", "partial", "denied",
    "appealed", "closed", "posted",
})


class RuleInfo(NamedTuple):
    """What a rule is: severity, family and a one-line description (for docs and tests)."""

    severity: Severity
    family: str
    description: str


#: Every rule the scrubber can emit, by stable rule id.
RULES: dict[str, RuleInfo] = {}

#: Rule functions per scope, in registration order.
SCOPES: dict[str, list[Callable[..., Any]]] = {
    "line": [], "dx": [], "visit": [], "dated": [], "patient": [], "sheet": [],
    # whole-book rules that need every line's units first: ``fn(book, computed_units, priced)``
    # returns findings (``priced``: the book's pricing when the caller has it, else None)
    "book": [],
}
#: Functions ``(PatientFacts, as_of) -> (lo, hi)``: DOS range where no dated rule can fire.
BOUNDS: list[Callable[..., tuple[date, date]]] = []

# Line-facts bits that let the engine skip visit rules that cannot fire (``when``).
M_EVAL = 1  # an active evaluation code
M_ADDON = 2  # an active add-on code
M_NCCI = 4  # an active code named in the NCCI pair table
M_LIMIT = 8  # a code with a daily unit limit
M_UNTIMED = 16  # an untimed / evaluation / group code
M_OT = 32  # an OT line (discipline)
M_PT = 64  # a PT line
M_NODISC = 128  # no GO/GP/GN on the line


def rule(
    rule_id: str, severity: Severity, family: str, description: str, scope: str | None = None,
    *, when: int = 0, min_lines: int = 1,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a rule id; when ``scope`` is given also register the function to run in it.

    Visit rules may say ``when`` (line-facts bits that must all be present on the visit's lines)
    and ``min_lines`` (fewest lines on which the rule can fire); the engine skips them otherwise.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        register(rule_id, severity, family, description)
        fn.rule_id = rule_id  # type: ignore[attr-defined]
        if scope is not None:
            runs_in(scope, when=when, min_lines=min_lines)(fn)
        return fn

    return deco


def runs_in(scope: str, *, when: int = 0, min_lines: int = 1) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a function in ``scope`` (one that emits several registered rule ids, or a rule)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.when = when  # type: ignore[attr-defined]
        fn.min_lines = min_lines  # type: ignore[attr-defined]
        SCOPES[scope].append(fn)
        return fn

    return deco


def bounds(fn: Callable[..., tuple[date, date]]) -> Callable[..., tuple[date, date]]:
    """Register a module's safe DOS range for its ``dated`` rules (see the module docstring)."""
    BOUNDS.append(fn)
    return fn


def register(rule_id: str, severity: Severity, family: str, description: str) -> None:
    """Add a rule id to :data:`RULES` (for rules emitted by a function that serves several ids)."""
    if rule_id in RULES and RULES[rule_id] != (severity, family, description):
        raise ValueError(f"rule {rule_id} registered twice with different facts")
    RULES[rule_id] = RuleInfo(severity, family, description)


class Hit(NamedTuple):
    """A rule firing on a charge line, before it has a row: rule id, column, message, fix."""

    rule: str
    column: str
    message: str
    fix: str


def hit(rule_id: str, column: str, message: str, fix: str) -> Hit:
    """A :class:`Hit` for a registered rule (an unregistered id is a programming error)."""
    if rule_id not in RULES:
        raise KeyError(f"rule {rule_id} is not registered")
    return Hit(rule_id, column, message, fix)


def finding(rule_id: str, sheet: str, row: int | None, column: str, message: str, fix: str) -> Finding:
    """A :class:`Finding` for a registered rule (its severity comes from :data:`RULES`)."""
    return Finding(rule=rule_id, severity=RULES[rule_id].severity,
                   location=Location(sheet=sheet, row=row, column=column), message=message, fix=fix)


_REF = "\x00ref:{}\x00"


def line_ref(line: ChargeLine) -> str:
    """How messages name a line: ``row 17 (line L0042)``."""
    return f"row {line.row} (line {line.line_id})" if line.line_id else f"row {line.row}"


def a_an(word: str) -> str:
    """``"an OT"``, ``"a PT"``, ``"a DPT"``, ``"an OTR/L"``: the article for an (abbreviated) word.
    Letters read with a leading vowel sound (A E F H I L M N O R S X) take "an"."""
    return f"an {word}" if word[:1].upper() in "AEFHILMNORSX" else f"a {word}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- facts ---------------------------------------------------------------------------------


def parse_modifier_cells(cells: tuple[str, str, str, str]) -> tuple[tuple[str, str], ...]:
    """(modifier, column) pairs, in order; a cell may hold several separated by , ; / or spaces."""
    out: list[tuple[str, str]] = []
    for column, cell in zip(MOD_COLUMNS, cells, strict=True):
        if not cell:
            continue
        text = str(cell).strip().upper()
        if not text:
            continue
        for sep in MODIFIER_SEPARATORS:
            text = text.replace(sep, " ")
        for token in text.split():
            out.append((token, column))
    return tuple(out)


@dataclass(slots=True, eq=False)
class LineFacts:
    """What the line-scope rules know about a charge line (shared by identical lines)."""

    code: str
    info: CodeInfo | None
    status: CodeStatus
    cells: tuple[str, str, str, str]
    mods: tuple[tuple[str, str], ...]
    npi: str
    npi_ok: bool
    provider: Provider | None
    payer: Payer | None
    post2020: bool
    #: The rendering assistant's supervising therapist (Providers.SupervisorNPI), when listed.
    supervisor: Provider | None = None
    mod_set: frozenset[str] = frozenset()
    disc_mods: tuple[tuple[Discipline, str], ...] = ()
    expected: Discipline | None = None
    disc: Discipline | None = None
    has_ncci_mod: bool = False
    free_column: str = "Mod1"
    hits: tuple[Hit, ...] = ()
    fired: frozenset[str] = frozenset()
    mask: int = 0

    @property
    def active(self) -> bool:
        """A catalogue code valid on the line's date of service."""
        return self.status is CodeStatus.ACTIVE

    @property
    def kind(self) -> CodeKind | None:
        return self.info.kind if self.info is not None else None

    def column_of(self, modifier: str) -> str:
        """The Mod column holding ``modifier`` (first occurrence), or ``""``."""
        for token, column in self.mods:
            if token == modifier:
                return column
        return ""


def complete_line_facts(f: LineFacts) -> LineFacts:
    """Fill the derived fields (discipline, free modifier column ...)."""
    f.mod_set = frozenset(t for t, _ in f.mods)
    f.disc_mods = tuple((DISCIPLINE_OF_MODIFIER[t], c) for t, c in f.mods if t in DISCIPLINE_OF_MODIFIER)
    code_disc = None
    if f.info is not None and len(f.info.disciplines) == 1:
        code_disc = f.info.disciplines[0]
    prov_disc = f.provider.discipline if f.provider is not None else None
    f.expected = prov_disc or code_disc
    f.disc = (f.disc_mods[0][0] if f.disc_mods else None) or f.expected
    f.has_ncci_mod = bool(f.mod_set & NCCI_MODIFIERS)
    f.free_column = first_free_modifier(f.cells)
    return f


@dataclass(slots=True, eq=False)
class DxFacts:
    """The diagnosis cells of a line: compact codes (no dot, upper case) and the hits."""

    codes: tuple[str, ...]
    columns: tuple[str, ...]
    hits: tuple[Hit, ...] = ()


@dataclass(slots=True)
class PatientFacts:
    """A patient with the payer and settings the rules need (``patient`` is None when unknown)."""

    patient_id: str
    patient: Patient | None
    payer: Payer | None
    unit_rule: UnitRule
    #: Timely filing limit: days, ``"year"`` (Medicare: one calendar year), or None (no check).
    timely: int | str | None = None
    payer_key: str = ""
    #: DOS range in which no dated rule can fire (lo > hi: always run them).
    safe_lo: date = date.max
    safe_hi: date = date.min


class Entry(NamedTuple):
    """One charge line of a visit with its cached facts."""

    line: ChargeLine
    facts: LineFacts
    dx: DxFacts


@dataclass(slots=True)
class VisitContext:
    """One patient + date of service: the lines (worksheet order) and what the rules share.

    Visit-scope rules read only ``entries``, ``dos`` through dated tables, ``pf.unit_rule`` and
    ``group_by_discipline`` (their results are reused for visits with the same pattern)."""

    patient_id: str
    dos: date | None
    pf: PatientFacts
    entries: list[Entry]
    as_of: date
    group_by_discipline: bool
    #: Entry indexes already flagged as duplicates (left out of unit and count checks).
    dup: set[int] = field(default_factory=set)
    #: Entry index -> computed units.
    computed: dict[int, int] = field(default_factory=dict)
    #: Memo shared by all visits of one scrub run (e.g. unit computations per pattern).
    memo: dict = field(default_factory=dict)
    #: The run's NCCI tables and units ceiling (``ncci.NcciRun``; constant for the whole run).
    ncci: Any = None

    def ref(self, i: int) -> str:
        """How a message names another line of the visit (``row 17 (line L0042)``), as a
        placeholder the engine fills in for each visit with this pattern."""
        return _REF.format(i)


@dataclass(slots=True)
class PatientVisits:
    """One patient's visits: dates of service in order, each with its entries."""

    pf: PatientFacts
    visits: list[tuple[date, list[Entry]]]
    as_of: date


def unit_rule_for(payer: Payer | None) -> UnitRule:
    """The payer's unit rule; CMS when the payer is Medicare/MA and the sheet left UnitRule blank,
    or when the payer is unknown (facts §1.5: CMS is the default for Medicare and MA)."""
    if payer is None:
        return UnitRule.CMS
    if "unit_rule" not in payer.model_fields_set and payer.payer_type in MEDICARE_TYPES:
        return UnitRule.CMS
    return payer.unit_rule


def timely_limit_for(payer: Payer | None) -> int | str | None:
    """Timely filing limit: the payer's TimelyFilingDays; blank for Medicare = one calendar year
    after the DOS (facts §7, 42 CFR 424.44); otherwise no check."""
    if payer is None or payer.payer_type is PayerType.SELF_PAY:
        return None
    if payer.timely_filing_days is not None:
        return payer.timely_filing_days
    if payer.payer_type is PayerType.MEDICARE:
        return "year"
    return None


@dataclass(slots=True)
class SheetContext:
    """The reference sheets (Practice, Payers, Providers, Patients) and who has charge lines."""

    book: Any  # PracticeBook (not imported here to keep this module free of the book's imports)
    as_of: date
    #: Patient IDs with at least one charge line, and their facts.
    charged: dict[str, PatientFacts]
