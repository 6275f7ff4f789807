"""Denials explained: the CARC/RARC catalogue, the next action for a denied line and its deadlines.

A remittance line says *why* it paid less than billed with a group code and a claim adjustment
reason code (CARC, e.g. ``CO-97``), often refined by remittance advice remark codes (RARCs, e.g.
``N362``). This module turns those codes into a category, a plain-language reason and the next step
for an OT practice (facts §8), and works out the appeal and corrected-claim deadlines per payer.

The catalogue is dated package data (``refdata/carc.csv``, ``refdata/rarc.csv``; sources in
``refdata/SOURCES.md``): codes are added and deactivated over time, so a lookup may name a date.
Descriptions are our own short words, not X12's text.

Group codes (X12 CAS01; facts §8): ``CO`` contractual obligation — the practice absorbs it and may not
bill the patient; ``PR`` patient responsibility; ``OA`` other adjustment; ``PI`` payer-initiated
reduction; ``CR`` correction/reversal of a prior adjudication. Payers differ in the group they send
with a code, so the group actually received decides the action (a ``PR`` line goes to the patient or
the secondary payer even for a code that usually comes as ``CO``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from otbill_xl import refdata
from otbill_xl.domain.models import Payer, PayerType

#: The categories a CARC falls in (issue 13 §3). ``unknown`` is only returned for uncatalogued codes.
CATEGORIES = (
    "contractual", "patient_responsibility", "coding", "bundling", "eligibility", "authorization",
    "medical_necessity", "timely_filing", "duplicate", "documentation", "frequency_limit", "other",
)
#: What the practice does next, in one word per CARC (``route`` column of carc.csv): it picks the
#: deadline that applies (``appeal`` → the appeal deadline, ``corrected_claim`` → the corrected-claim
#: deadline; the others have none from the remittance).
ROUTES = ("appeal", "corrected_claim", "new_claim", "bill_patient", "write_off", "other_payer",
          "informational", "review")
GROUPS = {
    "CO": "contractual obligation, not billable to the patient",
    "PR": "patient responsibility",
    "OA": "other adjustment",
    "PI": "payer-initiated reduction",
    "CR": "correction or reversal of an earlier adjudication",
}
#: Adjustments that are not a denial: the contractual write-down to the allowed amount (CO-45) and
#: Medicare's sequestration (CO-253). They never make a line's "primary" reason while anything else
#: was adjusted.
ROUTINE_REASONS = frozenset({"45", "253"})

#: Medicare redetermination: 120 days from receipt of the initial determination, receipt presumed 5
#: days after the notice date — 42 CFR 405.942(a) and (a)(1) (https://law.lawstack.com/cfr/42/405.942/,
#: eCFR text). We count 120 days from the remittance (notice) date: 5 days earlier than the legal
#: limit, a margin because the 835's date need not be the notice's.
MEDICARE_APPEAL_DAYS = 120
#: Medicare reopening: within 1 year of the initial determination for any reason, which covers
#: clerical errors — 42 CFR 405.980(b)(1) (https://www.law.cornell.edu/cfr/text/42/405.980).
MEDICARE_REOPENING = "one year"


@dataclass(frozen=True, slots=True)
class Carc:
    """One dated row of the CARC catalogue."""

    code: str
    valid_from: date | None
    valid_to: date | None  # last day the code is valid (inclusive); None = still valid
    usual_group: str
    category: str
    route: str
    description: str
    next_action: str

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Rarc:
    """One dated row of the RARC catalogue."""

    code: str
    valid_from: date | None
    valid_to: date | None
    description: str
    next_action: str

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Last days to appeal and to send a corrected claim (``None``: not known), and where they come from."""

    appeal: date | None
    corrected: date | None
    basis: str


@dataclass(frozen=True, slots=True)
class Denial:
    """The denial facts of one remittance line (one row of the ``Denials`` sheet)."""

    group: str
    carc: str
    rarcs: tuple[str, ...]
    category: str
    route: str
    #: The primary adjustment's amount (what this reason took off the line).
    amount: Decimal
    reason: str
    next_action: str
    #: The deadline that goes with the route (appeal or corrected claim), else None.
    deadline: date | None
    appeal_deadline: date | None
    corrected_deadline: date | None
    deadline_basis: str


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def _catalogue(name: str) -> Mapping[str, tuple[dict[str, str], ...]]:
    rows: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(refdata.read_text(name))):
        rows.setdefault(row["code"], []).append(row)
    return {k: tuple(v) for k, v in rows.items()}


