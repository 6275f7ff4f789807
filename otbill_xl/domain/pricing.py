"""Expected reimbursement of every charge line, to the cent, with each adjustment shown on its own.

For each line: the fee before reductions (contracted rate or Medicare PFS amount × units), the MPPR
reduction, the assistant (CO/CQ) reduction, the expected allowed amount, the Part B deductible, the
payer's expected payment, the patient's share and sequestration, plus the KX running total.

Order of Medicare adjustments (applied the same way everywhere):

1. **MPPR** (facts §5.2): per patient per date of service, across disciplines, over all units of
   always-therapy codes, the unit with the highest PE payment is paid in full and every other unit
   at the reduced amount (work and malpractice in full, PE at 50%). Ties on PE go to the line with
   the higher full amount, then the earlier row.
2. **CO/CQ** (facts §4): a line with CO or CQ and a DOS from 2022-01-01 is paid 85% of its amount
   *after* MPPR — the assistant reduction is 15% of (fee − MPPR reduction), rounded to the cent.
   CMS's sequencing is not published [U, facts §5.2 item 6]; this order treats the 85% as a
   payment percentage applied last, as the facts judge most likely.
3. **Deductible and coinsurance**: the Part B deductible still to meet is taken from allowed amounts
   in DOS order; Medicare pays 80% of the rest (rounded to the cent) and the patient owes allowed −
   Medicare's payment. Patients ``DeductibleRemaining`` (blank: met) is what is left in
   ``DeductibleYear`` (blank: the year of the patient's first DOS in the book); every later year
   starts with that year's full Part B deductible (``refdata/part_b_deductible.csv``, CMS's yearly
   fact sheets; a year without an amount: none assumed, ``price.no-deductible-amount``); an earlier
   year is not known, none is assumed (``price.deductible-year``, info).
4. **Sequestration** (facts §5.3): 2% (dated) of Medicare's payment, rounded to the cent; the
   patient's share is not reduced.

A Medicare line whose MedicareRVU ``Status`` does not pay (B bundled, I not valid for Medicare, N not
covered, and the other non-paying codes of the RVU file documentation, ``refdata/pfs_status.csv``) is
priced at $0 with a ``price.pfs-status`` finding, joins no MPPR group and is left out of the KX total.

Medicare Advantage, Medicaid, commercial and other payers are priced from the contracted
``FeeSchedule`` (patient share depends on the plan's benefits and is not predicted). **Copays**: for
commercial and Medicare Advantage lines, Patients ``Copay`` is one amount per visit (patient + DOS +
payer), the patient's share (CARC 3, facts §8) taken off the payer's expected payment. It is taken from
the visit's priced lines in Charges row order (the claim's line order), each line giving at most its
allowed amount, until the copay is used up: the order only moves the copay between lines of one
visit, the visit's total (the copay, or the visit's allowed amount if less) is the same either way.
(The sample practice's posted payments spread their copays the same way.) A Copay on other payer
types is not applied (``price.copay-not-applied``, info): Medicare Part B has coinsurance, not a
per-visit copay. A payer with
``ApplyMPPR`` = Y gets the same MPPR; the PE share of its flat rate is taken from the code's Medicare
RVUs and the practice's GPCIs (the UHC-style policies of facts §5.2 reduce the PE portion) [U].
Self-pay lines are priced at the practice's charge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.charge_master import charge_master_by_code, charge_master_charge
from otbill_xl.domain.codes import catalogue
from otbill_xl.domain.fee_schedule import FeeSchedule
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.medicare_pfs import (
    MedicarePFS,
    PfsStatus,
    UnitPrice,
    kx_thresholds,
    medicare_rate,
    part_b_deductible,
    pfs_status,
    sequestration_rate,
)
from otbill_xl.domain.models import ChargeLine, Discipline, Patient, Payer, PayerType
from otbill_xl.domain.money import MAX_AMOUNT, MAX_UNITS, ZERO, cents, in_range

CHARGES = "Charges"
PATIENTS = "Patients"
#: Payer types whose plans charge the patient a per-visit copay (the rest: ``price.copay-not-applied``).
COPAY_PAYERS = frozenset({PayerType.COMMERCIAL, PayerType.MEDICARE_ADVANTAGE})
#: What to do about a line Medicare does not pay, by PFS status (the rest: the generic advice).
_STATUS_FIX = {
    "B": "Medicare pays for it only inside the services it is bundled with; the patient cannot be billed for it.",
    "I": "Bill the code Medicare uses for the service instead (e.g. G0283 for unattended e-stim, not 97014).",
    "N": "Medicare does not cover it: bill the patient only with the notice Medicare requires (ABN/GY).",
}
_KX_OT, _KX_PT_SLP = "OT", "PT/SLP"
ASSISTANT_MODIFIERS = frozenset({"CO", "CQ"})


class LinePrice(NamedTuple):
    """The expected price of one charge line. Money is Decimal; ``None`` where it cannot be known."""

    row: int
    line_id: str
    payer_key: str
    code: str
    units: int | None
    charge: Decimal | None
    fee_allowed: Decimal | None
    mppr_reduction: Decimal
    assistant_reduction: Decimal
    expected_allowed: Decimal | None
    deductible: Decimal
    expected_payer_payment: Decimal | None
    expected_patient_resp: Decimal | None
    sequestration: Decimal
    kx_running_total: Decimal | None
    kx_status: str
    basis: str
    flagged: bool
    #: At or past the year's KX threshold without KX (the ``kx.missing`` rule reads this, not the text).
    kx_missing: bool = False
    #: Past the targeted-review amount ($3,000).
    kx_review: bool = False
    #: The visit's copay taken from this line (commercial and Medicare Advantage; part of the patient's share).
    copay: Decimal = ZERO


@dataclass(frozen=True)
class PayerTotals:
    payer_key: str
    lines: int = 0
    units: int = 0
    charge: Decimal = ZERO
    fee_allowed: Decimal = ZERO
    mppr_reduction: Decimal = ZERO
    assistant_reduction: Decimal = ZERO
    expected_allowed: Decimal = ZERO
    expected_payer_payment: Decimal = ZERO
    expected_patient_resp: Decimal = ZERO
    sequestration: Decimal = ZERO
    copay: Decimal = ZERO


@dataclass(frozen=True)
class PricingResult:
    lines: tuple[LinePrice, ...]
    totals: tuple[PayerTotals, ...]
    findings: tuple[Finding, ...] = field(default=())


@dataclass(slots=True)
class _Work:
    """Mutable per-line working state while pricing (turned into a LinePrice at the end)."""

    line: ChargeLine
    payer_key: str
    medicare: bool
    units: int | None
    charge: Decimal | None
    basis: str
    full: Decimal | None = None        # per-unit full amount
    reduced: Decimal | None = None     # per-unit MPPR-reduced amount
    pe_rank: Decimal = ZERO            # PE payment per unit, to pick MPPR's full-price unit
    rate_key: tuple = ()               # an MPPR line's key in the rates of _price_book
    full_units: int = 0                # units paid in full (after MPPR); the rest are reduced
    fee: Decimal | None = None
    mppr: Decimal = ZERO
    assistant: Decimal = ZERO
    allowed: Decimal | None = None
    deductible: Decimal = ZERO
    payment: Decimal | None = None
    patient: Decimal | None = None
    sequestration: Decimal = ZERO
    kx_total: Decimal | None = None
    kx_status: str = ""
    kx_missing: bool = False
    kx_review: bool = False
    copay: Decimal = ZERO
    unpaid: PfsStatus | None = None    # a Medicare PFS status that pays nothing (B, I, N, ...)


def _price_finding(rule: str, severity: Severity, line: ChargeLine, column: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, fix=fix,
                   location=Location(sheet=CHARGES, row=line.row, column=column))


def kx_bucket(line: ChargeLine, book: PracticeBook) -> str:
    """OT has its own KX threshold; PT and SLP share one (facts §4). GO → OT, GP/GN → PT/SLP; without
    a discipline modifier, the rendering provider's discipline, else OT."""
    mods = line.modifiers
    if "GP" in mods or "GN" in mods:
        return _KX_PT_SLP
    if "GO" in mods:
        return _KX_OT
    provider = book.providers_by_npi.get(line.rendering_npi)
    if provider is not None and provider.discipline in (Discipline.PT, Discipline.SLP):
        return _KX_PT_SLP
    return _KX_OT


