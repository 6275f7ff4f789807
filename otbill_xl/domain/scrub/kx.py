"""KX modifier rules (facts §4): Medicare Part B therapy above the year's per-beneficiary threshold
(OT separately from PT+SLP) needs KX, or the line is denied (Palmetto shows PR-119); above $3,000
the claim may be picked for targeted medical review. A service past the threshold that is not
medically necessary is billed with GA (ABN given: the patient may be liable) or GZ (no ABN: the line
is denied and the provider is liable) instead of KX; either is the biller's choice and is accepted.

The running total is the expected allowed amount (:mod:`otbill_xl.domain.pricing`), so it needs the
practice's MedicareRVU/MedicareGPCI tables; it starts from each patient's ``PriorTherapySpend``.
The MAC's own total is authoritative — this is an estimate. Not applied to non-Medicare payers.
"""

from __future__ import annotations

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import PayerType, first_free_modifier
from otbill_xl.domain.scrub._context import CHARGES, finding, register, runs_in

register("kx.missing", Severity.ERROR, "modifiers",
         "Medicare line at or past the year's KX threshold (per discipline) without KX (or GA/GZ).")
register("kx.targeted-review", Severity.INFO, "modifiers",
         "Medicare line past $3,000 for the year (per discipline): the claim may get targeted medical review.")


@runs_in("book")
def kx_findings(book, computed_units: dict[int, int], priced=None) -> list[Finding]:
    """Findings for Medicare lines whose running KX total passes the threshold or $3,000.

    ``priced`` is the pricing of the whole book with these units, when the caller has it: its KX
    statuses are the same as those of pricing only the candidate patients (KX runs per beneficiary,
    and a candidate's lines are all priced together either way), so nothing is priced twice."""
    from otbill_xl.domain.book import PracticeBook
    from otbill_xl.domain.pricing import price_book

    medicare_patients = {p.patient_id: p for p in book.patients
                         if (payer := book.payers_by_key.get(p.payer_key)) and payer.payer_type is PayerType.MEDICARE}
    if not medicare_patients or not book.medicare_rvus:
        return []
    if priced is not None:
        lines = book.charges
        priced_lines = priced.lines
    else:
        lines = _candidates(book, medicare_patients, computed_units)
        if not lines:
            return []
        sub = PracticeBook(practice=book.practice, payers=book.payers, providers=book.providers,
                           patients=book.patients, medicare_rvus=book.medicare_rvus,
                           medicare_gpcis=book.medicare_gpcis, charges=lines)
        priced_lines = price_book(sub, units=computed_units).lines
    out = []
    by_row = {c.row: c for c in lines}
    for p in priced_lines:
        if p.kx_missing and p.units != 0:  # a 0-unit line is never billed (claims: "no billable units")
            line = by_row[p.row]
            column = first_free_modifier((line.mod1, line.mod2, line.mod3, line.mod4), when_full="Mod4")
            out.append(finding("kx.missing", CHARGES, p.row, column,
                               f"Medicare therapy for this patient reaches ${p.kx_running_total:,.2f} this year with this "
                               "line, past the KX threshold; without KX, GA or GZ it is denied (PR-119).",
                               f"If the service is medically necessary and documented, add KX in {column}. If it is "
                               "not: GA when the patient signed an ABN (the patient may then be liable), or GZ when "
                               "no ABN was given (the line is denied and the practice is liable)."))
        if p.kx_review:
            out.append(finding("kx.targeted-review", CHARGES, p.row, "Code",
                               f"Medicare therapy for this patient passes $3,000 this year (${p.kx_running_total:,.2f}).",
                               "Make sure the plan of care, progress notes and medical necessity are documented; "
                               "the claim may be reviewed."))
    return out


def _candidates(book, patients: dict, computed_units: dict[int, int]) -> tuple:
    """Medicare lines of the patients who could reach a KX threshold at all.

    Pricing every Medicare line is the expensive part, and most patients never come near the
    threshold: a patient is skipped when even the most a unit of each billed code can be allowed
    (the full PFS amount, no reductions) times the units, plus the prior spend, stays at or under the
    lowest threshold of the years billed (stays under it: KX is needed at or past it). The bound never underestimates (MPPR, CO/CQ only lower an
    amount), so no finding is lost.
    """
    from decimal import Decimal

    from otbill_xl.domain.medicare_pfs import MedicarePFS, UnitPrice, kx_thresholds

    thresholds = kx_thresholds()
    pfs = MedicarePFS(book.medicare_rvus, book.medicare_gpcis, book.practice.medicare_locality,
                      book.practice.qualifying_apm.strip().upper() in ("Y", "YES", "TRUE", "1"))
    ceiling: dict[tuple, Decimal | None] = {}
    bound: dict[str, Decimal | None] = {}
    lowest: dict[str, Decimal] = {}
    by_patient: dict[str, list] = {}
    for c in book.charges:
        pid = c.patient_id
        if pid not in patients or c.dos is None:
            continue
        by_patient.setdefault(pid, []).append(c)
        if bound.get(pid, 0) is None:
            continue
        limit = thresholds.get(c.dos.year)
        if limit is None:
            bound[pid] = None  # no threshold for that year: keep the patient (the status says so)
            continue
        lowest[pid] = min(lowest.get(pid, limit[0]), limit[0])
        key = (c.code, c.dos, c.pos)
        if key not in ceiling:
            price = pfs.unit_price(c.code, c.dos, c.pos)
            ceiling[key] = price.full if isinstance(price, UnitPrice) else None
        units = c.units if c.units is not None else computed_units.get(c.row, 0)
        top = ceiling[key]
        if top is None:
            continue  # unpriceable lines add nothing to the running total
        bound[pid] = bound.get(pid, patients[pid].prior_therapy_spend) + top * max(units, 0)
    keep = [pid for pid in by_patient if bound.get(pid, 0) is None
            or bound.get(pid, patients[pid].prior_therapy_spend) >= lowest.get(pid, Decimal("Infinity"))]
    return tuple(c for pid in keep for c in by_patient[pid])
