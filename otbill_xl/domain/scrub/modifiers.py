"""Modifier rules: shape of the modifier cells, the plan-of-care discipline modifier (GO/GP/GN) and
the assistant modifiers (CO/CQ) (facts §4, §7). NCCI pairs are in ``ncci.py``."""

from __future__ import annotations

from collections.abc import Iterator

from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Discipline, PayerType
from otbill_xl.domain.scrub._context import (
    MEDICARE_TYPES,
    Hit,
    LineFacts,
    a_an,
    hit,
    rule,
)

E, W = Severity.ERROR, Severity.WARNING


def _is_shape_ok(token: str) -> bool:
    return len(token) == 2 and token.isascii() and token.isalnum()


@rule("mod.invalid", E, "modifiers",
      "Modifier is not two letters/digits (or one cell holds several modifiers).", "line")
def mod_invalid(f: LineFacts) -> Iterator[Hit]:
    """A HCPCS/CPT modifier is exactly two letters or digits, one per modifier position (837P SV101-3
    to -6; the sheet's Mod1-Mod4). A cell such as "GO,59" is split for the other checks but must be
    entered one modifier per column."""
    by_column: dict[str, list[str]] = {}
    for token, column in f.mods:
        by_column.setdefault(column, []).append(token)
    too_many = len(f.mods) > 4
    for column, tokens in by_column.items():
        bad = [t for t in tokens if not _is_shape_ok(t)]
        if bad:
            shown = bad[0] if len(bad[0]) <= 3 and bad[0].isascii() else ""
            what = f"'{shown}' is not a modifier" if shown else "the cell does not hold a modifier"
            yield hit("mod.invalid", column, f"{column}: {what} (a modifier is 2 letters/digits).",
                      f"Correct {column} (e.g. GO, CO, KX, 59) or clear it.")
        elif len(tokens) > 1 and not too_many:
            yield hit("mod.invalid", column,
                      f"{column} holds several modifiers ({', '.join(tokens)}); the claim takes one per "
                      "column.", f"Put one modifier per column: {_spread(f)}.")


def _spread(f: LineFacts) -> str:
    tokens = [t for t, _ in f.mods]
    return ", ".join(f"Mod{i + 1} {t}" for i, t in enumerate(tokens[:4]))


@rule("mod.too-many", E, "modifiers", "More than 4 modifiers on one line.", "line")
def mod_too_many(f: LineFacts) -> Iterator[Hit]:
    """A service line carries at most 4 modifiers (837P SV101-3..-6, CMS-1500 box 24D). Found when
    a cell holds several modifiers, e.g. Mod1 "GO,59" with Mod2-Mod4 filled."""
    if len(f.mods) > 4:
        column = f.mods[4][1]
        extra = ", ".join(t for t, _ in f.mods[4:])
        yield hit("mod.too-many", column,
                  f"The line has {len(f.mods)} modifiers; a claim line takes 4 ({extra} do not fit).",
                  "Keep the 4 that matter (discipline GO first, then CO, 59/X{EPSU}, KX) one per "
                  "column and drop the rest.")


@rule("mod.duplicate", E, "modifiers", "The same modifier twice on one line.", "line")
def mod_duplicate(f: LineFacts) -> Iterator[Hit]:
    """Each modifier is reported once per line; a repeated modifier is a typing slip that some
    payers reject (CARC 4/182)."""
    if len(f.mods) < 2 or len(f.mod_set) == len(f.mods):
        return
    seen = set()
    for token, column in f.mods:
        if token in seen:
            yield hit("mod.duplicate", column, f"{token} appears twice on this line.",
                      f"Remove the second {token} from {column}.")
        seen.add(token)


#: ABN liability modifiers (facts §4): GA = ABN given (the patient may be liable), GY = statutorily
#: excluded / not a Medicare benefit, GZ = denial expected and no ABN (the provider is liable).
LIABILITY_MODIFIERS = ("GA", "GY", "GZ")


@rule("mod.ga-gy-gz-together", E, "modifiers", "More than one of GA, GY and GZ on one line.", "line")
def mod_ga_gy_gz_together(f: LineFacts) -> Iterator[Hit]:
    """GA, GY and GZ each say who pays if Medicare denies the line (GA: the patient, an ABN was
    given; GZ: the provider, no ABN; GY: not a Medicare benefit at all), so they exclude each
    other: "Never put GA, GY and GZ on the same line" (facts §4; Noridian's GA modifier page)."""
    if len(f.mod_set.intersection(LIABILITY_MODIFIERS)) < 2:
        return
    found = list(dict.fromkeys(t for t, _ in f.mods if t in LIABILITY_MODIFIERS))  # in line order
    column = f.column_of(found[1])
    yield hit("mod.ga-gy-gz-together", column,
              f"{' and '.join(found)} on one line: each names a different party liable for a denial.",
              "Keep one: GA if the patient signed an ABN, GZ if no ABN was given (the line is denied, the "
              "practice is liable), GY if the service is not a Medicare benefit; clear the other "
              f"({column}).")