class _Rate(NamedTuple):
    """How one payer prices one code with given modifiers on a DOS at a place of service."""

    full: Decimal | None
    reduced: Decimal | None
    pe_rank: Decimal
    basis: str
    mppr: bool                  # the line joins its visit's MPPR group
    problem: tuple[str, str, str] | None = None   # (rule, message, fix) when it cannot be priced
    unpaid: PfsStatus | None = None               # priced at $0: the PFS status pays nothing


def price_book(book: PracticeBook, *, units: dict[int, int] | None = None,
               flagged_rows: frozenset[int] | set[int] = frozenset()) -> PricingResult:
    """Price every charge line of ``book``.

    ``units`` supplies units for lines whose Units cell is blank (the scrubber's computed units);
    ``flagged_rows`` marks lines the scrubber rejects (they are priced anyway).
    """
    with gc_paused():  # many small objects, no cycles
        return _price_book(book, units or {}, flagged_rows)


def _price_book(book: PracticeBook, computed: dict[int, int], flagged_rows) -> PricingResult:
    cat = catalogue()
    schedule = FeeSchedule(book.fee_schedule)
    practice = book.practice
    pfs = MedicarePFS(book.medicare_rvus, book.medicare_gpcis, practice.medicare_locality,
                      practice.qualifying_apm.strip().upper() in ("Y", "YES", "TRUE", "1"))
    findings: list[Finding] = list(schedule.problems())
    charge_master = charge_master_by_code(book.charge_master)
    payer_of: dict[str, Payer | None] = {}
    copay_of: dict[str, Decimal | None] = {}
    first_year: dict[str, int] = {}  # the year of each Medicare patient's first DOS (DeductibleYear's default)
    copay_works: list[_Work] = []
    rates: dict[tuple, _Rate] = {}
    amounts: dict[tuple, tuple[Decimal, Decimal, Decimal, Decimal]] = {}

    def rate(payer: Payer, line: ChargeLine, dos: date) -> _Rate:
        """The rate of ``line`` (its DOS passed narrowed: only dated lines are priced)."""
        mods = tuple(m for m in (line.mod1, line.mod2, line.mod3, line.mod4) if m)
        info = cat.get(line.code)
        always = info.always_therapy if info else False
        if payer.payer_type is PayerType.MEDICARE:
            unpaid = medicare_status_rate(pfs, line.code, dos)
            if unpaid is not None:
                return unpaid
            up = pfs.unit_price(line.code, dos, line.pos)
            if isinstance(up, str):
                return _Rate(None, None, ZERO, "not priced: " + up, False, (
                    "price.no-medicare-rate", f"Cannot price {line.code} for Medicare: {up}.",
                    "Fill the MedicareRVU / MedicareGPCI sheets (otbill fee-schedule import-cms) and the Practice "
                    "MedicareLocality."))
            rvu = pfs.rvu(line.code, dos.year)
            always = (rvu.always_therapy or always) if rvu else always
            return _Rate(up.full, up.reduced, up.pe_payment, up.basis, always)
        entry = schedule.lookup(payer.payer_key, line.code, mods, dos)

        if entry is not None and not in_range(entry.allowed_per_unit):
            return _Rate(None, None, ZERO, "not priced: the FeeSchedule rate is out of range", False, (
                "price.rate-out-of-range", f"The {payer.payer_key} FeeSchedule rate for {line.code} (row {entry.row}) "
                f"is over {MAX_AMOUNT} per unit.", "Correct AllowedPerUnit in the FeeSchedule sheet."))
        if entry is None:
            when = dos.isoformat()
            return _Rate(None, None, ZERO, f"not priced: no {payer.payer_key} FeeSchedule rate for {line.code} on {when}",
                         False, ("price.no-contract-rate", f"No {payer.payer_key} rate for {line.code} on {when} in the "
                                 "FeeSchedule sheet.", "Add the contracted rate to FeeSchedule (or import the payer's "
                                 "schedule)."))
        where = f"row {entry.row}" if entry.row else "row"
        basis = (f"FeeSchedule {where}: {payer.payer_key} {line.code}"
                 f"{' ' + entry.modifier if entry.modifier else ''} {entry.allowed_per_unit}/unit")
        if payer.apply_mppr and always:
            up = pfs.unit_price(line.code, dos, line.pos)
            if isinstance(up, UnitPrice) and up.full:
                share = up.pe_payment / up.full
                factor = medicare_rate("mppr_pe_paid", dos) or Decimal("1")
                reduced = cents(entry.allowed_per_unit * (1 - share * (1 - factor)))
                return _Rate(entry.allowed_per_unit, reduced, entry.allowed_per_unit * share,
                             basis + f"; MPPR on the PE share {share:.4f} from the Medicare RVUs", True)
        return _Rate(entry.allowed_per_unit, None, ZERO, basis, False)

    works: list[_Work] = []
    append = works.append
    mppr_works: list[_Work] = []
    # MPPR (facts §5.2): per visit (payer, patient, DOS) the line with the highest PE payment per unit
    # (then the higher full amount, then the earlier row) is paid one unit in full.
    top_of: dict[tuple, _Work] = {}
    for line in book.charges:
        pid = line.patient_id
        if pid in payer_of:
            payer = payer_of[pid]
        else:
            payer = payer_of[pid] = book.payer_for(pid)
            copay_of[pid] = _copay(book.patients_by_id.get(pid), payer, findings)
        n = line.units
        if n is None:
            n = computed.get(line.row)
        units_ok = n is None or -MAX_UNITS <= n <= MAX_UNITS
        charge = line.charge
        dos = line.dos
        if charge is None and n is not None and units_ok and dos is not None:
            charge = charge_master_charge(charge_master, line.code, dos, n)
        if payer is None:
            append(_Work(line, "", False, n, charge, "not priced: no payer for the patient"))
            continue
        medicare = payer.payer_type is PayerType.MEDICARE
        w = _Work(line, payer.payer_key, medicare, n, charge, "")
        append(w)
        if medicare and dos is not None:
            first = first_year.get(pid)
            if first is None or dos.year < first:
                first_year[pid] = dos.year
        if dos is None or not line.code:
            w.basis = "not priced: " + ("no date of service" if dos is None else "no code")
            continue
        if n is None:
            w.basis = "not priced: no units (enter Units or Minutes)"
            continue
        if not units_ok:
            w.basis = f"not priced: more than {MAX_UNITS} units"
            findings.append(_price_finding("price.units-out-of-range", Severity.WARNING, line, "Units",
                                           f"Cannot price more than {MAX_UNITS} units on one line.",
                                           "Correct Units (or Minutes) on the line."))
            continue
        if payer.payer_type is PayerType.SELF_PAY:
            if charge is None:
                w.basis = "not priced: self-pay line without a charge or ChargeMaster rate"
                continue
            w.fee = w.allowed = charge
            w.payment, w.patient = ZERO, charge
            w.basis = "self-pay: the practice's charge"
            continue
        key = (payer.payer_key, line.code, line.mod1, line.mod2, line.mod3, line.mod4, dos, line.pos)
        r = rates.get(key)
        if r is None:
            r = rates[key] = rate(payer, line, dos)
        w.basis = r.basis
        if r.problem is not None:
            findings.append(_price_finding(r.problem[0], Severity.WARNING, line, "Code", r.problem[1], r.problem[2]))
            continue
        if r.unpaid is not None:
            findings.append(_status_finding(line, r.unpaid))
            w.unpaid = r.unpaid
            w.fee = w.allowed = w.payment = ZERO
            w.patient = r.unpaid.patient_share
            w.kx_status = f"not counted: PFS status {r.unpaid.code}"
            continue
        if copay_of[pid] is not None:
            copay_works.append(w)
        w.full, w.reduced, w.pe_rank = r.full, r.reduced, r.pe_rank
        if r.mppr and n > 0:  # the units paid in full are known once the visit is complete
            w.rate_key = key
            mppr_works.append(w)
            visit = (w.payer_key, pid, dos)
            top = top_of.get(visit)
            if top is None or (w.pe_rank, r.full, -line.row) > (top.pe_rank, top.full, -top.line.row):
                top_of[visit] = w  # (strictly greater: of equals, the first stays, as max() would keep it)
            continue
        # The amounts depend on the rate and the units only: worked out once per (rate, units). (This
        # cache and _medicare_payments' together: price_book 0.77 s → 0.69 s CPU on 100,920 lines.)
        done = amounts.get((key, n))
        if done is None:
            done = amounts[(key, n)] = _amounts(r, n, n, medicare, line)
        w.full_units = n
        w.fee, w.mppr, w.assistant, w.allowed = done
        if not medicare:
            w.payment = w.allowed

    for top in top_of.values():
        top.full_units = 1  # (the others of the visit: 0, the default)
    for w in mppr_works:
        done = amounts.get((w.rate_key, w.units, w.full_units))
        if done is None:
            done = amounts[(w.rate_key, w.units, w.full_units)] = _amounts(rates[w.rate_key], w.units or 0,
                                                                           w.full_units, w.medicare, w.line)
        w.fee, w.mppr, w.assistant, w.allowed = done
        if not w.medicare:
            w.payment = w.allowed
    _copays(copay_works, copay_of)
    medicare_works = sorted((w for w in works if w.medicare and w.allowed is not None and w.unpaid is None),
                            key=lambda w: (w.line.patient_id, w.line.dos, w.line.row))
    _medicare_payments(medicare_works, book, first_year, findings)
    _kx(medicare_works, book)
    priced = tuple(LinePrice(
        w.line.row, w.line.line_id, w.payer_key, w.line.code, w.units, w.charge, w.fee, w.mppr, w.assistant, w.allowed,
        w.deductible, w.payment, w.patient, w.sequestration, w.kx_total, w.kx_status, w.basis,
        w.line.row in flagged_rows, w.kx_missing, w.kx_review, w.copay) for w in works)
    return PricingResult(priced, _totals(priced), tuple(findings))


