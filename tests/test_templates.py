"""The workbook templates and the synthetic sample practice.

The committed workbooks must equal a fresh build (values, tables, dropdowns), builds must be
deterministic, and the sample must be clean apart from its documented planted errors.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest

from otbill_xl.domain import npi
from otbill_xl.domain.codes import CodeKind, catalogue
from otbill_xl.templates import sample
from otbill_xl.templates.build import build_all, build_sample, build_template
from otbill_xl.workbook.contract import PRACTICE_SETTINGS, SHEETS, SHEETS_BY_NAME

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "workbook_templates"
TEMPLATE = COMMITTED / "otbill-practice.xlsx"
SAMPLE = COMMITTED / "examples" / "sample-practice.xlsx"
README = COMMITTED / "examples" / "README.md"

ICD10_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def snapshot(path: Path) -> dict:
    """What must not change between builds: sheets, values, tables, dropdowns, formats, panes."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        out[ws.title] = {
            "state": ws.sheet_state,
            "values": [list(r) for r in ws.iter_rows(values_only=True)],
            "tables": sorted((t.name, t.displayName, t.ref, tuple(t.column_names)) for t in ws.tables.values()),
            "validations": sorted((str(dv.sqref), dv.type, dv.formula1, dv.errorStyle)
                                  for dv in ws.data_validations.dataValidation),
            "freeze": ws.freeze_panes,
            "formats": [c.number_format for c in ws[2]] if ws.max_row >= 2 else [],
        }
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> list[Path]:
    return build_all(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="module")
def built_snapshots(built) -> list[dict]:
    return [snapshot(p) for p in built]


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict]]:
    data = sample.sample_rows()
    return {name: [dict(zip(r[0], row, strict=True)) for row in r[1:]] for name, r in data.items()}


# --- committed outputs and determinism ---------------------------------------------------------

def test_build_all_writes_both_workbooks(built):
    assert built[0].name == "otbill-practice.xlsx"
    assert built[1] == built[0].parent / "examples" / "sample-practice.xlsx"
    assert all(p.is_file() for p in built)
    assert not [p for p in built[0].parent.rglob("*.tmp")]


@pytest.mark.parametrize("committed, index", [(TEMPLATE, 0), (SAMPLE, 1)], ids=["template", "sample"])
def test_committed_workbook_equals_fresh_build(committed, index, built_snapshots):
    assert committed.is_file(), f"run build_all(Path('workbook_templates')) to create {committed.name}"
    assert snapshot(committed) == built_snapshots[index], (
        f"{committed.name} is stale: rebuild with build_all(Path('workbook_templates'))")


def test_building_twice_gives_identical_workbooks(tmp_path, built, built_snapshots):
    again = [build_template(tmp_path / "a.xlsx"), build_sample(tmp_path / "b.xlsx")]
    for first, first_snapshot, second in zip(built, built_snapshots, again, strict=True):
        assert snapshot(second) == first_snapshot
        assert first.read_bytes() == second.read_bytes()  # fixed document dates and zip times
    # The generator itself is deterministic, not only its cache: generate afresh and compare.
    first = sample.sample_rows()
    sample._generate.cache_clear()
    assert sample.sample_rows() == first


def test_sample_rows_are_what_the_workbook_holds(built):
    wb = openpyxl.load_workbook(built[1])
    for name, expected in sample.sample_rows().items():
        got = [list(r) for r in wb[name].iter_rows(values_only=True)]
        want = [[datetime(v.year, v.month, v.day) if isinstance(v, date) else v for v in row] for row in expected]
        assert got == want, name


# --- template layout --------------------------------------------------------------------------

def test_template_layout(built):
    wb = openpyxl.load_workbook(built[0])
    assert wb.sheetnames == ["Instructions", *(s.name for s in SHEETS), "Lists"]
    assert wb["Lists"].sheet_state == "hidden"
    for spec in SHEETS:
        ws = wb[spec.name]
        assert list(ws.tables) == [spec.name]
        table = ws.tables[spec.name]
        assert table.displayName == spec.name and table.tableStyleInfo is not None
        assert tuple(table.column_names) == spec.column_names
        assert tuple(c.value for c in ws[1]) == spec.column_names
        assert table.ref.startswith("A1:") and int(re.sub(r"[A-Z]", "", table.ref.split(":")[1])) >= 2
        assert table.autoFilter is not None
        assert ws.freeze_panes == "A2"
    practice = wb["Practice"]
    assert [r[0] for r in practice.iter_rows(min_row=2, values_only=True)] == list(PRACTICE_SETTINGS)
    assert all(r[1] is None for r in practice.iter_rows(min_row=2, values_only=True))


