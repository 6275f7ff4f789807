"""A plain-language title for every rule id a check can report, in one place.

The Findings and Check Summary sheets show the title beside the rule id, so a biller reads "No
primary diagnosis (Dx1)" rather than ``dx.missing-primary``. Scrub rules (the ``@rule`` registry,
:data:`otbill_xl.domain.scrub.RULES`), reading findings (``read.*``, from the workbook reader) and
pricing findings (``price.*``) all have one; ``tests/test_rule_titles.py`` fails when a rule id
appears anywhere in the package without a title here. A title names the problem in a few words (no
values, no patient data); the finding's message and fix say the rest.
"""

from __future__ import annotations

RULE_TITLES: dict[str, str] = {
    # --- reading the workbook (otbill_xl/workbook/reader.py, mapping.py) -------------------------
    "read.sheet-missing": "Sheet missing",
    "read.header-not-found": "Header row not found",
    "read.column-missing": "Required column missing",
    "read.duplicate-header": "Two columns with the same header",
    "read.merged-header": "Merged header cells",
    "read.hidden-sheet": "Hidden sheet read",
    "read.hidden-rows": "Hidden rows read",
    "read.out-of-range": "Value out of range",
    "read.dotted-date": "Dotted dates read day first",
    "read.unreadable-row": "Row cannot be read",
    "read.error-cell": "Excel error in a cell",
    "read.bad-value": "Value cannot be read",
    "read.bad-date": "Date cannot be read",
    "read.bad-number": "Number cannot be read",
    "read.bad-amount": "Amount cannot be read",
    "read.bad-flag": "Y/N cell cannot be read",
    "read.bad-choice": "Value is not one of the choices",
    "read.formula-no-value": "Formula without a saved result",
    "read.blank-key": "Row without its key skipped",
    # --- codes, evaluations, place of service, charge ---------------------------------------------
    "code.unknown": "Procedure code unknown or blank",
    "code.not-in-catalogue": "Code not in the OT code list",
    "code.deleted": "Procedure code deleted",
    "code.not-yet-effective": "Procedure code not yet valid",
    "code.discipline-mismatch": "Code usually billed by another discipline",
    "code.addon-without-base": "Add-on code without its base code",
    "eval.eval-and-reeval-same-day": "Evaluation and re-evaluation on one day",
    "eval.duplicate-same-day": "Two evaluations on one day",
    "pos.invalid": "Place of service not valid",
    "charge.not-positive": "Charge zero or negative",
    # --- modifiers --------------------------------------------------------------------------------
    "mod.invalid": "Modifier not valid",
    "mod.too-many": "More than 4 modifiers",
    "mod.duplicate": "Same modifier twice",
    "mod.ga-gy-gz-together": "GA, GY and GZ combined",
    "mod.kx-with-ga": "KX and GA together",
    "mod.wrong-discipline": "Wrong discipline modifier (GO/GP/GN)",
    "mod.go-missing": "GO modifier missing",
    "mod.cq-on-ot": "CQ on an OT line (OT assistants use CO)",
    "mod.co-without-go": "CO without GO (or CQ without GP)",
    "mod.co-without-assistant": "CO/CQ on a therapist's line",
    "mod.assistant-missing-co": "Assistant's line without CO/CQ",
    "mod.co-required": "Medicare assistant's line needs CO",
    "kx.missing": "KX modifier needed (therapy threshold reached)",
    "kx.targeted-review": "Past the targeted medical review amount",
    # --- units and minutes ------------------------------------------------------------------------
    "units.over-billed": "More units than the minutes support",
    "units.under-billed": "Fewer units than the minutes support",
    "units.under-8-minutes": "Timed service under 8 minutes",
    "units.minutes-missing": "Minutes missing (units not verified)",
    "units.missing": "No units and no minutes",
    "units.addon-line-missing": "Add-on line missing for the extra time",
    "units.assistant-split": "Units split wrongly between assistant and therapist",
    "units.minutes-invalid": "Minutes not valid",
    "units.untimed-over-1": "Untimed code with more than 1 unit",
    "units.daily-limit": "Over the code's daily unit limit",
    "ncci.mue": "Over CMS's daily unit limit (MUE)",
    "ncci.units-ceiling": "Units above the daily ceiling",
    "ncci.ceiling-setting": "MaxUnitsPerDay setting not valid",
    "ncci.ptp-pair": "Code pair not billable together (NCCI)",
    "ncci.pair-unverified": "Possible NCCI code pair (not verified)",
    # --- diagnoses, duplicates --------------------------------------------------------------------
    "dx.missing-primary": "No primary diagnosis (Dx1)",
    "dx.malformed": "Diagnosis code not valid",
    "dx.too-many-on-claim": "More than 12 diagnoses on one claim",
    "dup.line": "Duplicate line",
    "dup.pt-ot-same-day": "OT and PT on one day without GO/GP",
    # --- providers, patients, payers --------------------------------------------------------------
    "npi.rendering-invalid": "Rendering NPI not valid",
    "npi.billing-invalid": "Practice billing NPI not valid",
    "npi.referring-invalid": "Referring NPI not valid",
    "ref.rendering-unknown": "Rendering provider not on the Providers sheet",
    "ref.supervisor-missing": "Assistant without a supervising therapist",
    "ref.patient-unknown": "Patient not on the Patients sheet",
    "ref.taxid-format": "Practice tax ID not valid",
    "ref.payer-unknown": "Patient's payer unknown",
    "ref.member-id-missing": "Member ID missing",
    "ref.patient-duplicate": "Patient listed twice",
    "ref.patient-unsendable": "Patient name or member ID cannot be sent",
    "ref.referring-missing": "Referring provider missing",
    "ref.referring-organisation": "Referring provider looks like an organisation",
    "ref.subscriber-not-self": "Medicare/Medicaid patient not the subscriber",
    "ref.patient-address-missing": "Patient address incomplete",
    "ref.secondary-unbillable": "Secondary payer cannot be billed",
    # --- dates, plan of care, authorization, payer limits ----------------------------------------
    "date.dos-missing": "Date of service missing",
    "date.dos-future": "Date of service in the future",
    "date.dos-before-birth": "Date of service before birth",
    "date.outside-poc": "Date of service outside the plan of care",
    "date.poc-missing": "Plan of care dates missing",
    "date.recert-overdue": "Plan of care needs recertification",
    "date.progress-report-due": "Progress report due",
    "date.timely-filing-passed": "Timely filing limit passed",
    "date.timely-filing-near": "Timely filing limit near",
    "auth.missing": "Prior authorization missing",
    "auth.outside-window": "Date of service outside the authorization",
    "auth.visits-exceeded": "More visits than authorized",
    "payer.visit-limit": "Over the payer's yearly visit limit",
    # --- the practice (billing provider, EDI settings) --------------------------------------------
    "practice.address-po-box": "Practice address is a PO box",
    "practice.address-missing": "Practice address incomplete",
    "practice.zip-not-9": "Practice ZIP needs ZIP+4",
    "practice.pay-to-incomplete": "Pay-to address incomplete",
    "practice.entity-type": "BillingEntityType not 1 or 2",
    "practice.billing-name-missing": "Billing person's name missing",
    "practice.edi-setting": "EDI setting missing or malformed",
    # --- pricing (otbill_xl/domain/pricing.py) ----------------------------------------------------
    "price.no-medicare-rate": "No Medicare rate for the code",
    "price.no-contract-rate": "No contracted rate for the code",
    "price.rate-out-of-range": "Fee schedule rate out of range",
    "price.units-out-of-range": "Too many units to price",
    "price.pfs-status": "No Medicare fee-schedule payment for the code",
    "price.copay-not-applied": "Copay not applied",
    "price.no-deductible-amount": "Part B deductible amount unknown",
    "price.deductible-year": "Deductible before DeductibleYear unknown",
}


def rule_title(rule: str) -> str:
    """The plain-language title of ``rule`` (the id itself for an id without one)."""
    return RULE_TITLES.get(rule, rule)