def medicare_status_rate(pfs: MedicarePFS, code: str, dos: date) -> _Rate | None:
    """The $0 rate of a code whose MedicareRVU status pays nothing (RVU file documentation, Attachment
    A: "Only RVUs associated with status codes of A, R, or T are used for Medicare payment"), a problem
    for a status letter CMS does not define, or None (priced from the RVUs)."""
    rvu = pfs.rvu(code, dos.year)
    if rvu is None or rvu.status in ("", "A"):
        return None
    status = pfs_status(rvu.status)
    if status is None:
        shown = rvu.status.strip()[:3]
        return _Rate(None, None, ZERO, f"not priced: MedicareRVU status {shown!r} is not a PFS status code", False, (
            "price.pfs-status", f"The {dos.year} MedicareRVU row of {code} has status {shown!r}, which is not a PFS "
            "status code.", "Use the STATUS CODE of CMS's PPRRVU file (A for an active code), or leave it blank."))
    if status.paid:
        return None
    return _Rate(ZERO, None, ZERO, f"PFS {dos.year} {code}: status {status.code} ({status.meaning}): Medicare pays $0",
                 False, unpaid=status)


def _status_finding(line: ChargeLine, status: PfsStatus) -> Finding:
    return _price_finding("price.pfs-status", Severity.WARNING, line, "Code",
                          f"Medicare's fee schedule gives {line.code} status {status.code} ({status.meaning}): "
                          "priced at $0 and left out of the KX total.",
                          _STATUS_FIX.get(status.code, "Check the code: Medicare makes no fee-schedule payment for it."))


