"""The scrubber as a whole: clean book, rule registry, fast paths, no patient data in messages."""

from __future__ import annotations

import csv
import gc
import io
import random
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_scrub_support import (
    COM,
    MCR,
    NPI_OT,
    NPI_OTA,
    NPI_PT,
    NPI_PTA,
    NPI_UNLISTED,
    PROVIDERS,
    book,
    clean_lines,
    line,
    patient,
    run,
)

import otbill_xl.domain.scrub as scrub_pkg
from otbill_xl import refdata
from otbill_xl.domain.codes import catalogue
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import Payer, PayerType
from otbill_xl.domain.scrub import RULES, RuleInfo, ScrubResult, scrub
from otbill_xl.domain.scrub._context import SCOPES

SCRUB_DIR = Path(scrub_pkg.__file__).parent


def test_clean_book_has_no_findings():
    r = run(clean_lines() + clean_lines("P2", start_row=4))
    assert isinstance(r, ScrubResult)
    assert r.findings == ()
    assert r.computed_units == {2: 2, 3: 1, 4: 2, 5: 1}
    assert r.lines_checked == 4


def test_empty_book():
    r = run([])
    assert r.findings == () and r.computed_units == {} and r.lines_checked == 0


def test_rules_registry():
    assert len(RULES) >= 30
    for rule_id, info in RULES.items():
        assert re.fullmatch(r"[a-z]+\.[a-z0-9-]+", rule_id), rule_id
        assert isinstance(info, RuleInfo)
        assert isinstance(info.severity, Severity)
        assert info.family and info.description


def test_rule_ids_required_by_the_brief_exist():
    for rule_id in ("code.deleted", "code.addon-without-base", "units.untimed-over-1", "mod.go-missing",
                    "mod.wrong-discipline", "mod.cq-on-ot", "mod.co-without-assistant", "units.over-billed",
                    "dx.missing-primary", "dx.malformed", "npi.rendering-invalid", "ref.patient-unknown",
                    "date.outside-poc", "dup.line"):
        assert rule_id in RULES


def test_every_rule_id_in_the_source_is_registered():
    emitted = set()
    for path in SCRUB_DIR.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        emitted |= set(re.findall(r'\b(?:hit|finding)\(\s*"([a-z]+\.[a-z0-9-]+)"', text))
    assert emitted, "no rule ids found in the source"
    assert emitted <= set(RULES), emitted - set(RULES)
    assert set(RULES) <= emitted, set(RULES) - emitted  # no registered rule without a place it fires


def test_every_rule_function_has_a_docstring():
    for scope, fns in SCOPES.items():
        for fn in fns:
            assert fn.__doc__ and len(fn.__doc__.strip()) > 40, (scope, fn.__name__)


def test_gc_state_restored():
    assert gc.isenabled()
    run(clean_lines())
    assert gc.isenabled()
    gc.disable()
    try:
        run(clean_lines())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_findings_sorted_by_sheet_then_row():
    r = run([line(row=9, dx=()), line("99999", row=3)],
            patients=(patient("P1", member_id=""),))
    places = [(f.location.sheet, f.location.row or 0) for f in r.findings]
    rank = {"Practice": 0, "Payers": 1, "Patients": 2, "Charges": 3}
    assert places == sorted(places, key=lambda p: (rank[p[0]], p[1]))
    assert all(isinstance(f, Finding) and f.fix for f in r.findings)


def test_as_of_is_a_parameter_not_the_clock():
    lines = [line(row=3, pid="P2", dos=date(2025, 8, 1))]
    assert any(f.rule == "date.timely-filing-passed" for f in run(lines, as_of=date(2026, 3, 2)).findings)
    assert not any(f.rule.startswith("date.timely") for f in run(lines, as_of=date(2025, 9, 1)).findings)


# --- a random dirty book: fast paths must not change the result -----------------------------

CODES = ["97530", "97535", "97110", "97112", "97140", "97165", "97168", "97003", "97129", "97130",
         "97150", "97116", "97161", "99999", "G0283", "97546", "97760"]
MODS = [(), ("GO",), ("GO",), ("GO",), ("GP",), ("GO", "CO"), ("GO", "CQ"), ("GO", "59"), ("CO",),
        ("GO,XU",), ("GO", "GO")]
NPIS = [NPI_OT, NPI_OT, NPI_OTA, NPI_PT, NPI_PTA, NPI_UNLISTED, "1234567890", ""]
DXS = [("M25.511",), ("M25.511", "R26.89"), (), ("719.41",), ("G81.91", "Z74.09", "M62.81", "R27.8")]
AUTH = Payer(payer_key="AUT", payer_type=PayerType.MEDICAID, requires_auth=True, visit_limit_per_year=5,
             timely_filing_days=90)