def test_template_formats(built):
    wb = openpyxl.load_workbook(built[0])

    def fmt(sheet: str, column: str) -> str:
        return wb[sheet].cell(row=2, column=SHEETS_BY_NAME[sheet].column_names.index(column) + 1).number_format

    assert fmt("Patients", "ZIP") == "@"
    assert fmt("Charges", "POS") == "@"
    assert fmt("Charges", "RenderingNPI") == "@"
    assert fmt("Charges", "DOS") in ("yyyy-mm-dd", "m/d/yyyy")
    assert fmt("Charges", "Charge") == "#,##0.00"
    assert fmt("Payments", "Paid") == "#,##0.00"
    assert fmt("Patients", "PriorTherapySpend") == fmt("Patients", "DeductibleRemaining") == "#,##0.00"
    assert fmt("MedicareRVU", "WorkRVU") == fmt("MedicareRVU", "MPRVU") == "0.0000"
    assert fmt("MedicareGPCI", "PEGPCI") == "0.0000"
    assert fmt("MedicareGPCI", "Locality") == "@"


def test_template_dropdowns(built):
    wb = openpyxl.load_workbook(built[0])

    def dropdown(sheet: str, column: str) -> str:
        letter = openpyxl.utils.get_column_letter(SHEETS_BY_NAME[sheet].column_names.index(column) + 1)
        found = [dv for dv in wb[sheet].data_validations.dataValidation
                 if any(str(r).startswith(f"{letter}2:") for r in dv.sqref.ranges)]
        assert len(found) == 1, (sheet, column)
        assert found[0].type == "list"
        return found[0].formula1

    assert dropdown("Patients", "PayerKey") == "=Payers!$A$2:$A$500"
    assert dropdown("Payments", "PayerKey") == "=Payers!$A$2:$A$500"
    code_list = dropdown("Charges", "Code")
    assert code_list.startswith("=Lists!$A$2:$A$")
    codes = [r[0] for r in wb["Lists"].iter_rows(min_row=2, values_only=True) if r[0]]
    assert "97110" in codes and "97165" in codes and "97003" not in codes
    mods = [r[1] for r in wb["Lists"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert dropdown("Charges", "Mod1") == dropdown("Charges", "Mod4") == dropdown("FeeSchedule", "Modifier")
    assert "GO" in mods and "CO" in mods
    pos = [r[2] for r in wb["Lists"].iter_rows(min_row=2, values_only=True) if r[2]]
    assert "03" in pos and "11" in pos
    assert dropdown("Payers", "UnitRule") == '"cms,ama"'
    assert dropdown("Payers", "RequiresGO") == dropdown("Payers", "RequiresAuth") == '"Y,N"'
    assert dropdown("Payers", "ApplyMPPR") == dropdown("MedicareRVU", "AlwaysTherapy") == '"Y,N"'
    assert "medicare_advantage" in dropdown("Payers", "PayerType")
    assert dropdown("Patients", "Relationship") == '"self,spouse,child,other"'
    assert dropdown("Patients", "Sex") == '"f,m,u"'
    usage = [dv for dv in wb["Practice"].data_validations.dataValidation if dv.formula1 == '"T,P"']
    assert [str(dv.sqref) for dv in usage] == [f"B{PRACTICE_SETTINGS.index('UsageIndicator') + 2}"]
    apm = [dv for dv in wb["Practice"].data_validations.dataValidation if dv.formula1 == '"Y,N"']
    assert [str(dv.sqref) for dv in apm] == [f"B{PRACTICE_SETTINGS.index('QualifyingAPM') + 2}"]


def test_instructions_cover_every_sheet_and_column(built):
    ws = openpyxl.load_workbook(built[0])["Instructions"]
    text = "\n".join(" | ".join(str(v) for v in r if v is not None) for r in ws.iter_rows(values_only=True))
    assert "never modifies" in text
    for spec in SHEETS:
        assert spec.purpose in text
        for col in spec.columns:
            assert col.name in text
            assert all(alias in text for alias in col.aliases)


# --- sample facts -----------------------------------------------------------------------------

def test_sample_reference_sheets(rows):
    assert len(rows["Charges"]) >= 1500
    assert 35 <= len(rows["Patients"]) <= 45
    assert Counter(p["Credential"] for p in rows["Providers"]) == {"OT": 2, "OTA": 1}
    assert {p["Credential"]: p["Taxonomy"] for p in rows["Providers"]} == {"OT": "225X00000X", "OTA": "224Z00000X"}
    assert all(npi.is_valid(p["NPI"]) for p in rows["Providers"])
    assert Counter(p["PayerType"] for p in rows["Payers"]) == {
        "medicare": 1, "medicare_advantage": 1, "medicaid": 1, "commercial": 2}
    assert {p["UnitRule"] for p in rows["Payers"] if p["PayerType"] == "commercial"} == {"ama", "cms"}
    practice = {r["Setting"]: r["Value"] for r in rows["Practice"]}
    # (a person's name is for a solo therapist billing as a person; a pay-to address only when payments go
    # elsewhere: the sample practice is an organisation paid at its office)
    optional = {"BillingLastName", "BillingFirstName", "PayToAddress", "PayToCity", "PayToState", "PayToZIP"}
    assert list(practice) == list(PRACTICE_SETTINGS)
    assert all(v for k, v in practice.items() if k not in optional)
    assert npi.is_valid(practice["BillingNPI"]) and re.fullmatch(r"\d\d-\d{7}", practice["TaxID"])
    assert practice["UsageIndicator"] == "T"
    patients = rows["Patients"]
    assert all(npi.is_valid(p["ReferringNPI"]) for p in patients)
    assert {p["Relationship"] for p in patients} >= {"self", "child", "spouse"}
    assert all(p["SubscriberLastName"] for p in patients if p["Relationship"] != "self")
    assert sum(1 for p in patients if p["SecondaryPayerKey"]) >= 2
    assert all((p["POCEnd"] - p["POCStart"]).days < 90 for p in patients)
    used = {line["Code"] for line in rows["Charges"]} - {"97003"}
    assert used <= {c["Code"] for c in rows["ChargeMaster"]}
    for payer in {p["PayerKey"] for p in rows["Payers"]} - {"MEDICARE"}:
        assert used <= {f["Code"] for f in rows["FeeSchedule"] if f["PayerKey"] == payer}
    assert practice["QualifyingAPM"] == "N"
    mppr = {p["PayerKey"]: p["ApplyMPPR"] for p in rows["Payers"]}
    types = {p["PayerKey"]: p["PayerType"] for p in rows["Payers"]}
    assert mppr["MEDICARE"] == "Y" and set(mppr.values()) == {"Y", None}
    assert [k for k, v in mppr.items() if v == "Y" and types[k] == "commercial"] == ["BLUEPEAK"]
    medicare_ids = {p["PatientID"] for p in patients if p["PayerKey"] == "MEDICARE"}
    prior = {p["PatientID"]: p["PriorTherapySpend"] for p in patients if p["PriorTherapySpend"] is not None}
    assert set(prior) == {k.patient_id for k in sample.KX_PATIENTS} and set(prior) <= medicare_ids
    assert all(1000 < v < 2480 for v in prior.values())
    deductible = [(p["PatientID"], p["DeductibleRemaining"]) for p in patients if p["DeductibleRemaining"] is not None]
    assert len(deductible) == 1 and deductible[0][0] in medicare_ids and deductible[0][1] == 283.00


def test_sample_medicare_fee_schedule_tables(rows):
    """MedicareRVU and MedicareGPCI hold the sourced values for the year of the sample's dates of
    service; every code billed to Medicare has an RVU row or is intentionally absent."""
    practice = {r["Setting"]: r["Value"] for r in rows["Practice"]}
    gpci = rows["MedicareGPCI"]
    assert [(g["Year"], g["Locality"]) for g in gpci] == [(2026, practice["MedicareLocality"])]
    assert practice["MedicareLocality"] == sample.MEDICARE_LOCALITY
    assert tuple(Decimal(str(gpci[0][k])) for k in ("WorkGPCI", "PEGPCI", "MPGPCI")) == sample.LOCALITY_GPCI
    rvus = rows["MedicareRVU"]
    assert {r["Year"] for r in rvus} == {line["DOS"].year for line in rows["Charges"]} == {2026}
    by_code = {r["Code"]: r for r in rvus}
    assert len(by_code) == len(rvus) and all(r["Modifier"] is None for r in rvus)
    cat = catalogue()
    for code, values in sample.MEDICARE_RVUS.items():
        r = by_code[code]
        got = tuple(Decimal(str(r[k])) for k in ("WorkRVU", "PERVUNonFacility", "PERVUFacility", "MPRVU"))
        assert got == values, code
        assert r["AlwaysTherapy"] == ("Y" if cat.get(code).always_therapy else "N"), code
    assert set(by_code) == set(sample.MEDICARE_RVUS)
    payer_of = {p["PatientID"]: p["PayerKey"] for p in rows["Patients"]}
    medicare_codes = {line["Code"] for line in rows["Charges"] if payer_of.get(line["PatientID"]) == "MEDICARE"}
    assert medicare_codes - {"97003"} <= set(by_code) | set(sample.RVU_ABSENT)
    assert not set(by_code) & set(sample.RVU_ABSENT)
    assert "97010" in sample.RVU_ABSENT  # bundled (status B): Medicare pays nothing for it
    readme = README.read_text(encoding="utf-8")
    assert "SOURCES.md" in readme and sample.MEDICARE_LOCALITY in readme
    for code in sample.RVU_ABSENT:
        assert code in readme
    sources = (ROOT / "otbill_xl" / "refdata" / "SOURCES.md").read_text(encoding="utf-8")
    assert "PPRRVU2025_Oct" in sources and "GPCI2026" in sources


def _medicare_allowed(visit: list[dict], rvus: dict, gpci: tuple[Decimal, ...]) -> list[Decimal | None]:
    """The sample's Medicare allowed amounts recomputed from the sheets (2026 non-QP CF 33.4009,
    MPPR with PE at 50% on all but the highest-PE always-therapy unit of the day, CO/CQ at 85%)."""
    cf, cent = Decimal("33.4009"), Decimal("0.01")
    priced = {}
    for i, line in enumerate(visit):
        r = rvus.get(line["Code"])
        if r is None:
            continue
        work, pe, mp = (Decimal(str(r[k])) * g * cf for k, g in zip(("WorkRVU", "PERVUNonFacility", "MPRVU"), gpci,
                                                                      strict=True))
        full, reduced = ((work + pe * share + mp).quantize(cent, ROUND_HALF_UP) for share in (1, Decimal("0.5")))
        units = line["Units"] or sample.hand_units(line["Minutes"])
        priced[i] = (full, reduced, pe, units, r["AlwaysTherapy"] == "Y")
    group = [i for i, p in priced.items() if p[4]]
    top = max(group, key=lambda i: (priced[i][2], priced[i][0], -i)) if group else None
    out: list[Decimal | None] = []
    for i, line in enumerate(visit):
        if i not in priced:
            out.append(None)
            continue
        full, reduced, _pe, units, always = priced[i]
        full_units = (1 if i == top else 0) if always else units
        fee = (full * units).quantize(cent, ROUND_HALF_UP)
        allowed = fee - ((full - reduced) * (units - full_units)).quantize(cent, ROUND_HALF_UP)
        if {line["Mod1"], line["Mod2"], line["Mod3"], line["Mod4"]} & {"CO", "CQ"}:
            allowed -= (allowed * Decimal("0.15")).quantize(cent, ROUND_HALF_UP)
        out.append(allowed)
    return out


def kx_running(rows) -> dict[str, Decimal]:
    """LineID -> the patient's running 2026 OT allowed amount (PriorTherapySpend + the Medicare
    allowed of the lines so far, in DOS and sheet order), for Medicare patients' lines."""
    patients = {p["PatientID"]: p for p in rows["Patients"]}
    rvus = {r["Code"]: r for r in rows["MedicareRVU"] if r["Year"] == 2026}
    g = rows["MedicareGPCI"][0]
    gpci = tuple(Decimal(str(g[k])) for k in ("WorkGPCI", "PEGPCI", "MPGPCI"))
    visits: dict[tuple, list[dict]] = defaultdict(list)
    for line in rows["Charges"]:
        patient = patients.get(line["PatientID"])
        if patient and patient["PayerKey"] == "MEDICARE":
            visits[line["PatientID"], line["DOS"]].append(line)
    running: dict[str, Decimal] = {}
    out = {}
    for (pid, _dos), lines in sorted(visits.items()):
        total = running.setdefault(pid, Decimal(str(patients[pid]["PriorTherapySpend"] or 0)))
        for line, allowed in zip(lines, _medicare_allowed(lines, rvus, gpci), strict=True):
            total += allowed or 0
            out[line["LineID"]] = total
        running[pid] = total
    return out


def kx_needed(rows) -> dict[str, bool]:
    """LineID -> whether the running 2026 OT allowed amount is over the $2,480 KX threshold."""
    return {line_id: total > Decimal("2480") for line_id, total in kx_running(rows).items()}


def test_sample_kx_patients_cross_the_threshold(rows):
    """The KX patients cross the 2026 KX threshold on the first line of a visit, with a wide margin,
    and from that line on every line carries KX (the planted kx.missing line aside); they stay under
    the $3,000 targeted-review amount, and every other Medicare patient stays under the threshold."""
    needed = kx_needed(rows)
    assert max(kx_running(rows).values()) < Decimal("3000") - 20
    by_id = {line["LineID"]: line for line in rows["Charges"]}
    assert 2 <= len(sample.KX_PATIENTS) <= 3
    for k in sample.KX_PATIENTS:
        crossing = by_id[k.crossing_line_id]
        assert crossing["PatientID"] == k.patient_id and needed[k.crossing_line_id]
        assert k.before <= Decimal("2480") - 5 and k.after >= Decimal("2480") + 5
        same_day = [x for x in rows["Charges"] if (x["PatientID"], x["DOS"]) == (k.patient_id, crossing["DOS"])]
        assert same_day[0] is crossing
        mine = [x for x in rows["Charges"] if x["PatientID"] == k.patient_id]
        assert any(not needed[x["LineID"]] for x in mine) and any(needed[x["LineID"]] for x in mine)
        assert all(needed[x["LineID"]] == (x["DOS"] >= crossing["DOS"]) for x in mine)
    kx_ids = {k.patient_id for k in sample.KX_PATIENTS}
    assert not any(v for lid, v in needed.items() if by_id[lid]["PatientID"] not in kx_ids)


def test_sample_charge_lines(rows):
    lines = rows["Charges"]
    ids = [line["LineID"] for line in lines]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"L\d{6}", i) for i in ids)
    dos = [line["DOS"] for line in lines]
    assert date(2026, 8, 1) <= min(dos) < date(2026, 8, 8) and date(2026, 10, 24) < max(dos) <= date(2026, 10, 31)
    assert {d.month for d in dos} == {8, 9, 10}
    assert all(d.weekday() < 5 for d in dos)
    codes = Counter(line["Code"] for line in lines)
    for code in ("97110", "97112", "97140", "97530", "97535", "97533", "97760", "97763", "97129", "97130",
                 "97018", "97010", "97035", "97150", "97165", "97166", "97167", "97168"):
        assert codes[code] > 0, code