def _copay(patient: Patient | None, payer: Payer | None, findings: list[Finding]) -> Decimal | None:
    """The per-visit copay to take from ``patient``'s lines (None: none), and an info finding when a
    Copay is given for a payer type without one."""
    if patient is None or patient.copay is None or payer is None:
        return None
    if payer.payer_type in COPAY_PAYERS:
        return cents(patient.copay) if patient.copay > 0 else ZERO
    if patient.copay:
        why = ("Medicare Part B has no per-visit copay for therapy: the patient owes the deductible and 20% "
               "coinsurance" if payer.payer_type is PayerType.MEDICARE else
               f"copays are taken only for commercial and Medicare Advantage plans, not {payer.payer_type.value}")
        findings.append(Finding(rule="price.copay-not-applied", severity=Severity.INFO,
                                location=Location(sheet=PATIENTS, row=patient.row, column="Copay"),
                                message=f"The Copay is not applied to this patient's {payer.payer_key} lines: {why}.",
                                fix="Leave Copay blank for this patient, or check the patient's PayerKey."))
    return None


def _copays(works: list[_Work], copay_of: dict[str, Decimal | None]) -> None:
    """Take each visit's copay (patient + DOS + payer) from its priced lines in row order, at most a
    line's allowed amount each (see the module docstring)."""
    left: dict[tuple, Decimal] = {}
    for w in works:
        allowed = w.allowed
        if allowed is None:
            continue
        pid = w.line.patient_id
        visit = (pid, w.line.dos, w.payer_key)
        rest = left.get(visit)
        if rest is None:
            rest = copay_of[pid] or ZERO
        take = min(rest, allowed) if allowed > 0 and rest > 0 else ZERO
        left[visit] = rest - take
        w.copay = take
        w.patient = take
        w.payment = allowed - take


