"""The code catalogue as of a date of service (facts: ot-billing-facts.md §3, §9; ot-codes.csv)."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from otbill_xl.domain.codes import CodeKind, CodeStatus, catalogue, lookup, normalize_code
from otbill_xl.domain.models import Discipline


@pytest.mark.parametrize(
    ("code", "dos", "status"),
    [
        # 97003/97004 deleted for DOS from 2017-01-01 (facts §3, §9): last valid day 2016-12-31.
        ("97003", date(2016, 12, 31), CodeStatus.ACTIVE),
        ("97003", date(2017, 1, 1), CodeStatus.DELETED),
        ("97004", date(2026, 8, 3), CodeStatus.DELETED),
        # 97165-97168 took effect 2017-01-01.
        ("97165", date(2016, 12, 31), CodeStatus.NOT_YET_EFFECTIVE),
        ("97165", date(2017, 1, 1), CodeStatus.ACTIVE),
        # 97127/G0515 valid 2018-2019, replaced by 97129/97130 from 2020-01-01.
        ("G0515", date(2019, 12, 31), CodeStatus.ACTIVE),
        ("G0515", date(2020, 1, 1), CodeStatus.DELETED),
        ("97129", date(2019, 12, 31), CodeStatus.NOT_YET_EFFECTIVE),
        ("97129", date(2020, 1, 1), CodeStatus.ACTIVE),
        # 97762 deleted 2018-01-01 (97763 from then).
        ("97762", date(2018, 1, 1), CodeStatus.DELETED),
        ("97763", date(2018, 1, 1), CodeStatus.ACTIVE),
        ("97110", date(2026, 8, 3), CodeStatus.ACTIVE),
        ("99999", date(2026, 8, 3), CodeStatus.UNKNOWN),
    ],
)
def test_status_as_of_date_of_service(code, dos, status):
    assert lookup(code, dos).status is status


def test_replacements_and_hints():
    info = lookup("97003", date(2026, 1, 5)).info
    assert info.replaced_by == ("97165", "97166", "97167")
    assert lookup("97004", date(2026, 1, 5)).info.replaced_by == ("97168",)


def test_kinds_addons_and_flags():
    cat = catalogue()
    assert cat.get("97110").is_timed and cat.get("97110").unit_minutes == 15
    assert cat.get("97165").kind is CodeKind.EVALUATION and not cat.get("97165").is_timed
    assert cat.get("97150").kind is CodeKind.GROUP
    assert cat.get("97018").kind is CodeKind.UNTIMED
    assert cat.get("97130").addon_to == "97129" and cat.get("97130").is_addon
    assert cat.get("97546").addon_to == "97545"
    assert cat.get("96113").addon_to == "96112"
    assert not cat.get("97545").is_timed  # 2-hour code: not through the 15-minute table (facts §1.6)
    assert cat.get("97535").disciplines == (Discipline.OT,)
    assert cat.get("97161").disciplines == (Discipline.PT,)
    assert cat.get("97110").always_therapy and not cat.get("97129").always_therapy


def test_normalize_code():
    assert normalize_code(97110.0) == "97110"
    assert normalize_code(" g0283 ") == "G0283"
    assert lookup(97530.0, date(2026, 1, 5)).is_valid


def test_catalogue_agrees_with_the_shared_reference(shared):
    """Every code in shared/reference/ot-codes.csv is in the package catalogue with the same kind,
    deletion date, replacements and always-therapy flag."""
    with (shared / "reference" / "ot-codes.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cat = catalogue()
    assert len(rows) == len(cat)
    for row in rows:
        info = cat.get(row["code"])
        assert info is not None, row["code"]
        assert info.kind.value == row["kind"], row["code"]
        assert (info.deleted_on.isoformat() if info.deleted_on else "") == row["deleted_on"], row["code"]
        assert "|".join(info.replaced_by) == row["replaced_by"], row["code"]
        assert info.always_therapy == (row["always_therapy"] == "Y"), row["code"]
        assert (str(info.unit_minutes) if info.unit_minutes else "") == row["unit_minutes"], row["code"]