def test_planted_errors_are_recorded_and_documented(rows):
    rules = [p.rule for p in sample.PLANTED_ERRORS]
    assert rules == [
        "code.deleted", "mod.wrong-discipline", "mod.cq-on-ot", "mod.go-missing", "units.over-billed",
        "npi.rendering-invalid", "dx.missing-primary", "dx.malformed", "dup.line", "code.addon-without-base",
        "date.outside-poc", "ref.patient-unknown", "units.untimed-over-1", "mod.co-required", "kx.missing"]
    by_id = {line["LineID"]: line for line in rows["Charges"]}
    assert len({p.line_id for p in sample.PLANTED_ERRORS}) == len(sample.PLANTED_ERRORS)
    readme = README.read_text(encoding="utf-8")
    for p in sample.PLANTED_ERRORS:
        assert p.line_id in by_id, p
        assert p.column in SHEETS_BY_NAME["Charges"].column_names
        assert re.search(rf"\|\s*{p.line_id}\s*\|\s*`{re.escape(p.rule)}`\s*\|\s*{p.column}\s*\|", readme), p


def test_planted_errors_are_what_they_say(rows):
    lines = rows["Charges"]
    by_id = {line["LineID"]: line for line in lines}
    err = {p.rule: by_id[p.line_id] for p in sample.PLANTED_ERRORS}
    providers = {p["NPI"]: p["Credential"] for p in rows["Providers"]}
    patients = {p["PatientID"]: p for p in rows["Patients"]}
    payer_of = {pid: p["PayerKey"] for pid, p in patients.items()}
    day = defaultdict(list)
    for line in lines:
        day[line["PatientID"], line["DOS"]].append(line)

    assert err["code.deleted"]["Code"] == "97003"
    assert err["mod.wrong-discipline"]["Mod1"] == "GP" and providers[err["mod.wrong-discipline"]["RenderingNPI"]] == "OT"
    assert err["mod.cq-on-ot"]["Mod2"] == "CQ" and providers[err["mod.cq-on-ot"]["RenderingNPI"]] == "OTA"
    go = err["mod.go-missing"]
    assert go["Mod1"] is None and payer_of[go["PatientID"]] == "MEDICARE"
    over = err["units.over-billed"]
    assert (over["Code"], over["Minutes"], over["Units"]) == ("97530", 20, 3)
    assert payer_of[over["PatientID"]] == "MEDICARE" and len(day[over["PatientID"], over["DOS"]]) == 1
    bad_npi = err["npi.rendering-invalid"]["RenderingNPI"]
    assert not npi.is_valid(bad_npi) and bad_npi[:9] + npi.calc_check_digit(bad_npi[:9]) in providers
    assert err["dx.missing-primary"]["Dx1"] is None
    assert err["dx.malformed"]["Dx1"] == "62.81M"
    dup = err["dup.line"]
    twins = [x for x in day[dup["PatientID"], dup["DOS"]]
             if {k: v for k, v in x.items() if k != "LineID"} == {k: v for k, v in dup.items() if k != "LineID"}]
    assert len(twins) == 2
    addon = err["code.addon-without-base"]
    assert addon["Code"] == "97130" and "97129" not in {x["Code"] for x in day[addon["PatientID"], addon["DOS"]]}
    poc = err["date.outside-poc"]
    assert poc["DOS"] > patients[poc["PatientID"]]["POCEnd"]
    assert err["ref.patient-unknown"]["PatientID"] not in patients
    assert (err["units.untimed-over-1"]["Code"], err["units.untimed-over-1"]["Units"]) == ("97150", 2)
    co = err["mod.co-required"]  # Medicare: an assistant's service carries CO (facts §4)
    assert providers[co["RenderingNPI"]] == "OTA" and payer_of[co["PatientID"]] == "MEDICARE"
    assert "CO" not in [co[m] for m in ("Mod1", "Mod2", "Mod3", "Mod4")]
    kx = err["kx.missing"]
    kx_column = next(p.column for p in sample.PLANTED_ERRORS if p.rule == "kx.missing")
    mods = [kx[m] for m in ("Mod1", "Mod2", "Mod3", "Mod4")]
    assert "KX" not in mods and payer_of[kx["PatientID"]] == "MEDICARE"
    assert kx_column == f"Mod{mods.index(None) + 1}"  # the first free modifier slot
    assert kx_needed(rows)[kx["LineID"]]
    crossing = next(by_id[k.crossing_line_id] for k in sample.KX_PATIENTS if k.patient_id == kx["PatientID"])
    assert kx["DOS"] > crossing["DOS"]