@cache
def carcs() -> Mapping[str, tuple[Carc, ...]]:
    """Every CARC row, by code (several rows when a code's meaning or validity changed)."""
    return {code: tuple(Carc(r["code"], _day(r["valid_from"]), _day(r["valid_to"]), r["usual_group"], r["category"],
                             r["route"], r["description"], r["next_action"]) for r in rows)
            for code, rows in _catalogue("carc.csv").items()}


@cache
def rarcs() -> Mapping[str, tuple[Rarc, ...]]:
    """Every RARC row, by code."""
    return {code: tuple(Rarc(r["code"], _day(r["valid_from"]), _day(r["valid_to"]), r["description"],
                             r["next_action"]) for r in rows)
            for code, rows in _catalogue("rarc.csv").items()}


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value if value is not None else "").strip().upper()


def split_reason(value: object) -> tuple[str, str]:
    """``"CO-97"``, ``"co97"``, ``"CO 97"`` → ``("CO", "97")``; ``"97"`` or ``97.0`` → ``("", "97")``."""
    text = _text(value).replace(" ", "").replace("-", "")
    if len(text) > 2 and text[:2] in GROUPS:
        return text[:2], text[2:]
    return "", text


def normalize_group(value: object) -> str:
    return _text(value)


def _pick(rows: Sequence[Carc] | Sequence[Rarc] | None, on: date | None):
    if not rows:
        return None
    if on is None:  # the current meaning: the open-ended row, else the latest
        return next((r for r in rows if r.valid_to is None), rows[-1])
    return next((r for r in rows if r.valid_on(on)), None)


def carc(code: object, on: date | None = None) -> Carc | None:
    """The catalogued CARC (a group prefix such as ``CO-`` is ignored); with ``on``, only if the code
    is valid that day (X12 start/stop dates; refdata/SOURCES.md)."""
    return _pick(carcs().get(split_reason(code)[1]), on)


def rarc(code: object, on: date | None = None) -> Rarc | None:
    """The catalogued RARC; with ``on``, only if valid that day."""
    return _pick(rarcs().get(_text(code)), on)


def carc_category(code: object, on: date | None = None) -> str:
    """The CARC's category (one of :data:`CATEGORIES`), ``"unknown"`` if not catalogued (facts §8)."""
    found = carc(code, on)
    return found.category if found is not None else "unknown"


def split_remarks(values: Iterable[object] | object) -> tuple[str, ...]:
    """Remark codes from a list and/or text with commas, semicolons or spaces, upper-cased, in order."""
    items = values if isinstance(values, (list, tuple)) else [values]
    out: list[str] = []
    for v in items:
        for part in _text(v).replace(";", ",").replace(" ", ",").split(","):
            if part and part not in out:
                out.append(part)
    return tuple(out)


def _route(group: str, code: str, remarks: Sequence[str], found: Carc | None) -> str:
    if "MA130" in remarks:
        return "new_claim"
    if group == "CR":
        return "informational"
    if group == "PR" and code != "119":
        return "bill_patient"
    if code == "23" and group == "OA":
        return "informational"
    if code == "151" and "N362" in remarks:
        return "corrected_claim"
    route = found.route if found is not None else "review"
    if "N211" in remarks and route == "appeal":
        return "write_off"
    return route


def _group_action(group: str, code: str, found: Carc | None) -> str | None:
    """The action decided by the group actually received, before the code's own action."""
    if group == "CR":
        return ("Correction or reversal of an earlier adjudication: post it against the original payment "
                "(a reversal nets the original; the readjudicated lines follow).")
    if group == "PR" and code != "119":
        why = "" if found is None or found.category == "patient_responsibility" else (
            f" The payer holds the patient liable for CARC {code} ({found.description.lower()}); bill them only "
            "if the plan allows it, e.g. after a signed ABN (GA) or a written notice of non-coverage.")
        return "Patient responsibility: bill the secondary payer if the patient has one, otherwise bill the patient." + why
    if group == "OA" and code == "23":
        return ("Informational (coordination of benefits): the prior payer's payment and adjustments; reconcile the "
                "secondary payment against them, nothing to bill for this amount.")
    if code == "45" and group in ("CO", "PI"):
        return found.next_action if found is not None else None
    return None


