"""Diagnosis rules: a primary diagnosis on every line, ICD-10-CM structure, and at most 12
diagnoses per claim (facts §7)."""

from __future__ import annotations

from collections.abc import Iterator

from otbill_xl.domain import icd10
from otbill_xl.domain.claims import npi_on_claim
from otbill_xl.domain.findings import Severity
from otbill_xl.domain.scrub._context import DxFacts, Hit, VisitContext, hit, rule

E, W = Severity.ERROR, Severity.WARNING

#: Diagnosis codes one 837P claim can carry (HI segment, Loop 2300; facts §7).
MAX_CLAIM_DIAGNOSES = 12


@rule("dx.missing-primary", E, "diagnoses", "No primary diagnosis (Dx1) on the line.", "dx")
def dx_missing_primary(d: DxFacts) -> Iterator[Hit]:
    """Every service line points at least at one diagnosis, the first being the principal one
    (837P SV107 pointer 1-4, CMS-1500 box 24E; facts §7). Dx1 holds it."""
    if "Dx1" not in d.columns:
        moved = f" (move {d.columns[0]} into Dx1)" if d.columns else ""
        yield hit("dx.missing-primary", "Dx1", "The line has no primary diagnosis in Dx1.",
                  f"Enter the ICD-10-CM code treated in Dx1{moved}.")


@rule("dx.malformed", E, "diagnoses", "Diagnosis is not a well-formed ICD-10-CM code.", "dx")
def dx_malformed(d: DxFacts) -> Iterator[Hit]:
    """ICD-10-CM codes have 3-7 characters: a letter, a digit, then letters/digits, with an
    optional dot after the 3rd character (facts §7; ICD-10-CM Official Guidelines §I.A). ICD-9
    codes (e.g. 719.41) are not valid for DOS from 2015-10-01."""
    for code, column in zip(d.codes, d.columns, strict=True):
        try:
            icd10.validate(code)
        except icd10.InvalidICD10 as exc:
            shown = code if _looks_like_code(code) else "the value"
            yield hit("dx.malformed", column, f"{column} {shown}: {exc}.",
                      f"Enter the ICD-10-CM code in {column} (e.g. M25.511 or M25511).")


def _looks_like_code(text: str) -> bool:
    """Echo a cell only when it looks like a code (short, letters/digits/dot, has a digit), so a
    name typed into a diagnosis cell is never repeated in a message."""
    bare = text.replace(".", "")
    return len(text) <= 9 and bare.isascii() and bare.isalnum() and any(c.isdigit() for c in bare)


@rule("dx.too-many-on-claim", W, "diagnoses",
      "More than 12 distinct diagnoses on one claim (patient + DOS + payer + rendering provider).",
      "visit", min_lines=4)
def dx_too_many_on_claim(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """An 837P claim carries at most 12 diagnosis codes (HI, Loop 2300; facts §7). Lines of one
    patient, DOS, payer and rendering provider go on one claim, so more than 12 distinct codes over
    those lines means the claim must be split or the diagnoses trimmed."""
    if len(v.entries) * 4 <= MAX_CLAIM_DIAGNOSES:
        return
    claims: dict[str, list[int]] = {}
    for i, e in enumerate(v.entries):  # (an assistant's lines go on the supervising therapist's claim)
        claims.setdefault(npi_on_claim(e.facts.provider, v.pf.payer, e.line.rendering_npi), []).append(i)
    for idx in claims.values():
        seen: set[str] = set()
        for i in idx:
            d = v.entries[i].dx
            for code, column in zip(d.codes, d.columns, strict=True):
                key = icd10.compact(code)
                if key in seen:
                    continue
                seen.add(key)
                if len(seen) == MAX_CLAIM_DIAGNOSES + 1:
                    yield i, hit("dx.too-many-on-claim", column,
                                 f"This claim (same patient, DOS, payer and rendering provider) reaches "
                                 f"{MAX_CLAIM_DIAGNOSES + 1} distinct diagnoses at {column}; a claim holds "
                                 f"{MAX_CLAIM_DIAGNOSES}.",
                                 "Keep the diagnoses treated that day (12 at most) or split the lines over "
                                 "two claims.")