def test_sample_is_clean_apart_from_planted_errors(rows):
    planted = {p.line_id for p in sample.PLANTED_ERRORS}
    lines = [line for line in rows["Charges"] if line["LineID"] not in planted]
    providers = {p["NPI"]: p["Credential"] for p in rows["Providers"]}
    patients = {p["PatientID"]: p for p in rows["Patients"]}
    payers = {p["PayerKey"]: p for p in rows["Payers"]}
    price = {c["Code"]: Decimal(str(c["ChargePerUnit"])) for c in rows["ChargeMaster"]}
    cat = catalogue()
    visits: dict[str, set] = defaultdict(set)
    evals: Counter = Counter()
    seen = Counter()
    needed = kx_needed(rows)
    for line in lines:
        patient = patients[line["PatientID"]]
        info = cat.lookup(line["Code"], line["DOS"])
        assert info.is_valid, line
        mods = ["GO"] + (["CO"] if providers[line["RenderingNPI"]] == "OTA" else [])
        mods += ["KX"] if needed.get(line["LineID"]) else []
        assert [line[m] for m in ("Mod1", "Mod2", "Mod3", "Mod4")] == mods + [None] * (4 - len(mods)), line
        assert line["POS"] == "11"
        assert line["Dx1"] and ICD10_SHAPE.match(line["Dx1"]) and (line["Dx2"] is None or ICD10_SHAPE.match(line["Dx2"]))
        assert patient["POCStart"] <= line["DOS"] <= patient["POCEnd"], line
        if payers[patient["PayerKey"]]["RequiresAuth"] == "Y":
            assert patient["AuthStart"] <= line["DOS"] <= patient["AuthEnd"], line
        if info.info.kind is CodeKind.EVALUATION and line["Code"] != "97168":
            evals[line["PatientID"]] += 1
        if line["Units"] is not None:
            assert Decimal(str(line["Charge"])) == price[line["Code"]] * line["Units"], line
        else:
            assert line["Charge"] is None
        visits[line["PatientID"]].add(line["DOS"])
        seen[line["PatientID"], line["DOS"], line["Code"], line["Mod1"], line["Mod2"]] += 1
    assert max(evals.values()) == 1
    assert max(seen.values()) == 1  # no duplicate lines apart from the planted one
    for pid, days in visits.items():
        patient = patients[pid]
        payer = payers[patient["PayerKey"]]
        if payer["RequiresAuth"] == "Y":
            assert patient["AuthNumber"] and len(days) <= patient["AuthVisits"], pid
        if payer["VisitLimitPerYear"]:
            assert len(days) <= payer["VisitLimitPerYear"], pid