@rule("mod.kx-with-ga", W, "modifiers", "KX and GA on one line (they contradict each other).", "line")
def mod_kx_with_ga(f: LineFacts) -> Iterator[Hit]:
    """KX attests that therapy past the KX threshold is medically necessary and documented; GA says
    an ABN was given because Medicare may deny the service as not reasonable and necessary (facts
    §4). Noridian's page says GA cannot be combined with KX, but it was written for DME (facts §4
    marks it unverified for therapy), so this is a warning, not an error."""
    if "KX" in f.mod_set and "GA" in f.mod_set:
        yield hit("mod.kx-with-ga", f.column_of("GA"),
                  "KX (medically necessary, documented) and GA (ABN given: may not be necessary) on one "
                  "line.",
                  "Keep KX if the service is medically necessary and documented; keep GA (and an ABN on "
                  "file) if it is not.")


def _plan_discipline(f: LineFacts) -> Discipline | None:
    """The plan of care's discipline as far as the sheet shows it: the rendering provider's. Never
    the code's: the modifier follows the plan of care, not the code (facts §4), and the catalogue's
    disciplines only say who usually bills a code (facts §3, "not a rule")."""
    return f.provider.discipline if f.provider is not None else None


def wrong_discipline_modifier(f: LineFacts) -> tuple[Discipline, str, Discipline | None] | None:
    """(modifier's discipline, column, expected discipline) of a GO/GP/GN that does not match the
    rendering provider's discipline, or of the second of two conflicting discipline modifiers."""
    if not f.disc_mods:
        return None
    expected = _plan_discipline(f)
    if expected is not None:
        for disc, column in f.disc_mods:
            if disc is not expected:
                return disc, column, expected
        return None
    first = f.disc_mods[0][0]
    for disc, column in f.disc_mods[1:]:
        if disc is not first:
            return disc, column, None
    return None


@rule("mod.wrong-discipline", E, "modifiers",
      "GO/GP/GN does not match the line's discipline (e.g. GP on an OT line).", "line")
def mod_wrong_discipline(f: LineFacts) -> Iterator[Hit]:
    """The discipline modifier follows the plan of care: GO for OT, GP for PT, GN for SLP (facts §4,
    MCPM Ch.5 §20.1). A line is OT when an OT/OTA rendered it; GP or GN on it is wrong (and GO on a
    PT's line likewise). The code never decides it (a PT's 97535 is GP, an OT's 97116 is GO; see
    ``code.discipline-mismatch``). Two different discipline modifiers on one line contradict each
    other."""
    found = wrong_discipline_modifier(f)
    if found is None:
        return
    disc, column, expected = found
    if expected is None:
        yield hit("mod.wrong-discipline", column,
                  f"The line carries two discipline modifiers ({f.disc_mods[0][0].modifier} and "
                  f"{disc.modifier}).", f"Keep the one of the plan of care and clear {column}.")
        return
    cred = f.provider.credential if f.provider is not None else ""
    why = f"rendered by {a_an(cred or expected.value)}"
    yield hit("mod.wrong-discipline", column,
              f"{disc.modifier} ({disc.value}) on {a_an(expected.value)} line ({why}).",
              f"Change {column} to {expected.modifier}.")


@rule("mod.go-missing", E, "modifiers",
      "Discipline modifier (GO) missing where the payer requires it.", "line")
def mod_go_missing(f: LineFacts) -> Iterator[Hit]:
    """Medicare requires GO/GP/GN on every "always therapy" code and on "sometimes therapy" codes
    under a therapy plan of care (a therapist or assistant rendered it); payers with RequiresGO = Y
    require it on every line (facts §4, §7)."""
    if f.disc_mods or f.payer is None or f.info is None:
        return
    payer = f.payer
    required = payer.requires_go or (
        payer.payer_type in MEDICARE_TYPES
        and (f.info.always_therapy or (f.provider is not None and f.provider.discipline is not None))
    )
    if not required:
        return
    mod = (f.expected or Discipline.OT).modifier
    why = "requires a discipline modifier on every line" if payer.requires_go else \
        "requires GO/GP/GN on therapy codes"
    yield hit("mod.go-missing", f.free_column,
              f"No discipline modifier: payer {payer.payer_key} {why}.",
              f"Add {mod} in {f.free_column}." if f.free_column != "Mod1" or not f.mods
              else f"Change Mod1 to {mod}.")


def _cq_on_ot(f: LineFacts) -> bool:
    return "CQ" in f.mod_set and ("GO" in f.mod_set or _plan_discipline(f) is Discipline.OT)


