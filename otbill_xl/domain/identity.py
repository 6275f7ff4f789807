"""What a billed service *is*, so it is never billed twice — whatever its LineID says.

A charge line is identified three ways (issue #8, "never bill twice"):

* its **line identity** — the biller's LineID with the patient and date of service. The same line
  seen again is "already billed"; the same line with other content (code, modifiers, units,
  rendering provider) has *changed since it was billed* and needs a corrected claim, not a new
  original claim;
* its **service identity** — what was done, within the billing provider: billing NPI + patient +
  date of service + code + modifiers (in any order) + rendering NPI + units. A line that matches
  an already billed service under another LineID (renumbered rows, a copied sheet) is held back as
  a *probable duplicate*;
* its **sending identity** — for corrected (7) and void (8) lines, the frequency, the original
  claim number and the service identity: a correction is sent once per original claim and change,
  never again on a re-run.

These are pure functions: the ledger stores the keys and answers which were billed; the claim
assembly holds back what :func:`prior_billing` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

SEP = "|"


def line_identity(line_id: str, patient_id: str, dos: date | None) -> str:
    """The LineID with patient and date of service ('' when the line has no LineID: a blank LineID
    identifies nothing, so only the service identity protects such a line)."""
    if not line_id:
        return ""
    return SEP.join((line_id, patient_id, dos.isoformat() if dos else ""))


def modifiers_text(modifiers: Iterable[str]) -> str:
    """Modifiers as one comparable text: upper case, in sorted order (GO+CO is CO+GO)."""
    return "+".join(sorted(m.strip().upper() for m in modifiers if m and m.strip()))


def service_identity(billing_npi: str, patient_id: str, dos: date | None, code: str, modifiers: Iterable[str],
                     rendering_npi: str, units: int | None) -> str:
    """What was done, for whom, when, by whom, how much — within one billing provider."""
    return SEP.join((billing_npi, patient_id, dos.isoformat() if dos else "", code.strip().upper(),
                     modifiers_text(modifiers), rendering_npi, "" if units is None else str(units)))


def sending_identity(frequency: str, original_claim_number: str, service: str) -> str:
    """A corrected/void line's identity: sent once per original claim and per change of the service.
    ('' for original lines, whose protection is the line and service identities.)"""
    if frequency not in ("7", "8"):
        return ""
    return SEP.join((frequency, original_claim_number.strip(), service))


class BilledService(NamedTuple):
    """One service line the ledger holds as billed (in a file pending or written)."""

    line_id: str
    claim_id: str
    frequency: str
    original_claim_number: str
    billed_at: str          # ISO timestamp of the run that billed it
    code: str
    modifiers: str          # as modifiers_text
    units: str
    line_key: str           # line identity
    service_key: str        # service identity ('' for lines recorded before services had one)
    sending_key: str


@dataclass(frozen=True)
class BillingHistory:
    """What the ledger knows about a set of keys: every billed record per line identity, and the
    first billed record per service and sending identity."""

    by_line: Mapping[str, Sequence[BilledService]]
    by_service: Mapping[str, BilledService]
    by_sending: Mapping[str, BilledService]


EMPTY_HISTORY = BillingHistory({}, {}, {})


class ServiceKeys(NamedTuple):
    """The identities of one charge line as it would be billed now."""

    row: int
    line_id: str
    frequency: str          # "1", "7", "8" (or "" when unreadable: such lines are held back anyway)
    code: str
    modifiers: str
    units: int | None
    line_key: str
    service_key: str
    sending_key: str


class Prior(NamedTuple):
    """Why the ledger holds a line back. ``kind``: ``billed`` (this very line was billed: its
    ClaimID and Status come from the ledger), ``changed`` (billed, then edited), ``duplicate``
    (the same service under another LineID), ``sent`` (this correction was already sent)."""

    kind: str
    claim_id: str
    billed_at: str
    reason: str


def _day(stamp: str) -> str:
    return stamp[:10]


def _what(code: str, modifiers: str, units: object) -> str:
    mods = f"-{modifiers.replace('+', '-')}" if modifiers else ""
    return f"{code}{mods} ×{units}" if units not in (None, "") else f"{code}{mods}"


def prior_billing(lines: Iterable[ServiceKeys], history: BillingHistory,
                  rebill: frozenset[str] | set[str] = frozenset()) -> dict[int, Prior]:
    """Charge rows the ledger says must not be billed now, with the reason a biller can act on.

    * An original line (frequency 1) whose line identity was billed with the same content is
      ``billed``; with other content it ``changed`` (bill the change as a corrected claim,
      frequency 7 with the payer's original claim number); a line whose service identity was billed
      under another LineID is a probable ``duplicate``. ``rebill`` (LineIDs) lifts these holds.
    * A corrected/void line whose sending identity was billed is ``sent`` already (``rebill`` does
      not lift it: change the line or the original claim number to send another).
    """
    out: dict[int, Prior] = {}
    if not (history.by_line or history.by_service or history.by_sending):
        return out  # nothing billed under any of these identities: nothing to hold back
    for s in lines:
        if s.frequency in ("7", "8"):
            hit = history.by_sending.get(s.sending_key) if s.sending_key else None
            if hit is not None:
                word = "corrected" if s.frequency == "7" else "void"
                out[s.row] = Prior("sent", hit.claim_id, hit.billed_at,
                                   f"this {word} claim line was already sent in claim {hit.claim_id} on "
                                   f"{_day(hit.billed_at)}; a re-run never sends it again (change the line or the "
                                   "OriginalClaimNumber to send another correction)")
            continue
        if s.frequency != "1" or (s.line_id and s.line_id in rebill):
            continue
        priors = history.by_line.get(s.line_key, ()) if s.line_key else ()
        if priors:
            same = [p for p in priors if p.service_key == s.service_key
                    or (not p.service_key and p.code == s.code)]  # recorded before service identities
            if same:
                p = same[-1]
                out[s.row] = Prior("billed", p.claim_id, p.billed_at,
                                   f"already billed in claim {p.claim_id} on {_day(p.billed_at)} (use --rebill "
                                   f"{s.line_id} or a corrected claim to bill it again)")
            else:
                p = priors[-1]
                out[s.row] = Prior(
                    "changed", p.claim_id, p.billed_at,
                    f"changed since it was billed in claim {p.claim_id} on {_day(p.billed_at)} "
                    f"(billed as {_what(p.code, p.modifiers, p.units)}, now {_what(s.code, s.modifiers, s.units)}): "
                    f"send the change as a corrected claim — set Frequency to 7 and OriginalClaimNumber to the "
                    f"payer's claim number for {p.claim_id} — or, if it is a new service, give it a new LineID "
                    f"or use --rebill {s.line_id}")
            continue
        hit = history.by_service.get(s.service_key)
        if hit is not None:
            other = f"LineID {hit.line_id}" if hit.line_id else "a line without LineID"
            how = (f"--rebill {s.line_id}" if s.line_id else
                   "a LineID: type one in this line's LineID cell, then run claims again with --rebill and that LineID")
            out[s.row] = Prior("duplicate", hit.claim_id, hit.billed_at,
                               f"probable duplicate: the same service (patient, date, code, modifiers, provider, "
                               f"units) was billed in claim {hit.claim_id} as {other} on {_day(hit.billed_at)}; "
                               f"if this is a separate service, bill it with {how}")
    return out