def _random_book(seed: int, n: int = 600):
    rng = random.Random(seed)
    pats = [
        patient("P1"),
        patient("P2", payer_key="COM", member_id="X1"),
        patient("P3", payer_key="AUT", auth_number="A", auth_start=date(2026, 1, 10),
                auth_end=date(2026, 2, 20), auth_visits=4, poc_end=None),
        patient("P4", payer_key="AUT", poc_start=None, poc_end=None, dob=date(2026, 1, 20)),
        patient("P5", payer_key="MCR", poc_start=date(2025, 10, 1), poc_end=date(2026, 6, 30)),
    ]
    lines = []
    for k in range(n):
        dos = None if rng.random() < 0.02 else date(2025, 6, 1) + timedelta(days=rng.randrange(300))
        minutes = rng.choice([None, 5, 8, 15, 20, 23, 30, 38, 45, 53])
        units = rng.choice([None, 0, 1, 2, 3]) if rng.random() < 0.3 else (
            None if minutes is None else (minutes + 7) // 15)
        lines.append(line(rng.choice(CODES), row=2 + k, pid=rng.choice(["P1", "P2", "P3", "P4", "P5", "P9"]),
                          dos=dos, npi=rng.choice(NPIS), mods=rng.choice(MODS), minutes=minutes, units=units,
                          dx=rng.choice(DXS), status=rng.choice(["", "", "", "billed", "rejected"])))
    return book(lines, payers=(MCR, COM, AUTH), providers=PROVIDERS, patients=pats)


def _as_rows(result):
    return sorted((f.rule, f.severity.value, f.location.sheet, f.location.row or 0, f.location.column,
                   f.message, f.fix) for f in result.findings)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_paths_do_not_change_the_result(seed, monkeypatch):
    b = _random_book(seed)
    fast = scrub(b, as_of=date(2026, 3, 2))
    monkeypatch.setattr(scrub_pkg, "_USE_VISIT_CACHE", False)
    monkeypatch.setattr(scrub_pkg, "_USE_SAFE_RANGE", False)
    monkeypatch.setattr(scrub_pkg, "_USE_WHEN_MASKS", False)
    slow = scrub(b, as_of=date(2026, 3, 2))
    assert _as_rows(fast) == _as_rows(slow)
    assert fast.computed_units == slow.computed_units
    assert len({f.rule for f in fast.findings}) >= 30  # the random book exercises most rules


def test_no_patient_data_in_messages():
    b = _random_book(4)
    secrets = set()
    for p in b.patients:
        secrets |= {p.last_name, p.first_name, p.member_id}
        if p.dob:
            secrets |= {p.dob.isoformat(), p.dob.strftime("%m/%d/%Y")}
    secrets.discard("")
    for f in scrub(b, as_of=date(2026, 3, 2)).findings:
        text = f.message + " " + f.fix
        assert not any(s in text for s in secrets), (f.rule, text)


def test_rows_not_shared_between_visits_with_the_same_pattern():
    # Two visits with the same pattern: each finding points at its own row, and references to
    # other lines name the visit's own rows.
    lines = [line(row=2), line(row=3), line(row=10, dos=date(2026, 2, 3)), line(row=11, dos=date(2026, 2, 3))]
    found = [f for f in run(lines).findings if f.rule == "dup.line"]
    assert [(f.location.row, "row 2" in f.message, "row 10" in f.message) for f in found] == \
        [(3, True, False), (11, False, True)]


# --- reference tables ------------------------------------------------------------------------


def test_ncci_table_codes_are_in_the_catalogue():
    rows = list(csv.DictReader(io.StringIO(refdata.read_text("ncci_pairs.csv"))))
    assert rows
    cat = catalogue()
    for row in rows:
        assert row["column1"] in cat and row["column2"] in cat, row
        assert row["modifier_indicator"] in {"0", "1", "9"}
        assert "§6" in row["source"]
        for key in ("effective_from", "deleted_on"):
            if row[key]:
                date.fromisoformat(row[key])


def test_unit_limits_table():
    rows = list(csv.DictReader(io.StringIO(refdata.read_text("unit_limits.csv"))))
    cat = catalogue()
    assert {r["code"] for r in rows} >= {"97129", "97165", "97166", "97167", "97168"}
    for row in rows:
        assert row["code"] in cat
        assert int(row["max_units_per_day"]) >= 1
        assert row["source"]


def test_every_dated_rule_is_covered_by_its_modules_bounds():
    """The engine skips ``dated`` rules for visits inside the patient's safe DOS range, the
    intersection of the modules' ``@bounds``. A dated rule in a module without bounds would be skipped
    wrongly inside the other modules' ranges: this test fails until its module declares its bounds.
    (``ref.patient-unknown`` is the one exception: it fires only for patients not on the Patients
    sheet, for whom no safe range is computed, so every dated rule runs.)"""
    from otbill_xl.domain.scrub._context import BOUNDS, SCOPES

    with_bounds = {fn.__module__ for fn in BOUNDS}
    uncovered = [f"{fn.__module__}.{fn.__name__}" for fn in SCOPES["dated"]
                 if fn.__module__ not in with_bounds and getattr(fn, "rule_id", "") != "ref.patient-unknown"]
    assert uncovered == []
    assert {fn.__module__ for fn in SCOPES["dated"]} - with_bounds == {"otbill_xl.domain.scrub.identifiers"}


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(min_value=4, max_value=10_000), as_of=st.dates(date(2025, 9, 1), date(2027, 6, 30)))
def test_fast_paths_agree_with_the_reference_on_generated_books(seed, as_of):
    """Visit cache, ``when`` masks and safe DOS ranges against the plain engine (every rule on every
    visit), on generated books and check dates."""
    b = _random_book(seed, n=250)
    fast = scrub(b, as_of=as_of)
    saved = scrub_pkg._USE_VISIT_CACHE, scrub_pkg._USE_SAFE_RANGE, scrub_pkg._USE_WHEN_MASKS
    scrub_pkg._USE_VISIT_CACHE = scrub_pkg._USE_SAFE_RANGE = scrub_pkg._USE_WHEN_MASKS = False
    try:
        slow = scrub(b, as_of=as_of)
    finally:
        scrub_pkg._USE_VISIT_CACHE, scrub_pkg._USE_SAFE_RANGE, scrub_pkg._USE_WHEN_MASKS = saved
    assert _as_rows(fast) == _as_rows(slow)
    assert fast.computed_units == slow.computed_units


def test_readme_counts_the_rules():
    """The README's rule count is the registry's (rules are added often; the count must not go stale)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"\n{len(RULES)} rules (ids and descriptions in" in readme