@rule("mod.cq-on-ot", E, "modifiers", "CQ (PTA) on an OT line; OT assistants use CO.", "line")
def mod_cq_on_ot(f: LineFacts) -> Iterator[Hit]:
    """CQ marks a PTA's service and goes only with GP; an OTA's service carries CO with GO
    (facts §4, §7; CMS CQ/CO billing examples)."""
    if _cq_on_ot(f):
        column = f.column_of("CQ")
        yield hit("mod.cq-on-ot", column, "CQ (physical therapist assistant) on an OT line.",
                  f"Change {column} to CO.")


@rule("mod.co-without-go", E, "modifiers", "CO without GO, or CQ without GP.", "line")
def mod_co_without_go(f: LineFacts) -> Iterator[Hit]:
    """CO (OTA) goes only with GO, CQ (PTA) only with GP (facts §4, §7)."""
    if "CO" in f.mod_set and "GO" not in f.mod_set:
        column = f.column_of("CO")
        if "GP" in f.mod_set:
            fix = f"For a PTA's service change {column} to CQ; for an OTA's, change GP to GO."
        else:
            fix = "Add GO (CO is only billed with GO)."
        yield hit("mod.co-without-go", column, "CO (OT assistant) without GO on the line.", fix)
    if "CQ" in f.mod_set and "GP" not in f.mod_set and not _cq_on_ot(f):
        column = f.column_of("CQ")
        yield hit("mod.co-without-go", column, "CQ (PT assistant) without GP on the line.",
                  "Add GP (CQ is only billed with GP).")


@rule("mod.co-without-assistant", Severity.INFO, "modifiers",
      "CO/CQ on a line rendered by a therapist: billed as furnished in part by an assistant.", "line")
def mod_co_without_assistant(f: LineFacts) -> Iterator[Hit]:
    """CO/CQ mean an OTA/PTA furnished the service in whole or in part (facts §4). Assistants' services
    are billed under the supervising therapist's NPI (MBPM Ch.15 §230.1-230.4, facts §7a), so a
    therapist's line with CO/CQ is how a biller records the assistant's part: accepted, paid at 85 %
    (an info note, so a mistaken modifier can still be seen)."""
    if f.provider is None or f.provider.is_assistant:
        return
    for mod in ("CO", "CQ"):
        if mod in f.mod_set:
            column = f.column_of(mod)
            cred = f.provider.credential or "therapist"
            yield hit("mod.co-without-assistant", column,
                      f"{mod} on a line rendered by {a_an(cred)}: billed as furnished in part by an assistant "
                      "(Medicare pays 85%).",
                      f"Nothing to do if an assistant furnished part of it; otherwise remove {mod} from {column}.")


@rule("mod.assistant-missing-co", W, "modifiers",
      "Assistant (OTA/PTA) rendered the line but it has no CO/CQ.", "line")
def mod_assistant_missing_co(f: LineFacts) -> Iterator[Hit]:
    """From DOS 2020-01-01 services an OTA/PTA furnished in whole or in part carry CO/CQ, unless the
    assistant's own minutes are 10 % or less of the service (de minimis; facts §4). The sheet does
    not record the assistant's share of minutes, so this is a warning."""
    if f.provider is None or not f.provider.is_assistant or not f.post2020:
        return
    if "CO" in f.mod_set or "CQ" in f.mod_set or (f.payer is not None and f.payer.payer_type is PayerType.MEDICARE):
        return  # (Medicare: mod.co-required)
    mod = "CQ" if f.provider.discipline is Discipline.PT else "CO"
    yield hit("mod.assistant-missing-co", f.free_column,
              f"Rendered by {a_an(f.provider.credential)} (assistant) but the line has no {mod}.",
              f"Add {mod} in {f.free_column}, unless the assistant's part was 10% or less of the "
              "service (de minimis).")


@rule("mod.co-required", E, "modifiers",
      "Medicare line rendered by an assistant (OTA/PTA) without CO/CQ.", "line")
def mod_co_required(f: LineFacts) -> Iterator[Hit]:
    """Medicare requires CO/CQ on services an OTA/PTA furnished in whole or in part, from DOS
    2020-01-01, and pays them at 85 % from 2022 (SSA §1834(v); CMS CQ/CO billing examples; facts §4).
    The Charges row names who performed the line's minutes: a line the assistant performed is the
    assistant's service whole (minutes furnished together with the therapist are recorded under the
    therapist), so the de minimis exception cannot apply to it. Billed without CO/CQ it is paid at
    100 % — an overpayment the MAC recovers."""
    if f.provider is None or not f.provider.is_assistant or not f.post2020:
        return
    if f.payer is None or f.payer.payer_type is not PayerType.MEDICARE:
        return
    if "CO" in f.mod_set or "CQ" in f.mod_set:
        return
    mod = "CQ" if f.provider.discipline is Discipline.PT else "CO"
    yield hit("mod.co-required", f.free_column,
              f"Rendered by {a_an(f.provider.credential)} (assistant) for Medicare but the line has no {mod}.",
              f"Add {mod} in {f.free_column} (Medicare pays an assistant's service at 85%).")

