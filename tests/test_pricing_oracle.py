"""Pricing's fast path against a straightforward reference (issue #10 §2).

``price_book`` works each rate, charge, amount and Medicare share out once per distinct input (a
whole book repeats a handful of them) and keeps them in dicts. ``reference_pricing`` below is the
plain version — every rate, ChargeMaster charge and amount computed again for each line — and a
hypothesis test generates books (Medicare, Medicare Advantage, Medicaid, contracted with and without
MPPR, self-pay, patients without a payer; codes with and without RVUs or contract rates, PFS statuses
B/I/N and an undefined one, facility-NA RVUs at facility and telehealth places of service; CO/CQ,
blank and computed units, negative and out-of-range units, ChargeMaster charges, deductibles with and
without a DeductibleYear, copays, prior spend near the KX threshold, dates across years) and asserts
identical pricing: lines, totals and findings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.codes import catalogue
from otbill_xl.domain.fee_schedule import FeeSchedule
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.medicare_pfs import (
    MedicarePFS,
    PfsStatus,
    UnitPrice,
    medicare_rate,
    part_b_deductible,
    sequestration_rate,
)
from otbill_xl.domain.models import (
    ChargeLine,
    ChargeMasterEntry,
    FeeScheduleEntry,
    MedicareRVU,
    Patient,
    Payer,
    PayerType,
    Practice,
    Provider,
)
from otbill_xl.domain.money import MAX_AMOUNT, MAX_UNITS, ZERO, cents, in_range
from otbill_xl.domain.pricing import (
    COPAY_PAYERS,
    LinePrice,
    PayerTotals,
    PricingResult,
    _kx,
    _Rate,
    _status_finding,
    medicare_status_rate,
    price_book,
)
from tests.test_pricing import LOC, gpcis, rvus

D = Decimal


# -- the reference --------------------------------------------------------------------------------

@dataclass(slots=True)
class _RefWork:
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
    mppr_group: tuple | None = None
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
    unpaid: PfsStatus | None = None


def _price_finding(rule: str, severity: Severity, line: ChargeLine, column: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, fix=fix,
                   location=Location(sheet="Charges", row=line.row, column=column))


def reference_pricing(book: PracticeBook, computed: dict[int, int], flagged_rows=frozenset()) -> PricingResult:
    """Every line priced the plain way: each rate and amount worked out for each line."""
    cat = catalogue()
    schedule = FeeSchedule(book.fee_schedule)
    practice = book.practice
    pfs = MedicarePFS(book.medicare_rvus, book.medicare_gpcis, practice.medicare_locality,
                      practice.qualifying_apm.strip().upper() in ("Y", "YES", "TRUE", "1"))
    findings: list[Finding] = list(schedule.problems())
    charge_master: dict[str, list] = defaultdict(list)
    for e in sorted(book.charge_master, key=lambda e: e.effective_from or date.min):
        charge_master[e.code].append(e)

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

    works: list[_RefWork] = []
    append = works.append
    seen_patients: set[str] = set()
    for line in book.charges:
        pid = line.patient_id
        payer = book.payer_for(pid)
        patient = book.patients_by_id.get(pid)
        if pid not in seen_patients:  # a Copay given for a payer type without copays: said once per patient
            seen_patients.add(pid)
            if patient and payer and patient.copay and payer.payer_type not in COPAY_PAYERS:
                why = ("Medicare Part B has no per-visit copay for therapy: the patient owes the deductible and 20% "
                       "coinsurance" if payer.payer_type is PayerType.MEDICARE else
                       f"copays are taken only for commercial and Medicare Advantage plans, not {payer.payer_type.value}")
                findings.append(Finding(rule="price.copay-not-applied", severity=Severity.INFO,
                                        location=Location(sheet="Patients", row=patient.row, column="Copay"),
                                        message=f"The Copay is not applied to this patient's {payer.payer_key} lines: "
                                                f"{why}.",
                                        fix="Leave Copay blank for this patient, or check the patient's PayerKey."))
        n = line.units if line.units is not None else computed.get(line.row)
        units_ok = n is None or -MAX_UNITS <= n <= MAX_UNITS
        charge = line.charge
        if charge is None and n is not None and units_ok and line.dos is not None:
            entry = next((e for e in reversed(charge_master.get(line.code, ())) if
                          e.effective_from is None or e.effective_from <= line.dos), None)
            charge = cents(entry.charge_per_unit * n) if entry and in_range(entry.charge_per_unit) else None
        medicare = payer is not None and payer.payer_type is PayerType.MEDICARE
        w = _RefWork(line, payer.payer_key if payer else "", medicare, n, charge, "")
        append(w)
        if payer is None or line.dos is None or not line.code:
            w.basis = "not priced: " + ("no payer for the patient" if payer is None else
                                        "no date of service" if line.dos is None else "no code")
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
        r = rate(payer, line, line.dos)
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
        w.full, w.reduced, w.pe_rank = r.full, r.reduced, r.pe_rank
        w.full_units = n
        if r.mppr and n > 0:
            w.mppr_group = (w.payer_key, pid, line.dos)

    _reference_apply_mppr(works)
    for w in works:
        if w.full is None or w.units is None:
            continue
        line = w.line
        reduced_units = w.units - w.full_units
        w.fee = cents(w.full * w.units)
        if reduced_units and w.reduced is not None:
            w.mppr = cents((w.full - w.reduced) * reduced_units)
        # (dos is never None here: only lines with a DOS get a full amount in the first loop)
        if w.medicare and ("CO" in (line.mod1, line.mod2, line.mod3, line.mod4) or
                           "CQ" in (line.mod1, line.mod2, line.mod3, line.mod4)) and (dos := line.dos) is not None:
            paid = medicare_rate("assistant_paid", dos)
            if paid is not None:
                w.assistant = cents((w.fee - w.mppr) * (1 - paid))
        w.allowed = w.fee - w.mppr - w.assistant
        if not w.medicare:
            w.payment = w.allowed
    _reference_copays(works, book)
    medicare_works = sorted((w for w in works if w.medicare and w.allowed is not None and w.unpaid is None),
                            key=lambda w: (w.line.patient_id, w.line.dos, w.line.row))
    _reference_medicare_payments(medicare_works, book, findings)
    _kx(medicare_works, book)

    priced = tuple(LinePrice(
        w.line.row, w.line.line_id, w.payer_key, w.line.code, w.units, w.charge, w.fee, w.mppr, w.assistant, w.allowed,
        w.deductible, w.payment, w.patient, w.sequestration, w.kx_total, w.kx_status, w.basis,
        w.line.row in flagged_rows, w.kx_missing, w.kx_review, w.copay) for w in works)
    return PricingResult(priced, _reference_totals(priced), tuple(findings))


def _reference_apply_mppr(works: list[_RefWork]) -> None:
    groups: dict[tuple, list[_RefWork]] = defaultdict(list)
    for w in works:
        if w.mppr_group is not None:
            groups[w.mppr_group].append(w)
    for members in groups.values():
        top = max(members, key=lambda w: (w.pe_rank, w.full, -w.line.row))
        for w in members:
            w.full_units = 1 if w is top else 0


def _reference_copays(works: list[_RefWork], book: PracticeBook) -> None:
    """Each commercial / Medicare Advantage visit's copay, from its priced lines in row order: a line
    takes what the lines before it in the visit left, at most its allowed amount."""
    for i, w in enumerate(works):
        payer = book.payer_for(w.line.patient_id)
        patient = book.patients_by_id.get(w.line.patient_id)
        if (payer is None or payer.payer_type not in COPAY_PAYERS or patient is None or patient.copay is None
                or w.allowed is None or w.unpaid is not None):
            continue
        copay = cents(patient.copay) if patient.copay > 0 else ZERO
        used = sum((v.copay for v in works[:i] if v.line.patient_id == w.line.patient_id and v.line.dos == w.line.dos
                    and v.payer_key == w.payer_key), ZERO)
        rest = copay - used
        w.copay = min(rest, w.allowed) if w.allowed > 0 and rest > 0 else ZERO
        w.patient = w.copay
        w.payment = w.allowed - w.copay


def _reference_medicare_payments(medicare: list[_RefWork], book: PracticeBook, findings: list[Finding]) -> None:
    """Deductible, 80% payment and sequestration, over Medicare lines sorted by patient, DOS, row."""
    remaining: dict[tuple[str, int], Decimal] = {}
    full_note: dict[tuple[str, int], str] = {}
    missing_said: set[int] = set()
    for w in medicare:
        dos, allowed = w.line.dos, w.allowed
        if dos is None or allowed is None:  # never: only priced lines (a DOS and an allowed amount) come here
            continue
        key = (w.line.patient_id, dos.year)
        if key not in remaining:
            patient = book.patients_by_id.get(w.line.patient_id)
            first = min(c.dos.year for c in book.charges if c.patient_id == w.line.patient_id and c.dos is not None)
            given = (patient.deductible_year or first) if patient else dos.year
            if patient is None:
                remaining[key] = ZERO
            elif dos.year == given:
                remaining[key] = patient.deductible_remaining
            elif dos.year < given:
                remaining[key] = ZERO
                findings.append(Finding(
                    rule="price.deductible-year", severity=Severity.INFO,
                    location=Location(sheet="Patients", row=patient.row, column="DeductibleYear"),
                    message=f"This patient has Medicare lines in {dos.year}, before the DeductibleYear "
                            f"{patient.deductible_year}: the deductible left in {dos.year} is not known, none is assumed.",
                    fix="Check DeductibleYear; the deductible of an earlier year can only be entered on its own row "
                        "or book."))
            elif part_b_deductible(dos.year) is None:
                remaining[key] = ZERO
                if dos.year not in missing_said:
                    missing_said.add(dos.year)
                    findings.append(_price_finding(
                        "price.no-deductible-amount", Severity.WARNING, w.line, "DOS",
                        f"otbill has no {dos.year} Part B deductible amount, so no deductible is assumed for {dos.year} "
                        "lines after a patient's DeductibleYear: their expected Medicare payments may be too high.",
                        f"Update otbill (its table of CMS's yearly deductibles), or give the patient's "
                        f"DeductibleRemaining for {dos.year} with DeductibleYear {dos.year}."))
            else:
                remaining[key] = part_b_deductible(dos.year)
                full_note[key] = f"; {dos.year} starts with the full Part B deductible {remaining[key]}"
        left = remaining[key]
        if left > 0:  # a negative DeductibleRemaining means none is left
            w.deductible = min(left, allowed)
            remaining[key] = left - w.deductible
        coinsurance = medicare_rate("coinsurance", dos) or Decimal("0.20")
        seq = sequestration_rate(dos)
        r = (1 - coinsurance, seq,
             f"; Medicare pays {1 - coinsurance:.0%} after the deductible, less {seq:.0%} sequestration")
        before_seq = cents((allowed - w.deductible) * r[0])
        w.patient = allowed - before_seq
        w.sequestration = cents(before_seq * r[1]) if r[1] else ZERO
        w.payment = before_seq - w.sequestration
        w.basis += r[2]
        if w.deductible and key in full_note:
            w.basis += full_note[key]


def _reference_totals(lines: tuple[LinePrice, ...]) -> tuple[PayerTotals, ...]:
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


# -- generated books ------------------------------------------------------------------------------

OT, OTA, PT = "1234567893", "1555555550", "1245319599"
PAYERS = (Payer(payer_key="MCR", payer_type=PayerType.MEDICARE),
          Payer(payer_key="ACME", payer_type=PayerType.COMMERCIAL, apply_mppr=True),
          Payer(payer_key="BCBS", payer_type=PayerType.COMMERCIAL),
          Payer(payer_key="MAPLAN", payer_type=PayerType.MEDICARE_ADVANTAGE),
          Payer(payer_key="MCD", payer_type=PayerType.MEDICAID),
          Payer(payer_key="CASH", payer_type=PayerType.SELF_PAY))
FEES = (FeeScheduleEntry(payer_key="ACME", code="97110", allowed_per_unit=D("50.00"), row=2),
        FeeScheduleEntry(payer_key="ACME", code="97530", modifier="GO", allowed_per_unit=D("61.37"),
                         effective_from=date(2026, 1, 1), row=3),
        FeeScheduleEntry(payer_key="ACME", code="97165", allowed_per_unit=D("-12.50"), row=4),
        FeeScheduleEntry(payer_key="BCBS", code="97110", allowed_per_unit=D("45.5"), row=5),
        FeeScheduleEntry(payer_key="BCBS", code="97535", allowed_per_unit=D("99999999"), row=6),
        FeeScheduleEntry(payer_key="MAPLAN", code="97110", allowed_per_unit=D("31.17"), row=7),
        FeeScheduleEntry(payer_key="MAPLAN", code="97530", allowed_per_unit=D("12.50"), row=8),
        FeeScheduleEntry(payer_key="MAPLAN", code="97010", allowed_per_unit=D("5.00"), row=9),
        FeeScheduleEntry(payer_key="MCD", code="97110", allowed_per_unit=D("20.00"), row=10))
CODES = ["97110", "97530", "97165", "97140", "97535", "97010", "97014", "97012"]


def status_rvus(year: int) -> tuple[MedicareRVU, ...]:
    """RVU rows of codes Medicare does not pay (PFS status B, I, N) and one with an undefined status; 97010's
    PE is the highest of all, so a status-B line that joined MPPR would take the full-price unit."""
    return (MedicareRVU(year=year, code="97010", work_rvu=D("0.06"), pe_rvu_nonfacility=D("5.00"), mp_rvu=D("0.01"),
                        status="B", always_therapy=True),
            MedicareRVU(year=year, code="97014", work_rvu=D("0.18"), pe_rvu_nonfacility=D("0.20"), mp_rvu=D("0.01"),
                        status="I"),
            MedicareRVU(year=year, code="97535", work_rvu=D("0.45"), pe_rvu_nonfacility=D("0.53"), mp_rvu=D("0.01"),
                        status="N"),
            MedicareRVU(year=year, code="97012", work_rvu=D("0.25"), pe_rvu_nonfacility=D("0.15"), mp_rvu=D("0.01"),
                        status="Q"))
MODS = [("GO",), ("GO", "CO"), ("GP",), ("GO", "KX"), (), ("CQ", "GN"), ("GO", "59")]
CHARGE_MASTER = (ChargeMasterEntry(code="97110", charge_per_unit=D("32.505")),
                 ChargeMasterEntry(code="97530", charge_per_unit=D("40"), effective_from=date(2026, 1, 5)),
                 ChargeMasterEntry(code="97535", charge_per_unit=D("1E+9")))


@st.composite
def books(draw):
    patients = tuple(
        Patient(patient_id=f"P{i}", payer_key=draw(st.sampled_from(["MCR", "MCR", "ACME", "BCBS", "MAPLAN", "MCD",
                                                                      "CASH", "NONE"])),
                prior_therapy_spend=draw(st.sampled_from([D("0"), D("2000"), D("2400"), D("2950.5")])),
                deductible_remaining=draw(st.sampled_from([D("0"), D("50"), D("257.00"), D("-1")])),
                deductible_year=draw(st.sampled_from([None, None, 2025, 2026])),
                copay=draw(st.sampled_from([None, None, D("0"), D("15.00"), D("40.005"), D("-5")])))
        for i in range(draw(st.integers(1, 5))))
    start = date(2025, 12, 22)
    lines = []
    for k in range(draw(st.integers(1, 120))):
        mods = (*draw(st.sampled_from(MODS)), "", "", "", "")[:4]
        lines.append(ChargeLine(
            2 + k, f"L{k}", draw(st.sampled_from([p.patient_id for p in patients] + ["P9"])),
            None if draw(st.integers(0, 40)) == 0 else start + timedelta(days=draw(st.integers(0, 4)) * 7),
            draw(st.sampled_from([OT, OT, OTA, PT, ""])), draw(st.sampled_from(CODES)), *mods, None,
            draw(st.sampled_from([None, None, 1, 1, 2, 3, 4, 0, -1, 1000])), "M62.81", "", "", "",
            draw(st.sampled_from(["11", "11", "22", "", "02", "10"])),
            draw(st.sampled_from([None, None, D("65.00"), D("0"), D("130.5")])), "", "", "", "", ""))
    computed = {ln.row: draw(st.sampled_from([1, 2, 3, 0, 1000])) for ln in lines
                if ln.units is None and draw(st.booleans())}
    flagged = frozenset(ln.row for ln in lines if draw(st.integers(0, 9)) == 0)
    facility_na = draw(st.booleans())  # 97530's facility PE "NA", as in CMS's file for always-therapy codes
    book = PracticeBook(
        practice=Practice(medicare_locality=LOC, qualifying_apm=draw(st.sampled_from(["N", "Y"]))),
        payers=PAYERS, providers=(Provider(npi=OT, credential="OT"), Provider(npi=OTA, credential="OTA"),
                                  Provider(npi=PT, credential="PT")),
        patients=patients, fee_schedule=FEES, charge_master=CHARGE_MASTER,
        medicare_rvus=tuple(r.model_copy(update={"pe_rvu_facility": None}) if facility_na and r.code == "97530" else r
                            for r in (*rvus(2025), *rvus(2026), *status_rvus(2025), *status_rvus(2026))),
        medicare_gpcis=(*gpcis(2025), *gpcis(2026)), charges=tuple(lines))
    return book, computed, flagged


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(books())
def test_fast_pricing_equals_the_reference(case):
    book, computed, flagged = case
    fast = price_book(book, units=computed, flagged_rows=flagged)
    slow = reference_pricing(book, computed, flagged)
    assert fast.lines == slow.lines
    # equal Decimals can differ in form (0.00 vs -0.00, 5 vs 5.00): the sheets and JSON show the form
    assert [tuple(map(repr, p)) for p in fast.lines] == [tuple(map(repr, p)) for p in slow.lines]
    assert fast.totals == slow.totals
    assert [repr(t) for t in fast.totals] == [repr(t) for t in slow.totals]
    assert fast.findings == slow.findings


def test_the_generator_reaches_the_hard_cases():
    """The generated books price lines every way: MPPR, CO/CQ, deductibles, KX, self-pay, problems."""
    seen: set[str] = set()

    @settings(max_examples=80, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(books())
    def collect(case):
        book, computed, flagged = case
        for p in price_book(book, units=computed, flagged_rows=flagged).lines:
            seen.update(k for k, hit in (("mppr", p.mppr_reduction > 0), ("assistant", p.assistant_reduction > 0),
                                         ("deductible", p.deductible > 0), ("kx", p.kx_missing),
                                         ("self-pay", p.basis.startswith("self-pay")),
                                         ("contract mppr", "MPPR on the PE share" in p.basis),
                                         ("no rate", p.basis.startswith("not priced: no ")),
                                         ("chargemaster", p.charge is not None and p.charge % 1 == D("0.51")),
                                         ("copay", p.copay > 0), ("status", "Medicare pays $0" in p.basis),
                                         ("facility na", "facility PE of 97530 is NA" in p.basis),
                                         ("telehealth", "POS 02" in p.basis),
                                         ("full deductible", "starts with the full Part B deductible" in p.basis))
                        if hit)

    collect()
    assert seen >= {"mppr", "assistant", "deductible", "kx", "self-pay", "contract mppr", "no rate", "copay", "status",
                    "facility na", "telehealth", "full deductible"}
