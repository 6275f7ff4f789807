"""Every rule id a check can report has a plain-language title (otbill_xl/domain/rule_titles.py):
the scrub rules of the ``@rule`` registry, and the reading (``read.*``) and pricing (``price.*``)
findings, whose ids are string literals in the reader and the pricing code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from otbill_xl.domain.rule_titles import RULE_TITLES, rule_title
from otbill_xl.domain.scrub import RULES

PKG = Path(__file__).resolve().parent.parent / "otbill_xl"
#: A reading or pricing finding's id as it is written in the source.
FINDING_ID = re.compile(r"^(read|price)\.[a-z0-9]+(-[a-z0-9]+)*$")


def literal_finding_ids() -> dict[str, str]:
    """Every ``read.*`` / ``price.*`` id written as a string anywhere in the package → its file."""
    found: dict[str, str] = {}
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and FINDING_ID.match(node.value):
                found.setdefault(node.value, str(path.relative_to(PKG)))
    return found


def test_every_registered_rule_has_a_title():
    missing = sorted(set(RULES) - set(RULE_TITLES))
    assert not missing, f"add a plain-language title for {missing} to otbill_xl/domain/rule_titles.py"


def test_every_read_and_price_finding_has_a_title():
    ids = literal_finding_ids()
    # The scan finds what the reader and pricing report (a few known ones, so it cannot pass empty).
    assert {"read.bad-date", "read.sheet-missing", "read.duplicate-header", "price.no-contract-rate",
            "price.deductible-year"} <= set(ids)
    missing = {i: where for i, where in ids.items() if i not in RULE_TITLES}
    assert not missing, f"add a plain-language title for these ids to otbill_xl/domain/rule_titles.py: {missing}"


def test_no_title_for_an_id_that_no_longer_exists():
    known = set(RULES) | set(literal_finding_ids())
    stale = sorted(set(RULE_TITLES) - known)
    assert not stale, f"rule_titles.py has titles for ids nothing reports: {stale}"


def test_titles_are_short_distinct_plain_words():
    assert len(set(RULE_TITLES.values())) == len(RULE_TITLES), "two rules share a title"
    for rule, title in RULE_TITLES.items():
        assert title and len(title) <= 60, rule
        assert title[0].isupper() and not title.endswith("."), (rule, title)
        assert rule not in title and "[" not in title, (rule, title)  # words, not the id again


def test_unknown_ids_fall_back_to_the_id():
    assert rule_title("dx.missing-primary") == "No primary diagnosis (Dx1)"
    assert rule_title("no.such-rule") == "no.such-rule"