def _amounts(r: _Rate, units: int, full_units: int, medicare: bool, line: ChargeLine
             ) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Fee, MPPR reduction, assistant (CO/CQ) reduction and allowed amount of ``units`` at rate ``r``,
    ``full_units`` of them paid in full (the rest at MPPR's reduced amount); the line gives the
    modifiers and the DOS of the assistant reduction (Medicare only)."""
    full = r.full
    if full is None:  # never: only rates without a problem come here
        raise ValueError("no rate")
    fee = cents(full * units)
    mppr = assistant = ZERO
    reduced_units = units - full_units
    if reduced_units and r.reduced is not None:
        mppr = cents((full - r.reduced) * reduced_units)
    # (dos is never None here: only lines with a DOS are priced)
    if medicare and ("CO" in (line.mod1, line.mod2, line.mod3, line.mod4) or
                     "CQ" in (line.mod1, line.mod2, line.mod3, line.mod4)) and (dos := line.dos) is not None:
        paid = medicare_rate("assistant_paid", dos)
        if paid is not None:
            assistant = cents((fee - mppr) * (1 - paid))
    return fee, mppr, assistant, fee - mppr - assistant


def deductible_at_start(patient: Patient | None, year: int, first_year: int) -> tuple[Decimal, str]:
    """The Part B deductible ``patient`` has left at the start of their first line in ``year`` and the
    reason when it is not the sheet's own figure: DeductibleRemaining in its DeductibleYear
    (default ``first_year``), the year's full deductible in a later year, none in an earlier one."""
    if patient is None:
        return ZERO, ""
    given = patient.deductible_year or first_year
    if year == given:
        return patient.deductible_remaining, ""
    if year < given:
        return ZERO, "earlier"
    full = part_b_deductible(year)
    return (ZERO, "missing") if full is None else (full, "full")


def _medicare_payments(medicare: list[_Work], book: PracticeBook, first_year: dict[str, int],
                       findings: list[Finding]) -> None:
    """Deductible, 80% payment and sequestration, over Medicare lines sorted by patient, DOS, row."""
    remaining: dict[tuple[str, int], Decimal] = {}
    full_year: dict[tuple[str, int], str] = {}   # (patient, year) -> basis note of a year's full deductible
    missing_years: set[int] = set()
    rates: dict[date, tuple[Decimal, Decimal, str]] = {}
    # (allowed, deductible, DOS) -> (patient's share, sequestration, payment): a handful of amounts
    # repeat over a whole book (see _price_book's amounts for the measured gain).
    split: dict[tuple, tuple[Decimal, Decimal, Decimal]] = {}
    for w in medicare:
        dos, allowed = w.line.dos, w.allowed
        if dos is None or allowed is None:  # never: only priced lines (a DOS and an allowed amount) come here
            continue
        key = (w.line.patient_id, dos.year)
        if key not in remaining:
            patient = book.patients_by_id.get(w.line.patient_id)
            remaining[key], why = deductible_at_start(patient, dos.year, first_year[w.line.patient_id])
            if why == "full":
                full_year[key] = f"; {dos.year} starts with the full Part B deductible {remaining[key]}"
            elif why == "missing" and dos.year not in missing_years:
                missing_years.add(dos.year)
                findings.append(_price_finding(
                    "price.no-deductible-amount", Severity.WARNING, w.line, "DOS",
                    f"otbill has no {dos.year} Part B deductible amount, so no deductible is assumed for {dos.year} "
                    "lines after a patient's DeductibleYear: their expected Medicare payments may be too high.",
                    f"Update otbill (its table of CMS's yearly deductibles), or give the patient's DeductibleRemaining "
                    f"for {dos.year} with DeductibleYear {dos.year}."))
            elif why == "earlier" and patient is not None:
                findings.append(Finding(
                    rule="price.deductible-year", severity=Severity.INFO,
                    location=Location(sheet=PATIENTS, row=patient.row, column="DeductibleYear"),
                    message=f"This patient has Medicare lines in {dos.year}, before the DeductibleYear "
                            f"{patient.deductible_year}: the deductible left in {dos.year} is not known, none is assumed.",
                    fix="Check DeductibleYear; the deductible of an earlier year can only be entered on its own row "
                        "or book."))
        left = remaining[key]
        if left > 0:  # a negative DeductibleRemaining means none is left
            w.deductible = min(left, allowed)
            remaining[key] = left - w.deductible
        r = rates.get(dos)
        if r is None:
            coinsurance = medicare_rate("coinsurance", dos) or Decimal("0.20")
            seq = sequestration_rate(dos)
            r = rates[dos] = (1 - coinsurance, seq,
                              f"; Medicare pays {1 - coinsurance:.0%} after the deductible, less {seq:.0%} sequestration")
        # (not for a zero amount: 0.00 and -0.00 are equal keys but give differently signed zeros)
        shares = split.get((allowed, w.deductible, dos)) if allowed else None
        if shares is None:
            before_seq = cents((allowed - w.deductible) * r[0])
            sequestration = cents(before_seq * r[1]) if r[1] else ZERO
            shares = split[(allowed, w.deductible, dos)] = (allowed - before_seq, sequestration,
                                                            before_seq - sequestration)
        w.patient, w.sequestration, w.payment = shares
        w.basis += r[2]
        if w.deductible and key in full_year:
            w.basis += full_year[key]


def _kx(medicare: list[_Work], book: PracticeBook) -> None:
    """Running allowed amount per Medicare beneficiary per calendar year and bucket, in DOS order,
    from the patient's ``PriorTherapySpend`` (applied to the latest year the patient is billed in).
    ``medicare``: the Medicare lines sorted by patient, DOS, row."""
    thresholds = kx_thresholds()
    latest_year: dict[str, int] = {}
    for w in medicare:
        dos = w.line.dos
        if dos is None:  # never: only priced lines (with a DOS) come here
            continue
        latest_year[w.line.patient_id] = max(latest_year.get(w.line.patient_id, 0), dos.year)
    running: dict[tuple, Decimal] = {}
    for w in medicare:
        line = w.line
        dos, allowed = line.dos, w.allowed
        if dos is None or allowed is None:  # never: only priced lines (a DOS and an allowed amount) come here
            continue
        year = dos.year
        key = (line.patient_id, year, kx_bucket(line, book))
        if key not in running:
            patient = book.patients_by_id.get(line.patient_id)
            prior = patient.prior_therapy_spend if patient and year == latest_year[line.patient_id] else ZERO
            running[key] = prior
        running[key] += allowed
        w.kx_total = running[key]
        limits = thresholds.get(year)
        if limits is None:
            w.kx_status = f"no {year} KX threshold"
            continue
        threshold, review = limits
        if w.kx_total >= threshold:  # "at or past" the threshold needs KX
            # KX, or GA (ABN given) / GZ (no ABN) for a service that is not medically necessary (facts §4)
            choice = next((m for m in ("KX", "GA", "GZ") if m in line.modifiers), "")
            w.kx_missing = not choice
            w.kx_status = "at or over threshold: " + (f"{choice} present" if choice else "KX missing")
        else:
            w.kx_status = "below threshold"
        if w.kx_total > review:
            w.kx_review = True
            w.kx_status += "; over $3,000 (targeted review)" if review == 3000 else f"; over ${review} (targeted review)"


def _totals(lines: tuple[LinePrice, ...]) -> tuple[PayerTotals, ...]:
    acc: dict[str, list] = {}
    for p in lines:
        t = acc.get(p.payer_key)
        if t is None:
            t = acc[p.payer_key] = [0, 0, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO]
        t[0] += 1
        if p.units:
            t[1] += p.units
        if p.charge is not None:
            t[2] += p.charge
        if p.fee_allowed is not None:
            t[3] += p.fee_allowed
            t[4] += p.mppr_reduction
            t[5] += p.assistant_reduction
            t[6] += p.expected_allowed
        if p.expected_payer_payment is not None:
            t[7] += p.expected_payer_payment
        if p.expected_patient_resp is not None:
            t[8] += p.expected_patient_resp
        t[9] += p.sequestration
        t[10] += p.copay
    return tuple(PayerTotals(key or "(no payer)", *vals) for key, vals in sorted(acc.items()))
