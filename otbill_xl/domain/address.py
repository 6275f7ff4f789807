"""Postal facts an 837P address needs: the USPS state codes (``refdata/us_states.csv``)."""

from __future__ import annotations

from functools import cache

from otbill_xl import refdata


@cache
def us_states() -> frozenset[str]:
    """The state codes an 837P address (N402) may carry: the USPS two-letter codes of the states, DC,
    the outlying areas and the Armed Forces (refdata/SOURCES.md)."""
    return frozenset(line.split(",", 1)[0] for line in refdata.read_text("us_states.csv").splitlines()[1:] if line)