def next_action(group: object, carc_code: object, rarcs_: Sequence[object] | object = (), on: date | None = None) -> str:
    """What to do about an adjustment, for an OT practice (facts §8, issue 13 §3).

    Decided in this order: an unprocessable claim (RARC ``MA130``: no appeal rights, send a new
    claim); the group actually received (``PR`` → secondary payer or patient, except ``PR-119``:
    Medicare therapy over the KX threshold → KX and a corrected claim/reopening; ``OA-23`` →
    informational COB; ``CO-45`` → contractual write-off, compare with the expected allowed;
    ``CR`` → post against the original); ``CO-151`` with ``N362`` (units over the MUE); then the
    CARC's catalogued action. ``N211`` (not appealable) replaces an appeal with a write-off. The
    actions of the other catalogued RARCs follow, each prefixed with its code.
    """
    grp = normalize_group(group)
    prefix, code = split_reason(carc_code)
    grp = grp or prefix
    remarks = split_remarks(rarcs_)
    found = carc(code, on) or carc(code)
    used: set[str] = set()
    if "MA130" in remarks:
        used.add("MA130")
        action = ("Unprocessable claim (MA130): no appeal rights — fix what the remark codes name and send a "
                  "new claim (frequency 1), not an appeal or a corrected claim.")
    elif (group_action := _group_action(grp, code, found)) is not None:
        action = group_action
    elif code == "151" and "N362" in remarks:
        used.add("N362")
        action = ("Units over the payer's maximum per day (MUE; CO-151 with N362): check the units against the "
                  "minutes (8-minute rule) and the code's MUE; bill only the supported units on a corrected claim "
                  "(frequency 7; Medicare Part B: a clerical-error reopening), or appeal with the treatment minutes "
                  "if the units were right.")
    elif found is not None:
        action = found.next_action
    else:
        action = (f"CARC {code or '(blank)'} is not in the catalogue: read the payer's explanation and the remark "
                  "codes, then correct and rebill or appeal.")
    if "N211" in remarks and found is not None and found.route == "appeal" \
            and _route(grp, code, remarks, found) == "write_off":
        used.add("N211")
        action = ("Not appealable (N211): do not send an appeal; correct and rebill only if the claim itself was "
                  "wrong, otherwise write the CO amount off.")
    parts = [action]
    for code_r in remarks:
        if code_r in used:
            continue
        r = rarc(code_r, on) or rarc(code_r)
        if r is not None and not r.next_action.startswith("Informational"):
            parts.append(f"{code_r}: {r.next_action}")
    return " ".join(parts)


def describe(group: object, carc_code: object, rarcs_: Sequence[object] | object = (), on: date | None = None) -> str:
    """Plain-language reason: ``"CO-97 (contractual obligation, not billable to the patient): Paid as
    part of another service ...; N20: Not payable with another service on the same date."``
    Uncatalogued codes are named as such."""
    prefix, code = split_reason(carc_code)
    grp = normalize_group(group) or prefix
    found = carc(code, on) or carc(code)
    head = f"{grp}-{code}" if grp else code
    meaning = GROUPS.get(grp, "unknown group")
    text = f"{head} ({meaning}): " + (found.description if found is not None else "reason code not in the catalogue")
    notes = []
    for code_r in split_remarks(rarcs_):
        r = rarc(code_r, on) or rarc(code_r)
        notes.append(f"{code_r}: {r.description if r is not None else 'remark code not in the catalogue'}")
    return text + ("; " + "; ".join(notes) if notes else "") + "."


def _year_later(day: date) -> date:
    """Same day one year later; 29 February gives 28 February (as for timely filing, facts §7)."""
    if day.year == date.max.year:
        return date.max
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return date(day.year + 1, 2, 28)


