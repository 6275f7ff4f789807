"""A straightforward 837P writer: the oracle for the fast ``otbill_xl.formats.x12.write837`` (issue #10 §2).

No caches, no pre-joined strings, no segment counting by hand: each loop appends its segments to a
list in guide order (005010X222A1 loop map in the fast writer's module docstring), SE01 is the length
of the list, and the file is the list joined. The element rules (text cleaning, identifier checks,
amounts, dates) come from ``formats.x12.envelope``, which both writers share; every other check the
fast writer makes is made here plainly, once per use.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from otbill_xl.domain.claims import FILING_INDICATOR, RELATIONSHIP_CODE
from otbill_xl.domain.models import PayerType, Relationship
from otbill_xl.domain.npi import InvalidNPI, validate
from otbill_xl.formats.x12.envelope import (
    ElementCleaner,
    Separators,
    X12Error,
    digits_only,
    format_amount,
    format_date,
    format_quantity,
    ge_segment,
    gs_segment,
    iea_segment,
    isa_segment,
    se_segment,
    st_control,
    st_segment,
)

_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")
_PROCEDURE = re.compile(r"[A-Z0-9]{5}")
_MODIFIER = re.compile(r"[A-Z0-9]{2}")
_SEX = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "U": "U", "UNKNOWN": "U"}


def reference_837p(claims, practice, control, *, created: datetime, separators: Separators = Separators()):
    """(text, warnings) of the 837P the fast writer must produce byte for byte."""
    e, c = separators.element, separators.component
    t = separators.segment + "\n"
    clean = ElementCleaner(separators)
    p = practice
    owner = "practice settings"

    def npi(value: str, who: str, where: str) -> str:
        s = (value or "").strip()
        try:
            if validate(s) != s:
                raise X12Error(f"{who}: {where}: an NPI has 10 digits and nothing else")
        except InvalidNPI as exc:
            raise X12Error(f"{who}: {where}: {exc}") from None
        return s

    def address(street, city, state, zip_code, who, role, loop, billing=False):
        n301 = clean.text(street, who, f"{role} address ({loop} N301)", max_len=55, required=True)
        n401 = clean.text(city, who, f"{role} city ({loop} N401)", max_len=30, min_len=2, required=True)
        n402 = (state or "").strip().upper()
        n403 = digits_only(zip_code or "")
        if billing and len(n403) != 9:
            clean.warn(f"{who}: {role} ZIP code ({loop} N403) has 5 digits; the 837P guide requires the "
                       f"9-digit ZIP+4 for the billing provider, and many payers reject the claim without it")
        return [f"N3{e}{n301}", f"N4{e}{n401}{e}{n402}{e}{n403}"]

    def person(entity, last, first, who, role, loop, qualifier="", ident=""):
        nm103 = clean.text(last, who, f"{role} last name ({loop} NM103)", max_len=60, required=True)
        nm104 = clean.text(first, who, f"{role} first name ({loop} NM104)", max_len=35)
        if ident:
            return f"NM1{e}{entity}{e}1{e}{nm103}{e}{nm104}{e}{e}{e}{e}{qualifier}{e}{ident}"
        return f"NM1{e}{entity}{e}1{e}{nm103}{e}{nm104}" if nm104 else f"NM1{e}{entity}{e}1{e}{nm103}"

    def dmg(dob, sex, who, role, loop):
        code = _SEX.get((sex or "").strip().upper())
        if code is None:
            code = "U"
            clean.warn(f"{who}: {role} sex ({loop} DMG03) is not M or F; sent as U (unknown)")
        return f"DMG{e}D8{e}{format_date(dob)}{e}{code}"

    # envelope and header (the same element checks as the fast writer's, in the same order)
    submitter_id = clean.ident(p.submitter_id, owner, "submitter ID (GS02, 1000A NM109)", min_len=2, max_len=15)
    receiver_id = clean.ident(p.receiver_id, owner, "receiver ID (GS03, 1000B NM109)", min_len=2, max_len=15)
    isa = isa_segment(sender_qualifier=p.interchange_sender_qualifier or "ZZ",
                      sender_id=p.interchange_sender_id or submitter_id,
                      receiver_qualifier=p.interchange_receiver_qualifier or "ZZ",
                      receiver_id=p.interchange_receiver_id or receiver_id, created=created,
                      interchange=control.interchange, usage=(p.usage_indicator or "T").strip().upper(),
                      separators=separators)
    gs = gs_segment(sender=submitter_id, receiver=receiver_id, created=created, group=control.group,
                    separators=separators)
    submitter_name = clean.text(p.submitter_name or p.practice_name, owner, "submitter name (1000A NM103)",
                                max_len=60, required=True)
    contact = clean.text(p.contact_name or submitter_name, owner, "contact name (1000A PER02)", max_len=60)
    phone = digits_only(p.contact_phone or p.phone)
    receiver_name = clean.text(p.receiver_name, owner, "receiver name (1000B NM103)", max_len=60, required=True)
    person_billing = p.billing_entity_type.strip() == "1"
    if person_billing:
        billing_name = clean.text(p.billing_last_name, owner, "last", max_len=60, required=True)
        billing_first = clean.text(p.billing_first_name, owner, "first", max_len=35)
    else:
        billing_name = clean.text(p.practice_name, owner, "practice name (2010AA NM103)", max_len=60, required=True)
    billing_npi = npi(p.billing_npi, owner, "billing NPI (2010AA NM109)")
    billing_address = address(p.address, p.city, p.state, p.zip, owner, "billing provider", "2010AA", billing=True)
    seg = [st_segment(control.transaction, separators),
           f"BHT{e}0019{e}00{e}{st_control(control.transaction)}{e}{created:%Y%m%d}{e}{created:%H%M}{e}CH",
           f"NM1{e}41{e}2{e}{submitter_name}{e}{e}{e}{e}{e}46{e}{submitter_id}",
           f"PER{e}IC{e}{contact}{e}TE{e}{phone}",
           f"NM1{e}40{e}2{e}{receiver_name}{e}{e}{e}{e}{e}46{e}{receiver_id}",
           f"HL{e}1{e}{e}20{e}1"]
    if p.taxonomy.strip():
        seg.append(f"PRV{e}BI{e}PXC{e}{p.taxonomy.strip().upper()}")
    if person_billing:  # a person: NM102=1, last and first name (facts §7a)
        seg.append(f"NM1{e}85{e}1{e}{billing_name}{e}{billing_first}{e}{e}{e}{e}XX{e}{billing_npi}")
    else:
        seg.append(f"NM1{e}85{e}2{e}{billing_name}{e}{e}{e}{e}{e}XX{e}{billing_npi}")
    seg += [*billing_address, f"REF{e}EI{e}{digits_only(p.tax_id)}"]
    if p.pay_to_address.strip():  # 2010AB pay-to address: NM1*87, N3, N4 (no name)
        seg.append(f"NM1{e}87{e}{'1' if person_billing else '2'}")
        seg += address(p.pay_to_address, p.pay_to_city, p.pay_to_state, p.pay_to_zip, owner, "pay-to", "2010AB")

    # subscriber groups in first-claim order
    groups: dict[tuple, list] = {}
    for claim in claims:
        key = (claim.payer.payer_id, claim.payer.payer_name, claim.payer.payer_type, claim.member_id,
               claim.patient.patient_id, claim.patient.relationship, claim.sequence)
        groups.setdefault(key, []).append(claim)

    hl = 1
    n_lines = 0
    for group in groups.values():
        first = group[0]
        who = f"claim {first.claim_id}"
        patient, payer = first.patient, first.payer
        # Medicare and Medicaid: the patient is always the subscriber (X12 RFI #263)
        dependent = (patient.relationship is not Relationship.SELF
                     and payer.payer_type not in (PayerType.MEDICARE, PayerType.MEDICAID))
        group_number = clean.ident(patient.group_number, who, "group number (SBR03)", max_len=50, required=False)
        member_id = clean.ident(first.member_id, who, "member ID (2010BA NM109)", min_len=2, max_len=80)
        payer_name = clean.text(payer.payer_name, who, "payer name (2010BB NM103)", max_len=60, required=True)
        payer_id = clean.ident(payer.payer_id, who, "payer ID (2010BB NM109)", min_len=2, max_len=80)
        hl += 1
        sub_hl = hl
        seg.append(f"HL{e}{sub_hl}{e}1{e}22{e}{1 if dependent else 0}")
        # SBR05: the Medicare Secondary Payer type when Medicare is billed as secondary
        seg.append(e.join(("SBR", first.sequence, "" if dependent else "18", group_number, "", first.insurance_type,
                           "", "", "", FILING_INDICATOR[payer.payer_type])))
        if dependent:
            sub = patient.subscriber
            seg.append(person("IL", sub.last_name, sub.first_name, who, "subscriber", "2010BA", "MI", member_id))
            seg.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
            hl += 1
            seg.append(f"HL{e}{hl}{e}{sub_hl}{e}23{e}0")
            seg.append(f"PAT{e}{RELATIONSHIP_CODE[patient.relationship]}")
            seg.append(person("QC", patient.last_name, patient.first_name, who, "patient", "2010CA"))
            seg += address(patient.address, patient.city, patient.state, patient.zip, who, "patient", "2010CA")
            seg.append(dmg(patient.dob, patient.sex, who, "patient", "2010CA"))
        else:
            seg.append(person("IL", patient.last_name, patient.first_name, who, "subscriber", "2010BA", "MI",
                              member_id))
            seg += address(patient.address, patient.city, patient.state, patient.zip, who, "subscriber", "2010BA")
            seg.append(dmg(patient.dob, patient.sex, who, "subscriber", "2010BA"))
            seg.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
        for claim in group:
            who = f"claim {claim.claim_id}"
            if not claim.lines or len(claim.lines) > 50 or not claim.diagnoses or len(claim.diagnoses) > 12:
                raise X12Error(f"{who}: outside the 837P claim limits")
            dx = []
            for d in claim.diagnoses:
                s = d.strip().upper().replace(".", "")
                if not _ICD10.fullmatch(s):
                    raise X12Error(f"{who}: a diagnosis is not an ICD-10-CM code")
                dx.append(s)
            total = Decimal("0")
            line_segments = []
            used: list[str] = []  # REF*6R: the LineID, else "R" + row; unique within the claim
            for n, line in enumerate(claim.lines, 1):
                ref = line.line_id
                if (not ref or len(ref) > 50 or ref in used
                        or any(not (ch.isascii() and (ch.isalnum() or ch in "-._/")) for ch in ref)):
                    ref = f"R{line.row}"
                    while ref in used:
                        ref += "X"
                used.append(ref)
                if not _PROCEDURE.fullmatch(line.code) or not all(_MODIFIER.fullmatch(m) for m in line.modifiers):
                    raise X12Error(f"{who}: line {n} procedure or modifier")
                if max(line.pointers) > len(dx) or not isinstance(line.dos, date):
                    raise X12Error(f"{who}: line {n} pointer or date")
                total += line.charge
                line_segments += [
                    f"LX{e}{n}",
                    e.join(("SV1", c.join(("HC", line.code, *line.modifiers)),
                            format_amount(line.charge, "charge"), "UN", format_quantity(line.units, "units"), "", "",
                            c.join(str(x) for x in line.pointers))),
                    f"DTP{e}472{e}D8{e}{format_date(line.dos)}",
                    f"REF{e}6R{e}{ref}"]
                # 2430: each other payer's adjudication of this line (SVD, one CAS per group, DTP*573, AMT*EAF)
                for other in claim.other_payers:
                    if not other.lines:
                        continue
                    adj = other.lines[n - 1]
                    line_segments.append(e.join(("SVD", other.payer.payer_id, format_amount(adj.paid, "paid"),
                                                 c.join(("HC", line.code, *line.modifiers)), "",
                                                 format_quantity(line.units, "units"))))
                    for group in ("CO", "CR", "OA", "PI", "PR"):
                        pairs = [f"{a.reason}{e}{format_amount(a.amount, 'cas')}" for a in adj.adjustments
                                 if a.group == group]
                        if pairs:
                            line_segments.append(f"CAS{e}{group}{e}" + f"{e}{e}".join(pairs))
                    line_segments.append(f"DTP{e}573{e}D8{e}{format_date(adj.paid_on)}")
                    line_segments.append(f"AMT{e}EAF{e}{format_amount(adj.patient_liability, 'eaf')}")
            seg.append(e.join(("CLM", claim.claim_id, format_amount(total, "total"), "", "",
                               c.join((claim.pos, "B", claim.frequency)), "Y", "A", "Y", "Y")))
            if claim.frequency != "1":
                seg.append(f"REF{e}F8{e}{clean.ident(claim.original_claim_number, who, 'F8', max_len=50)}")
            if claim.prior_auth.strip():
                seg.append(f"REF{e}G1{e}{clean.ident(claim.prior_auth, who, 'G1', max_len=50)}")
            seg.append(e.join(("HI", f"ABK{c}{dx[0]}", *(f"ABF{c}{d}" for d in dx[1:]))))
            if claim.referring is not None:
                r = claim.referring
                seg.append(person("DN", r.last_name, r.first_name, who, "referring provider", "2310A", "XX",
                                  npi(r.npi, who, "referring provider NPI (2310A NM109)")))
            if claim.rendering is not None:
                r = claim.rendering
                seg.append(person("82", r.last_name, r.first_name, who, "rendering provider", "2310B", "XX",
                                  npi(r.npi, who, "rendering provider NPI (2310B NM109)")))
                if r.taxonomy.strip():
                    seg.append(f"PRV{e}PE{e}PXC{e}{r.taxonomy.strip().upper()}")
            for other in claim.other_payers:  # 2320 SBR [AMT*D] OI, 2330A NM1*IL, 2330B NM1*PR
                seg.append(e.join(("SBR", other.sequence, other.relationship_code, other.group_number, "",
                                   other.insurance_type, "", "", "", FILING_INDICATOR[other.payer.payer_type])))
                if other.paid is not None:
                    seg.append(f"AMT{e}D{e}{format_amount(other.paid, 'AMT*D')}")
                seg.append(f"OI{e}{e}{e}Y{e}{e}{e}Y")
                seg.append(person("IL", other.insured.last_name, other.insured.first_name, who, "other insured",
                                  "2330A", "MI", other.member_id))
                other_name = clean.text(other.payer.payer_name, who, "other payer name (2330B NM103)", max_len=60,
                                        required=True)
                seg.append(f"NM1{e}PR{e}2{e}{other_name}{e}{e}{e}{e}{e}PI{e}{other.payer.payer_id}")
            seg += line_segments
            n_lines += len(claim.lines)
    seg.append(se_segment(len(seg) + 1, control.transaction, separators))
    text = t.join([isa, gs, *seg, ge_segment(control.group, separators), iea_segment(control.interchange, separators),
                   ""])
    return text, tuple(clean.warnings), n_lines
