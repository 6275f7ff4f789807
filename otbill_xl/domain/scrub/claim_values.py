"""Values written to the 837P service line that a payer (or an X12 validator) rejects outright: the
place of service against the dated CMS POS code set, and a charge that is zero or negative.

Both are checked line by line over the Charges sheet (scope ``sheet``: the cached line and visit
facts do not include POS or the charge). The pass looks at each distinct POS once and only walks the
lines again for codes that are invalid, or valid only from or until a date.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from functools import cache
from operator import attrgetter

from otbill_xl import refdata
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.scrub._context import CHARGES, SheetContext, finding, rule

E = Severity.ERROR

#: What a blank POS cell means on the claim (domain/claims.py writes 11, office).
BLANK_POS = "11"

_pos_of = attrgetter("pos")
_charge_of = attrgetter("charge")


@cache
def pos_codes() -> dict[str, tuple[tuple[date | None, date | None, str], ...]]:
    """The CMS place of service code set (``refdata/pos_codes.csv``): code -> (effective_from,
    effective_to, name) rows; a blank date is open-ended."""
    out: dict[str, list[tuple[date | None, date | None, str]]] = {}
    for row in csv.DictReader(io.StringIO(refdata.read_text("pos_codes.csv"))):
        start, end = row["effective_from"].strip(), row["effective_to"].strip()
        out.setdefault(row["code"].strip(), []).append((
            date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None,
            row["name"].strip()))
    return {code: tuple(rows) for code, rows in out.items()}


def pos_valid_on(code: str, dos: date | None) -> bool:
    """True when ``code`` is in the POS code set on ``dos`` (any row covering it; no DOS: any row)."""
    for start, end, _name in pos_codes().get(code, ()):
        if dos is None or ((start is None or start <= dos) and (end is None or dos <= end)):
            return True
    return False


def _always_valid() -> frozenset[str]:
    return frozenset(c for c, rows in pos_codes().items() if any(s is None and e is None for s, e, _ in rows))


def _normal(raw: object) -> str:
    """The POS as the claim writes it: trimmed, a 1-digit code padded ("2" typed in a number cell)."""
    text = str(raw).strip()
    return text.zfill(2) if text.isdigit() and len(text) == 1 else text


@rule("pos.invalid", E, "claim", "Place of service not in the CMS POS code set on the date of service.", "sheet")
def pos_invalid(s: SheetContext) -> Iterator[Finding]:
    """The place of service (837P CLM05-1) must be a code of the CMS Place of Service code set in
    effect on the DOS (the HIPAA code set for professional claims; ``refdata/pos_codes.csv``, facts §7:
    02 renamed and 10 added 2022-01-01). ``00`` and unassigned codes are rejected by the payer and by
    X12 validators. A blank POS is billed as 11 (office), so it is not flagged."""
    lines = s.book.charges
    always = _always_valid()
    suspect = {p for p in set(map(_pos_of, lines)) if p and _normal(p) not in always}
    if not suspect:
        return
    known = pos_codes()
    for line in lines:
        raw = line.pos
        if raw not in suspect:
            continue
        code = _normal(raw)
        if pos_valid_on(code, line.dos):
            continue
        if code in known and line.dos is not None:
            spans = ", ".join(f"{a.isoformat() if a else 'always'} to {b.isoformat() if b else 'now'}"
                              for a, b, _ in known[code])
            message = f"Place of service {code} is not valid on the date of service (valid {spans})."
        elif code.isdigit() and len(code) == 2:
            message = f"Place of service {code} is not a code of the CMS POS code set (00 and unassigned codes are rejected)."
        else:
            message = "The place of service is not a 2-digit CMS POS code."
        yield finding("pos.invalid", CHARGES, line.row, "POS", message,
                      "Enter the 2-digit CMS place of service where the service was given (11 office, 12 home, "
                      "02/10 telehealth from 2022 ...), or leave POS blank for 11 (office).")


@rule("charge.not-positive", E, "claim", "Charge is zero or negative on a line with units.", "sheet")
def charge_not_positive(s: SheetContext) -> Iterator[Finding]:
    """The line charge (837P SV102) is the practice's billed amount: a negative amount is not a
    charge (refunds and write-offs belong on Payments), and a 0.00 charge on a billed unit bills
    nothing (payers deny or reject it; issue #12 §3). A blank charge is priced from the charge master
    and not flagged; a line with 0 units is not billed, so its 0.00 charge is not flagged either."""
    lines = s.book.charges
    if all(a is None or a > 0 for a in set(map(_charge_of, lines))):  # (a few distinct amounts)
        return
    for line in lines:
        amount = line.charge
        if amount is None or amount > 0:
            continue
        if amount < 0:
            message = "The charge is negative."
        elif line.units == 0:
            continue
        else:
            message = "The charge is 0.00: the line would bill nothing."
        yield finding("charge.not-positive", CHARGES, line.row, "Charge", message,
                      "Enter the practice's charge for the line (units × the charge master rate), or clear the "
                      "cell so the charge master prices it.")