def _plus(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def deadlines(payer: Payer | None, adjudicated: date) -> Deadlines:
    """Appeal and corrected-claim deadlines for a remittance dated ``adjudicated``.

    The payer's ``AppealDays`` / ``CorrectedClaimDays`` (Payers sheet) count from the adjudication
    date. Blank, for Medicare (Part B): appeal (redetermination) 120 days — 42 CFR 405.942(a) gives
    120 days from receipt of the notice, receipt presumed 5 days after its date, so this is 5 days
    early on purpose; corrected claim = reopening within 1 year of the initial determination, 42 CFR
    405.980(b)(1). Blank for any other payer: no deadline (``None``), and the basis says to set it.
    """
    if payer is None:
        return Deadlines(None, None, "no payer: set AppealDays and CorrectedClaimDays on the Payers sheet")
    medicare = payer.payer_type is PayerType.MEDICARE
    basis: list[str] = []
    if payer.appeal_days is not None:
        appeal: date | None = _plus(adjudicated, payer.appeal_days)
        basis.append(f"appeal {payer.appeal_days} days (AppealDays)")
    elif medicare:
        appeal = _plus(adjudicated, MEDICARE_APPEAL_DAYS)
        basis.append("appeal 120 days: Medicare redetermination, 42 CFR 405.942(a)")
    else:
        appeal = None
        basis.append("appeal: unknown, set AppealDays on the Payers sheet")
    if payer.corrected_claim_days is not None:
        corrected: date | None = _plus(adjudicated, payer.corrected_claim_days)
        basis.append(f"corrected claim {payer.corrected_claim_days} days (CorrectedClaimDays)")
    elif medicare:
        corrected = _year_later(adjudicated)
        basis.append("corrected claim 1 year: Medicare reopening, 42 CFR 405.980(b)(1)")
    else:
        corrected = None
        basis.append("corrected claim: unknown, set CorrectedClaimDays on the Payers sheet")
    return Deadlines(appeal, corrected, "; ".join(basis))


def primary_adjustment(adjustments: Sequence[tuple[str, str, Decimal]]) -> tuple[str, str, Decimal] | None:
    """The adjustment that explains the line: the largest (by size) that is neither patient
    responsibility (``PR``) nor routine (CARC 45 contractual write-down, 253 sequestration); else the
    largest ``PR``; else the largest of the rest. Ties keep the first in remittance order."""
    norm = [(normalize_group(g), split_reason(r)[1], a) for g, r, a in adjustments]
    for keep in (lambda g, r: g != "PR" and r not in ROUTINE_REASONS, lambda g, r: g == "PR", lambda g, r: True):
        chosen = [x for x in norm if keep(x[0], x[1])]
        if chosen:
            return max(chosen, key=lambda x: abs(x[2]))  # max keeps the first of equal sizes
    return None


def explain_denial(adjustments: Sequence[tuple[str, str, Decimal]], remarks: Sequence[str],
                   payer: Payer | None, adjudicated: date | None, on: date) -> Denial:
    """The denial facts of one remittance line.

    ``adjustments``: the line's CAS triplets as ``(group, reason, amount)`` (claim-level CAS that
    apply to the line may be included); ``remarks``: its RARCs (LQ, MOA/MIA remarks); ``payer``: the
    Payers-sheet payer (for deadlines); ``adjudicated``: the remittance date (BPR16 or DTM*405);
    ``on``: the date the codes are read on (the adjudication date, or today).

    The primary CARC is :func:`primary_adjustment`'s; its route decides which deadline applies
    (``appeal`` → appeal deadline, ``corrected_claim`` → corrected-claim deadline, other routes none).
    """
    main = primary_adjustment(adjustments)
    rems = split_remarks(list(remarks))
    if main is None:
        return Denial("", "", rems, "unknown", "review", Decimal("0"),
                      "No adjustment reason on the line.",
                      "No reason code was sent: ask the payer (or check the claim status) why the line was not paid.",
                      None, None, None, "")
    group, code, amount = main
    found = carc(code, on) or carc(code)
    route = _route(group, code, rems, found)
    dl = deadlines(payer, adjudicated) if adjudicated is not None else Deadlines(None, None, "no adjudication date")
    deadline = dl.appeal if route == "appeal" else dl.corrected if route == "corrected_claim" else None
    return Denial(group=group, carc=code, rarcs=rems, category=found.category if found is not None else "unknown",
                  route=route, amount=amount, reason=describe(group, code, rems, on),
                  next_action=next_action(group, code, rems, on), deadline=deadline,
                  appeal_deadline=dl.appeal, corrected_deadline=dl.corrected, deadline_basis=dl.basis)


# ------------------------------------------------------------------------------------------------
# Provider-level adjustments (PLB)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlbReason:
    """A provider-level adjustment reason (835 PLB03-1): what it is and what to do with it."""

    code: str
    description: str
    next_action: str


@cache
def plb_reasons() -> Mapping[str, PlbReason]:
    """The PLB reason catalogue (``refdata/plb_reasons.csv``; sources in ``refdata/SOURCES.md``)."""
    rows = csv.DictReader(io.StringIO(refdata.read_text("plb_reasons.csv")))
    return {r["code"]: PlbReason(r["code"], r["description"], r["next_action"]) for r in rows}


def plb_reason(code: object) -> PlbReason:
    """The PLB reason, or a placeholder naming the unknown code (never an error: the amount still counts)."""
    text = _text(code).upper()
    return plb_reasons().get(text) or PlbReason(text, f"Provider adjustment {text or '(no reason code)'}",
                                               "Read the reference and ask the payer what the adjustment is")
