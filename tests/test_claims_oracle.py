"""Claim assembly's fast path against a straightforward reference (issue #10 §2).

``assemble_claims`` is written for CPython speed (tuple unpacking, interned diagnosis tuples,
"regular" groups without a sort). ``reference_assembly`` below does the same job the plain way,
straight from the rules in ``assemble_claims``' docstring (facts §7; 005010X222A1 limits), and a
hypothesis test generates books — patients of several payers, dependants, rendering providers,
codes and modifiers, up to 4 diagnoses from a pool larger than 12, frequencies (good and bad),
typed ClaimIDs, lines without units or charge, groups over 50 lines and over 12 diagnoses, lines the
ledger holds back, blocking findings — and asserts identical claims and exclusions, then identical
837P bytes for the claims of each payer.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.claims import (
    Claim,
    HeldBack,
    Referring,
    ServiceLine,
    _blocking_findings,
    assemble_claims,
)
from otbill_xl.domain.cob import OtherPayer
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.models import (
    AssistantsBill,
    ChargeLine,
    ChargeMasterEntry,
    Patient,
    Payer,
    PayerType,
    PostedPayment,
    Practice,
    Provider,
    Relationship,
    Subscriber,
)
from otbill_xl.domain.secondary import assemble_secondary
from otbill_xl.formats.x12 import ControlNumbers, write_837p

BILLING_NPI = "1234567893"
FREQUENCIES = {"": "1", "1": "1", "original": "1", "new": "1", "7": "7", "corrected": "7", "replacement": "7",
               "replace": "7", "8": "8", "void": "8", "cancel": "8"}


# -- the reference --------------------------------------------------------------------------------

def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def reference_assembly(book: PracticeBook, findings, computed_units, prior, group="visit", strict=False):
    """Claims and held-back lines, the plain way (see the module docstring)."""
    by_row, by_patient, by_payer, everywhere = _blocking_findings(book, findings, strict)
    patients = {p.patient_id: p for p in book.patients}
    payers = {p.payer_key: p for p in book.payers}
    providers = {p.npi: p for p in book.providers}
    held_back, billable = [], []
    for line in book.charges:
        patient = patients.get(line.patient_id)
        payer = payers.get(patient.payer_key) if patient else None
        reasons = list(everywhere) + list(by_patient.get(line.patient_id, ()))
        if payer is not None:
            reasons += by_payer.get(payer.payer_key, ())
        if patient is None or payer is None:
            reasons.append("no patient or payer to bill")
        elif payer.payer_type is PayerType.SELF_PAY:
            reasons.append("self-pay: collected from the patient, not billed to a payer")
        reasons += by_row.get(line.row, ())
        units = line.units if line.units is not None else computed_units.get(line.row)
        charge = line.charge
        if charge is None and units and line.dos is not None:
            rates = [e for e in book.charge_master if e.code == line.code
                     and (e.effective_from is None or e.effective_from <= line.dos)]
            rates.sort(key=lambda e: e.effective_from or date.min)
            charge = _cents(rates[-1].charge_per_unit * units) if rates else None
        frequency = FREQUENCIES.get(line.frequency.strip().lower()) if line.frequency else "1"
        if frequency is None:
            reasons.append(f"Frequency {line.frequency!r} is not 1 (original), 7 (corrected) or 8 (void)")
        elif frequency in ("7", "8") and not line.original_claim_number:
            reasons.append(f"a {'corrected' if frequency == '7' else 'void'} claim needs the payer's "
                           "OriginalClaimNumber (REF*F8)")
        if not units or units < 0:
            reasons.append("no billable units")
        if charge is None or charge <= 0:
            reasons.append("no charge (fill Charge, or the code's ChargeMaster rate)")
        if line.dos is None or not line.code or not line.dx1:
            reasons.append("missing date of service, code or primary diagnosis")
        if line.row in prior:
            reasons.append(prior[line.row])
        if reasons:
            held_back.append(HeldBack(line.row, line.line_id, tuple(dict.fromkeys(reasons))))
            continue
        dx = tuple(dict.fromkeys(d.replace(".", "").strip().upper()
                                 for d in (line.dx1, line.dx2, line.dx3, line.dx4) if d))
        mods = tuple(m for m in (line.mod1, line.mod2, line.mod3, line.mod4) if m)
        billable.append((line, patient, payer, units, charge, frequency, dx, mods))

    groups: dict[tuple, list] = defaultdict(list)
    for item in billable:
        line, _patient, _payer, _u, _c, frequency, _dx, _m = item
        when = line.dos if group == "visit" else (line.dos.year, line.dos.month)
        # An assistant with a supervisor renders under the supervisor, unless the payer credentials
        # assistants (facts §7a).
        performer = providers.get(line.rendering_npi)
        renders = line.rendering_npi
        if (performer is not None and performer.credential in ("OTA", "COTA", "PTA") and performer.supervisor_npi
                and _payer.assistants_bill is AssistantsBill.SUPERVISOR):
            renders = performer.supervisor_npi
        groups[(line.patient_id, renders, line.pos or "11", frequency, line.original_claim_number,
                when)].append(item)

    claims = []
    for (pid, rendering_npi, pos, frequency, original, _when), items in groups.items():
        items.sort(key=lambda it: (it[0].dos, it[0].row))
        chunks, chunk, seen = [], [], set()
        for it in items:
            if chunk and (len(chunk) >= 50 or len(seen | set(it[6])) > 12):
                chunks.append(chunk)
                chunk, seen = [], set()
            chunk.append(it)
            seen |= set(it[6])
        chunks.append(chunk)
        _line, patient, payer = items[0][0], items[0][1], items[0][2]
        rendering = None
        if rendering_npi and rendering_npi != BILLING_NPI:
            rendering = providers.get(rendering_npi) or Provider(npi=rendering_npi)
        referring = (Referring(patient.referring_npi, patient.referring_last_name, patient.referring_first_name)
                     if patient.referring_npi else None)
        auth = patient.auth_number if patient.auth_number and (payer.requires_auth or patient.auth_start) else ""
        # a billable secondary payer: 2320 (SBR01=S, the patient its insured, SBR05 12 for Medicare), 2330A, 2330B
        sec = payers.get(patient.secondary_payer_key)
        others = ()
        if (sec is not None and sec.payer_key != payer.payer_key and patient.secondary_member_id
                and sec.payer_type is not PayerType.SELF_PAY):
            others = (OtherPayer("S", sec, patient.secondary_member_id, "18",
                                 Subscriber(last_name=patient.last_name, first_name=patient.first_name,
                                            dob=patient.dob, sex=patient.sex), "",
                                 "12" if sec.payer_type is PayerType.MEDICARE else ""),)
        for chunk in chunks:
            order: list[str] = []
            for it in chunk:
                order += [d for d in it[6] if d not in order]
            services = tuple(ServiceLine(it[0].line_id, it[0].row, it[0].dos, it[0].code, it[7], it[3], it[4],
                                         tuple(order.index(d) + 1 for d in it[6][:4])) for it in chunk)
            typed = {it[0].claim_id for it in chunk}
            typed_id = typed.pop() if len(typed) == 1 else ""
            if typed_id and len(typed_id) <= 20 and typed_id.isalnum():
                claim_id = typed_id
            else:
                parts = [BILLING_NPI, payer.payer_key, pid, rendering.npi if rendering else "", pos, frequency,
                         original] + [f"{s.line_id}|{s.dos}|{s.code}" for s in services]
                claim_id = "OT" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:18].upper()
            claims.append(Claim(claim_id, payer, patient, patient.member_id, rendering, pos, tuple(order), services,
                                frequency, original, auth, referring, "P", "", others))
    # payer, first date of service, patient, ClaimID, then creation order (a stable sort)
    claims.sort(key=lambda c: (c.payer.payer_key, c.lines[0].dos, c.patient.patient_id, c.claim_id))
    return tuple(claims), tuple(held_back)


# -- generated books ------------------------------------------------------------------------------

PAYERS = (Payer(payer_key="MCR", payer_name="Medicare", payer_type=PayerType.MEDICARE, payer_id="12345"),
          Payer(payer_key="ACME", payer_name="Acme", payer_type=PayerType.COMMERCIAL, payer_id="ACM01",
                requires_auth=True, assistants_bill=AssistantsBill.SELF),
          Payer(payer_key="CASH", payer_name="Self", payer_type=PayerType.SELF_PAY))
PROVIDERS = (Provider(npi=BILLING_NPI, last_name="Rivera", first_name="Ana", credential="OT"),
             Provider(npi="1245319599", last_name="Lee", first_name="Kim", credential="OTA"),
             Provider(npi="1669475711", last_name="Okafor", first_name="Ben", credential="OTR/L"),
             Provider(npi="1982736450", last_name="Sato", first_name="Mia", credential="COTA",
                      supervisor_npi="1669475711"))
DX_POOL = ["M62.81", "R26.89", "M25.511", "G81.94", "I69.351", "M19.041", "S52.501A", "R27.8", "Z74.09",
           "M79.641", "M25.641", "G56.01", "M65.4", "S62.101A", "R29.898"]
CODES = ["97110", "97112", "97140", "97530", "97535", "97165"]
MODS = [("GO", "", "", ""), ("GO", "CO", "", ""), ("GO", "59", "", ""), ("GO", "KX", "CO", "")]


def _patient(i: int, payer: str, dependent: bool, secondary: str = "") -> Patient:
    return Patient(secondary_payer_key=secondary, secondary_member_id=f"S{i:05d}" if secondary else "",
                   patient_id=f"P{i}", row=2 + i, last_name=f"Name{i}", first_name="Al", dob=date(1950, 1, 1),
                   sex="F", address="1 Elm St", city="Boston", state="MA", zip="02134", payer_key=payer,
                   member_id=f"M{i:05d}", relationship=Relationship.CHILD if dependent else Relationship.SELF,
                   subscriber=Subscriber(last_name="Parent", first_name="Pat", dob=date(1970, 1, 1), sex="M")
                   if dependent else None, auth_number="A-1" if payer == "ACME" else "",
                   referring_npi="1333333338" if i % 2 else "", referring_last_name="Doc", referring_first_name="Di")


@st.composite
def books(draw):
    n_patients = draw(st.integers(1, 4))
    patients = tuple(_patient(i, draw(st.sampled_from(["MCR", "ACME", "ACME", "CASH"])), draw(st.booleans()),
                              draw(st.sampled_from(["", "", "MCR", "ACME"])))
                     for i in range(n_patients))
    start = date(2026, 8, 3)
    n_lines = draw(st.integers(1, 140))
    lines = []
    for k in range(n_lines):
        dx = draw(st.lists(st.sampled_from(DX_POOL), min_size=0, max_size=4))
        dx = (dx + ["", "", "", ""])[:4]
        mods = draw(st.sampled_from(MODS))
        units = draw(st.sampled_from([None, None, 1, 2, 3, 0]))
        lines.append(ChargeLine(
            row=2 + k, line_id=f"L{k}", patient_id=draw(st.sampled_from([p.patient_id for p in patients] + ["P9"])),
            dos=None if draw(st.integers(0, 60)) == 0 else start + timedelta(days=draw(st.integers(0, 2)) * 7),
            rendering_npi=draw(st.sampled_from([BILLING_NPI, BILLING_NPI, "1245319599", "1982736450", "1669475711",
                                                ""])),
            code=draw(st.sampled_from(CODES)), mod1=mods[0], mod2=mods[1], mod3=mods[2], mod4=mods[3],
            minutes=None, units=units, dx1=dx[0], dx2=dx[1], dx3=dx[2], dx4=dx[3],
            pos=draw(st.sampled_from(["11", "11", "", "22"])),
            charge=draw(st.sampled_from([None, Decimal("65.00"), Decimal("130.50"), Decimal("0")])),
            claim_id=draw(st.sampled_from(["", "", "", "CLAIM1", "BAD ID!"])), status="", note="",
            frequency=draw(st.sampled_from(["", "", "", "1", "corrected", "7", "void", "x"])),
            original_claim_number=draw(st.sampled_from(["", "ICN-1"]))))
    computed = {ln.row: draw(st.integers(1, 4)) for ln in lines if ln.units is None and draw(st.booleans())}
    prior = {ln.row: "already billed in claim OTX" for ln in lines if draw(st.integers(0, 9)) == 0}
    findings = [Finding(rule="x.error", severity=draw(st.sampled_from([Severity.ERROR, Severity.WARNING])),
                        location=Location(sheet="Charges", row=ln.row, column="Code"), message="planted")
                for ln in lines if draw(st.integers(0, 12)) == 0]
    if draw(st.integers(0, 8)) == 0:
        findings.append(Finding(rule="y.error", severity=Severity.ERROR, message="planted",
                                location=Location(sheet="Patients", row=patients[0].row, column="MemberID")))
    cm = (ChargeMasterEntry(code="97110", charge_per_unit=Decimal("32.505")),
          ChargeMasterEntry(code="97530", charge_per_unit=Decimal("40"), effective_from=date(2026, 8, 10)))
    book = PracticeBook(practice=Practice(practice_name="Harbor", billing_npi=BILLING_NPI, tax_id="123456789",
                                          taxonomy="225X00000X", address="12 Harbor St", city="Boston", state="MA",
                                          zip="021341234", phone="6175550100", submitter_name="Harbor",
                                          submitter_id="HHOT01", contact_name="Office", contact_phone="6175550101",
                                          receiver_name="CH", receiver_id="TESTCH"),
                        payers=PAYERS, providers=PROVIDERS, patients=patients, charge_master=cm, charges=tuple(lines))
    return book, findings, computed, prior, draw(st.sampled_from(["visit", "period"])), draw(st.booleans())


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(books())
def test_fast_assembly_equals_the_reference_and_writes_the_same_bytes(case):
    book, findings, computed, prior, group, strict = case
    fast = assemble_claims(book, findings, computed_units=computed, prior=prior, group=group, strict=strict)
    claims, held_back = reference_assembly(book, findings, computed, prior, group, strict)
    assert fast.held_back == held_back
    assert fast.claims == claims
    if claims:  # steer the search toward the limits: 50 lines, 12 diagnoses per claim
        target(max(len(c.lines) for c in claims), label="lines per claim")
        target(max(len(c.diagnoses) for c in claims), label="diagnoses per claim")
        event("split at 50 lines" if any(len(c.lines) == 50 for c in claims) else "no 50-line claim")
        event("12 diagnoses" if any(len(c.diagnoses) == 12 for c in claims) else "fewer than 12 diagnoses")
    # Identical claims write identical 837P bytes (the writer sees equal values either way).
    by_payer: dict[str, list] = defaultdict(list)
    for c in claims:
        by_payer[c.payer.payer_key].append(c)
    for i, (_payer, group_claims) in enumerate(sorted(by_payer.items()), start=1):
        fast_claims = [c for c in fast.claims if c.payer.payer_key == _payer]
        created = datetime(2026, 11, 27, 9, 30)
        assert (write_837p(fast_claims, book.practice, ControlNumbers(i, i, i), created=created).text
                == write_837p(group_claims, book.practice, ControlNumbers(i, i, i), created=created).text)


def test_the_generator_reaches_the_hard_cases():
    """Splits at 50 lines and at 12 diagnoses, typed ClaimIDs and period groups are really produced
    (a hand-built book: 55 lines of one visit, then 13 diagnoses over 4 lines)."""
    patient = _patient(1, "MCR", False)
    day = date(2026, 8, 3)
    lines = [ChargeLine(2 + k, f"L{k}", "P1", day, BILLING_NPI, "97110", "GO", "", "", "", None, 1, "M62.81", "", "",
                        "", "11", Decimal("65.00"), "", "", "", "", "") for k in range(55)]
    dx = DX_POOL[:13]
    lines += [ChargeLine(60 + k, f"D{k}", "P1", day + timedelta(days=1), BILLING_NPI, "97530", "GO", "", "", "",
                         None, 1, *dx[4 * k:4 * k + 4], *[""] * (4 - len(dx[4 * k:4 * k + 4])), "11",
                         Decimal("65.00"), "", "", "", "", "") for k in range(4)]
    book = PracticeBook(practice=Practice(billing_npi=BILLING_NPI), payers=PAYERS, providers=PROVIDERS,
                        patients=(patient,), charges=tuple(lines))
    fast = assemble_claims(book, [], computed_units={}, prior={})
    claims, _ = reference_assembly(book, [], {}, {})
    assert fast.claims == claims
    # 55 lines of one visit → 50 + 5; 13 diagnoses over 4 lines of the next day → 3 lines with 12 + 1 line
    # with 1 (claims of one day sort by ClaimID, a hash).
    assert sorted((c.lines[0].dos.day, len(c.lines), len(c.diagnoses)) for c in claims) == [
        (3, 5, 1), (3, 50, 1), (4, 1, 1), (4, 3, 12)]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(books(), st.sampled_from(["", "Ortiz-Núñez", "O'Brien*Jr", "Lee"]), st.sampled_from(["T", "P"]),
       st.sampled_from([{}, {"billing_entity_type": "1", "billing_last_name": "Rivera", "billing_first_name": "Ana"},
                        {"pay_to_address": "PO Box 12", "pay_to_city": "Boston", "pay_to_state": "MA",
                         "pay_to_zip": "021340012"}]))
def test_fast_837p_writer_equals_the_reference_writer(case, name, usage, billing):
    """The 837P writer (with its caches) against the plain one in tests/reference_write837.py: the same
    bytes and the same cleaning warnings for every payer's claims (names with accents and separator
    characters are cleaned the same way), for an organisation or a person billing provider, with or
    without a pay-to address."""
    from reference_write837 import reference_837p

    book, findings, computed, prior, group, strict = case
    assembly = assemble_claims(book, findings, computed_units=computed, prior=prior, group=group, strict=strict)
    practice = book.practice.model_copy(update={"usage_indicator": usage, **billing})
    by_payer: dict[str, list] = defaultdict(list)
    for c in assembly.claims:
        if name:  # a patient name to clean (the same patient object stays shared by its claims)
            c = c._replace(patient=c.patient.model_copy(update={"last_name": name}))
        by_payer[c.payer.payer_key].append(c)
    created = datetime(2026, 11, 27, 9, 30)
    for i, (_payer, payer_claims) in enumerate(sorted(by_payer.items()), start=1):
        control = ControlNumbers(i, i + 1, i + 2)
        fast = write_837p(payer_claims, practice, control, created=created)
        text, warnings, n_lines = reference_837p(payer_claims, practice, control, created=created)
        assert fast.text == text
        assert fast.warnings == warnings
        assert fast.lines == n_lines
        # X12File.segments is SE01: the number of segments from ST to SE in the reference's text
        segments = text.split("~\n")
        st = next(i for i, seg in enumerate(segments) if seg.startswith("ST*"))
        se = next(i for i, seg in enumerate(segments) if seg.startswith("SE*"))
        assert fast.segments == int(segments[se].split("*")[1]) == se - st + 1
    # Secondary claims (2320 with AMT*D, 2430 SVD/CAS/DTP/AMT*EAF): the primaries' lines adjudicated by
    # posted payments (paid 60%, PR-2 20%, CO-45 the rest; every 5th row not posted: held back).
    payments, billed = [], {}
    for c in assembly.claims:
        for s in c.lines:
            billed[s.row] = c.claim_id
            if s.row % 5:
                paid, pr = (s.charge * Decimal("0.6")).quantize(Decimal("0.01")), (s.charge * Decimal("0.2")).quantize(
                    Decimal("0.01"))
                payments += [PostedPayment(s.row, "", "", "", date(2026, 9, 1), c.claim_id, s.line_id, "", (), None,
                                           None, row_paid, None, adj_group, reason, amount, "")
                             for row_paid, adj_group, reason, amount in ((paid, "CO", "45", s.charge - paid - pr),
                                                                         (None, "PR", "2", pr))]
    # (every patient gets a secondary here, so that secondary claims are written in most examples)
    covered = tuple(p.model_copy(update={"secondary_payer_key": "ACME" if p.payer_key == "MCR" else "MCR",
                                         "secondary_member_id": f"S{p.patient_id}"}) for p in book.patients)
    secondary = assemble_secondary(dataclasses.replace(book, patients=covered, payments=tuple(payments)), findings,
                                   primary_claim_of=billed, computed_units=computed, group=group, strict=strict)
    by_payer = defaultdict(list)
    for c in secondary.claims:
        by_payer[c.payer.payer_key].append(c)
    for i, (_payer, payer_claims) in enumerate(sorted(by_payer.items()), start=1):
        control = ControlNumbers(i, i, i)
        text, warnings, _n = reference_837p(payer_claims, practice, control, created=created)
        fast = write_837p(payer_claims, practice, control, created=created)
        assert (fast.text, fast.warnings) == (text, warnings)
        event("secondary claims written")


def test_claim_id_for_is_the_assembly_s_claim_id():
    """The public ClaimID function gives the ClaimID assembly writes (the hand-listed parts of one
    claim: billing NPI, payer, patient, rendering ('' = the billing provider), POS, frequency, original
    claim number, then line_id|dos|code)."""
    from otbill_xl.domain.claims import claim_id_for

    patient = _patient(1, "MCR", False)
    day = date(2026, 8, 3)
    lines = tuple(ChargeLine(2 + k, f"L{k}", "P1", day, BILLING_NPI, code, "GO", "", "", "", None, 1, "M62.81", "",
                             "", "", "11", Decimal("65.00"), "", "", "", "", "") for k, code in enumerate(["97110",
                                                                                                          "97530"]))
    book = PracticeBook(practice=Practice(billing_npi=BILLING_NPI), payers=PAYERS, providers=PROVIDERS,
                        patients=(patient,), charges=lines)
    (claim,) = assemble_claims(book, [], computed_units={}, prior={}).claims
    assert claim.claim_id == claim_id_for([BILLING_NPI, "MCR", "P1", "", "11", "1", "",
                                           "L0|2026-08-03|97110", "L1|2026-08-03|97530"])
    assert len(claim.claim_id) == 20 and claim.claim_id.startswith("OT")