def test_sample_units_follow_the_hand_rule(rows):
    """Re-derive every timed line's units: floor(m/15) + (m mod 15 >= 8), with the leftover recipe
    that makes the CMS pooled and AMA per-code rules agree (see the sample module docstring)."""
    planted = {p.line_id for p in sample.PLANTED_ERRORS}
    cat = catalogue()
    visits = defaultdict(list)
    for line in rows["Charges"]:
        if line["LineID"] not in planted:
            visits[line["PatientID"], line["DOS"]].append(line)
    timed_lines = blank = 0
    for key, lines in visits.items():
        leftovers = []
        for line in lines:
            info = cat.get(line["Code"])
            if not info.is_timed:
                assert line["Minutes"] is None and line["Units"] == 1, line
                continue
            timed_lines += 1
            m = line["Minutes"]
            assert m is not None and m >= 8, line
            leftovers.append(m % 15)
            if line["Units"] is None:
                blank += 1
            else:
                assert line["Units"] == m // 15 + (1 if m % 15 >= 8 else 0), line
        big = [r for r in leftovers if r >= 8]
        assert len(big) <= 1, key
        assert sum(leftovers) <= (14 if big else 7), key
    assert 0.03 <= blank / timed_lines <= 0.08


def test_sample_payments_are_consistent(rows):
    payments = rows["Payments"]
    assert 150 <= len(payments) <= 250
    lines = {line["LineID"]: line for line in rows["Charges"]}
    patients = {p["PatientID"]: p for p in rows["Patients"]}
    fees = {(f["PayerKey"], f["Code"]): Decimal(str(f["AllowedPerUnit"])) for f in rows["FeeSchedule"]}
    planted = {p.line_id for p in sample.PLANTED_ERRORS}
    ids = [p["PaymentID"] for p in payments]
    assert len(set(ids)) == len(ids)

    def money(v) -> Decimal:
        d = Decimal(str(v))
        assert d == d.quantize(Decimal("0.01"))
        return d

    for p in payments:
        line = lines[p["LineID"]]
        assert p["LineID"] not in planted
        assert line["DOS"].month == 9 and p["PaymentDate"] > line["DOS"]
        assert p["PayerKey"] == patients[line["PatientID"]]["PayerKey"] and p["Code"] == line["Code"]
        billed, allowed, paid, resp, adj = (money(p[k]) for k in ("Billed", "Allowed", "Paid", "PatientResp", "AdjAmount"))
        assert billed == money(line["Charge"])
        assert allowed == fees[p["PayerKey"], line["Code"]] * line["Units"]
        assert billed == allowed + adj and allowed == paid + resp
        assert min(paid, resp, adj) >= 0
        assert (p["Modifiers"], p["AdjGroup"], p["AdjReason"], p["Source"]) == ("GO", "CO", "45", "manual")
