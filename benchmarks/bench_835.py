"""Issue #13 benchmark: reading an 835 of 20,000 claims (~7 MB, generated).

Baselines measured in the same run on the same bytes: a plain split into segments and elements
(``decode``, ``split('~')``, ``split('*')`` per segment: the floor any Python reader pays; target:
otbill's ``read_835`` at least 0.5 × the floor's speed) and pyx12's ``X12Reader`` iterating the
segments (ratio printed).
"""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks._util import BENCH_DIR, line, ratio, sample_tag, timed
from otbill_xl.formats.x12.read835 import read_835

CLAIMS = 20_000
#: Claims per ST/SE (one payment each), as a payer batches a weekly run.
PER_PAYMENT = 1_000
#: Bump when the generator changes, so a cached file from an older generator is never measured.
GENERATOR = "g1"
#: OT codes and a plausible allowed amount per unit (the amounts repeat, as fee-schedule amounts do).
FEES = {"97110": Decimal("31.40"), "97112": Decimal("36.22"), "97140": Decimal("28.51"),
        "97530": Decimal("38.61"), "97535": Decimal("34.80"), "97165": Decimal("104.28"),
        "97166": Decimal("104.28"), "97018": Decimal("6.03")}
#: The practice's charge: its fee schedule marks the allowed amounts up by this factor.
CHARGE_MARKUP = Decimal("1.6")


def remittance_file(claims: int = CLAIMS) -> Path:
    """The generated 835 (cached in out/bench): balanced claims of one to four lines, each line
    with DTM*472, CAS, REF*6R and AMT*B6; a deterministic seed, so every run reads the same bytes."""
    path = BENCH_DIR / f"remit-{claims}-{GENERATOR}-{sample_tag()}.835"
    if path.exists():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(13)
    codes = sorted(FEES)
    start = date(2026, 1, 5)
    out: list[str] = []
    seg = out.append
    seg("ISA*00*          *00*          *ZZ*PAYERID        *ZZ*CLINICID       *260301*1200*^*00501*000000001*0*P*:")
    seg("GS*HP*PAYERID*CLINICID*20260301*1200*1*X*005010X221A1")
    n_st = 0
    for first in range(0, claims, PER_PAYMENT):
        n_st += 1
        body: list[str] = []
        paid_total = Decimal(0)
        for k in range(first, min(first + PER_PAYMENT, claims)):
            dos = start + timedelta(days=rng.randint(0, 60))
            lines = []
            for j in range(rng.randint(1, 4)):
                code = rng.choice(codes)
                units = rng.randint(1, 4) if code not in ("97165", "97166", "97018") else 1
                charge = (FEES[code] * CHARGE_MARKUP).quantize(Decimal("0.01")) * units
                allowed = FEES[code] * units
                patient = (allowed * Decimal("0.20")).quantize(Decimal("0.01")) if rng.random() < 0.3 else Decimal(0)
                paid = allowed - patient
                cas = f"CAS*CO*45*{charge - allowed}" + (f"~CAS*PR*2*{patient}" if patient else "")
                lines.append((code, units, charge, paid, allowed, cas, f"L{k:06d}{j}"))
            charge_total = sum((ln[2] for ln in lines), Decimal(0))
            paid_claim = sum((ln[3] for ln in lines), Decimal(0))
            patient_claim = charge_total - paid_claim - sum((ln[2] - ln[4] for ln in lines), Decimal(0))
            paid_total += paid_claim
            body.append(f"CLP*OT{k:06d}*1*{charge_total}*{paid_claim}*{patient_claim or ''}*MB*26{k:011d}*11*1")
            body.append(f"NM1*QC*1*PATIENT{k % 997}*ANN****MI*1EG4TE5MK{k % 100:02d}")
            for code, units, charge, paid, allowed, cas, control in lines:
                body.append(f"SVC*HC:{code}:GO*{charge}*{paid}**{units}")
                body.append(f"DTM*472*{dos:%Y%m%d}")
                body.extend(cas.split("~"))
                body.append(f"REF*6R*{control}")
                body.append(f"AMT*B6*{allowed}")
        head = [f"ST*835*{n_st:04d}", f"BPR*I*{paid_total}*C*ACH*CCP*01*999999999*DA*123456*1234567890**01*"
                f"999988880*DA*98765*20260301", f"TRN*1*EFT{n_st:08d}*1234567890", "DTM*405*20260228",
                "N1*PR*MEDICARE PART B", "N3*PO BOX 1", "N4*CITY*ST*12345", "PER*BL*EDI*TE*8005551212",
                "N1*PE*HARBOR OT*XX*1234567893", "REF*TJ*123456789", "LX*1"]
        seg_count = len(head) + len(body) + 1
        out.extend(head)
        out.extend(body)
        seg(f"SE*{seg_count}*{n_st:04d}")
    seg(f"GE*{n_st}*1")
    seg("IEA*1*000000001")
    tmp = path.with_suffix(".part")
    tmp.write_bytes(("~".join(out) + "~").encode("ascii"))
    tmp.replace(path)
    return path


def plain_split(data: bytes) -> int:
    """The floor: the text into segments and elements, nothing else."""
    return len([s.split("*") for s in data.decode("utf-8").split("~")])


def pyx12_segments(data: bytes) -> int:
    from pyx12.x12file import X12Reader

    return sum(1 for _ in X12Reader(io.StringIO(data.decode("utf-8"))))


def run() -> None:
    path = remittance_file()
    data = path.read_bytes()
    mb = len(data) / 1e6
    remits = read_835(data, path.name)
    claims = sum(len(r.claims) for r in remits)
    lines = sum(len(c.services) for r in remits for c in r.claims)
    problems = sum(len(r.problems) for r in remits)
    print(f"835 read benchmark: {claims:,} claims, {lines:,} service lines, {len(remits)} payments, "
          f"{mb:.1f} MB ({path.name}); {problems} problems")
    assert claims == CLAIMS and problems == 0, (claims, problems)

    t_floor = timed(lambda: plain_split(data), repeat=5)
    t_ours = timed(lambda: read_835(data, path.name), repeat=5)
    t_pyx12 = timed(lambda: pyx12_segments(data), repeat=1)
    line(f"plain split into segments and elements ({mb / t_floor:.0f} MB/s)", t_floor)
    line(f"otbill read_835 into remittance records ({mb / t_ours:.0f} MB/s)", t_ours)
    line(f"pyx12 X12Reader iterating segments ({mb / t_pyx12:.1f} MB/s)", t_pyx12)
    ratio("otbill speed / plain split speed", t_floor / t_ours, "(target ≥ 0.50)")
    ratio("pyx12 time / otbill time", t_pyx12 / t_ours, "(otbill is this many times faster)")
