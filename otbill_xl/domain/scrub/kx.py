"""KX modifier rules (facts §4): Medicare Part B therapy above the year's per-beneficiary threshold
(OT separately from PT+SLP) needs KX, or the line is denied (Palmetto shows PR-119); above $3,000
the claim may be picked for targeted medical review.

The running total is the expected allowed amount (:mod:`otbill_xl.domain.pricing`), so it needs the
practice's MedicareRVU/MedicareGPCI tables; it starts from each patient's ``PriorTherapySpend``.
The MAC's own total is authoritative — this is an estimate. Not applied to non-Medicare payers.
"""

from __future__ import annotations

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import PayerType
from otbill_xl.domain.scrub._context import CHARGES, finding, register

register("kx.missing", Severity.ERROR, "modifiers",
         "Medicare line at or past the year's KX threshold (per discipline) without KX.")
register("kx.targeted-review", Severity.INFO, "modifiers",
         "Medicare line past $3,000 for the year (per discipline): the claim may get targeted medical review.")


def kx_findings(book, computed_units: dict[int, int]) -> list[Finding]:
    """Findings for Medicare lines whose running KX total passes the threshold or $3,000."""
    from otbill_xl.domain.book import PracticeBook
    from otbill_xl.domain.pricing import price_book

    medicare_patients = {p.patient_id for p in book.patients
                         if (payer := book.payers_by_key.get(p.payer_key)) and payer.payer_type is PayerType.MEDICARE}
    if not medicare_patients or not book.medicare_rvus:
        return []
    lines = tuple(c for c in book.charges if c.patient_id in medicare_patients)
    sub = PracticeBook(practice=book.practice, payers=book.payers, providers=book.providers, patients=book.patients,
                       medicare_rvus=book.medicare_rvus, medicare_gpcis=book.medicare_gpcis, charges=lines)
    out = []
    by_row = {c.row: c for c in lines}
    for p in price_book(sub, units=computed_units).lines:
        if "KX missing" in p.kx_status:
            line = by_row[p.row]
            column = next((f"Mod{i}" for i, m in enumerate((line.mod1, line.mod2, line.mod3, line.mod4), 1) if not m),
                          "Mod4")
            out.append(finding("kx.missing", CHARGES, p.row, column,
                               f"Medicare therapy for this patient reaches ${p.kx_running_total:,.2f} this year with this "
                               "line, past the KX threshold; without KX it is denied (PR-119).",
                               f"If the service is medically necessary and documented, add KX in {column}; if not, give "
                               "the patient an ABN and bill with GA instead."))
        if "targeted review" in p.kx_status:
            out.append(finding("kx.targeted-review", CHARGES, p.row, "Code",
                               f"Medicare therapy for this patient passes $3,000 this year (${p.kx_running_total:,.2f}).",
                               "Make sure the plan of care, progress notes and medical necessity are documented; "
                               "the claim may be reviewed."))
    return out
