"""Builds the practice-workbook templates with openpyxl.

* ``otbill-practice.xlsx``: the empty practice workbook (Instructions + one Excel Table per
  contract sheet, in :data:`~otbill_xl.workbook.contract.SHEETS` order, + a hidden ``Lists`` sheet
  feeding the dropdowns).
* ``examples/sample-practice.xlsx``: the same layout filled with the synthetic sample practice
  of :mod:`otbill_xl.templates.sample`.

Builds are deterministic: the same cell values, tables and validations every run, fixed document
dates and fixed zip entry times, so a rebuild of unchanged code gives the same bytes.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import textwrap
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from otbill_xl.domain.codes import catalogue
from otbill_xl.workbook.contract import (
    COMMON_MODIFIERS,
    COMMON_POS,
    PAYER_TYPES,
    PAYERS,
    PRACTICE_SETTINGS,
    RELATIONSHIPS,
    SEXES,
    SHEETS,
    UNIT_RULES,
    CellKind,
    Sheet,
)

TEMPLATE_NAME = "otbill-practice.xlsx"
SAMPLE_NAME = "sample-practice.xlsx"
INSTRUCTIONS = "Instructions"
LISTS = "Lists"

#: Fixed document and zip-entry time, so builds do not depend on the clock.
BUILD_TIME = datetime(2026, 1, 1, 0, 0, 0)
TABLE_STYLE = "TableStyleMedium2"
#: Data validations cover at least this many rows (and 500 beyond the data).
VALIDATION_ROWS = 1000
#: The PayerKey dropdown reads this many Payers rows.
PAYER_ROWS = 500

_FORMATS = {CellKind.DATE: "yyyy-mm-dd", CellKind.MONEY: "#,##0.00", CellKind.INT: "0", CellKind.DECIMAL: "0.0000"}
_TEXT = "@"  # ID, code, text, flag and choice columns: typed text keeps leading zeros (ZIP, POS 03)
_KIND_LABEL = {
    CellKind.TEXT: "text", CellKind.ID: "text (identifier)", CellKind.CODE: "code (text)",
    CellKind.DATE: "date", CellKind.INT: "whole number", CellKind.MONEY: "amount", CellKind.FLAG: "Y or N",
    CellKind.DECIMAL: "number",
    CellKind.CHOICE: "one of: ",
}
_MIN_WIDTH = {CellKind.DATE: 12, CellKind.MONEY: 12, CellKind.INT: 8}

#: What each column means, for the Instructions sheet: "Sheet.Column" first, then "Column".
COLUMN_HELP: dict[str, str] = {
    "Practice.Setting": "Name of the setting. The template lists every setting otbill reads; keep the names.",
    "Practice.Value": "The setting's value (see the list of settings below).",
    "PayerKey": "Your short key for the payer (e.g. MEDICARE). Patients, FeeSchedule and Payments refer to it.",
    "PayerName": "Payer name as it goes on claims.",
    "PayerType": "medicare, medicare_advantage, medicaid, commercial, workers_comp, auto or self_pay.",
    "Payers.PayerID": "The payer's electronic (EDI) payer ID from your clearinghouse's payer list.",
    "UnitRule": "How timed minutes become units: cms (8-minute rule, minutes pooled per day) or ama (per code).",
    "RequiresGO": "Y when every OT line needs the GO modifier.",
    "RequiresAuth": "Y when visits need a prior authorization number.",
    "VisitLimitPerYear": "Visits the plan covers per calendar year (blank = no limit).",
    "TimelyFilingDays": "Days after the date of service by which the payer must receive the claim.",
    "AppealDays": "Days after the remittance date to appeal a denial (blank: 120 for Medicare, 42 CFR 405.942; "
                  "other payers: set it, or the Denials sheet shows no appeal deadline).",
    "CorrectedClaimDays": "Days after the remittance date to send a corrected claim (blank: one year for Medicare "
                          "reopenings, 42 CFR 405.980(b)(1); other payers: set it).",
    "ApplyMPPR": "Y when the payer reduces the practice expense of extra therapy units on one day (multiple "
                 "procedure payment reduction); blank = Y for Medicare, N for other payers.",
    "AssistantsBill": "supervisor (blank): an assistant's lines are billed under the supervising therapist's NPI; "
                      "self: the payer enrols assistants, who are billed as rendering providers themselves.",
    "RequiresReferring": "Y when the payer needs a referring provider on every claim (Medicare always does).",
    "Providers.NPI": "The rendering therapist's or assistant's 10-digit NPI.",
    "SupervisorNPI": "For an assistant (OTA/COTA): the NPI of the supervising therapist (a row of this sheet), "
                     "under whom the assistant's lines are billed.",
    "Providers.LastName": "Provider's last name.",
    "Providers.FirstName": "Provider's first name.",
    "Credential": "OT, OTR/L, OTA or COTA (assistants' lines need modifier CO).",
    "Providers.Taxonomy": "Provider taxonomy code: 225X00000X occupational therapist, 224Z00000X OT assistant.",
    "PatientID": "Your patient (account) number. Charges refer to it.",
    "Patients.LastName": "Patient's last name.",
    "Patients.FirstName": "Patient's first name.",
    "DOB": "Patient's date of birth.",
    "Sex": "f, m or u.",
    "Address": "Street address.",
    "City": "City.",
    "State": "Two-letter state code.",
    "ZIP": "ZIP code (5 or 9 digits; kept as text so leading zeros stay).",
    "Patients.PayerKey": "Primary payer (a PayerKey from the Payers sheet).",
    "MemberID": "Member ID on the insurance card (MBI for Medicare).",
    "GroupNumber": "Group number on the insurance card.",
    "Relationship": "Patient's relationship to the subscriber: self, spouse, child or other.",
    "SubscriberLastName": "Subscriber (insured) last name when the patient is not the subscriber.",
    "SubscriberFirstName": "Subscriber first name.",
    "SubscriberDOB": "Subscriber date of birth.",
    "SubscriberSex": "Subscriber sex: f, m or u.",
    "AuthNumber": "Prior authorization number.",
    "AuthVisits": "Visits the authorization allows.",
    "AuthStart": "First date the authorization covers.",
    "AuthEnd": "Last date the authorization covers.",
    "POCStart": "Plan of care (certification) start date.",
    "POCEnd": "Plan of care end date (at most 90 days after the start; recertify for more).",
    "ReferringNPI": "NPI of the referring physician or NPP.",
    "ReferringLastName": "Referring provider's last name.",
    "ReferringFirstName": "Referring provider's first name.",
    "SecondaryPayerKey": "Secondary payer (a PayerKey), if any.",
    "SecondaryMemberID": "Member ID with the secondary payer.",
    "PriorTherapySpend": "Medicare: OT allowed amounts the patient already used this year at other providers "
                         "(counts toward the KX threshold); blank = 0.",
    "DeductibleRemaining": "Medicare: Part B deductible the patient still has to meet in DeductibleYear; blank = met.",
    "DeductibleYear": "Medicare: the year DeductibleRemaining is for (blank = the year of the patient's first date "
                      "of service); later years start with that year's full Part B deductible.",
    "Copay": "Copay per visit (commercial and Medicare Advantage plans): taken from the visit's lines in row order, "
             "off the payer's expected payment; blank = none.",
    "MedicareSecondaryType": "When Medicare is the secondary payer: the MSP insurance type (SBR05: 12 working aged "
                             "with an employer plan, 13 ESRD, 14 no-fault/auto, 15 workers' comp, 16 PHS/federal, "
                             "41 black lung, 42 VA, 43 disabled with a large group plan, 47 other liability); blank = 12.",
    "Code": "CPT/HCPCS procedure code (e.g. 97110).",
    "ChargePerUnit": "Your charge for one unit of the code.",
    "ChargeMaster.EffectiveFrom": "First date of service the charge applies to.",
    "FeeSchedule.PayerKey": "The payer (a PayerKey).",
    "Modifier": "Modifier the rate applies to; blank = any modifier.",
    "FeeSchedule.EffectiveFrom": "First date of service the rate applies to.",
    "EffectiveTo": "Last date of service the rate applies to (blank = open-ended).",
    "AllowedPerUnit": "The payer's allowed amount for one unit.",
    "MedicareRVU.Year": "Fee-schedule (calendar) year of the RVUs; a line is priced with the rows of its DOS year.",
    "MedicareRVU.Code": "CPT/HCPCS code as in CMS's PPRRVU file.",
    "MedicareRVU.Modifier": "Modifier of the PPRRVU row; blank for the code's global row (the one therapy uses).",
    "WorkRVU": "Work RVU (PPRRVU column WORK RVU).",
    "PERVUNonFacility": "Non-facility practice expense RVU (used for office and home places of service).",
    "PERVUFacility": "Facility practice expense RVU (used for facility places of service); blank = NA.",
    "MPRVU": "Malpractice RVU (PPRRVU column MP RVU).",
    "AlwaysTherapy": "Y when the code is always a therapy service (subject to MPPR); N for sometimes-therapy codes.",
    "MedicareRVU.Status": "PFS status code (PPRRVU STATUS CODE); blank = A (active). B, I and N lines are priced at "
                          "$0 and never count toward KX.",
    "MedicareGPCI.Year": "Fee-schedule (calendar) year of the GPCIs.",
    "Locality": "Medicare locality, written exactly as the Practice setting MedicareLocality (e.g. 12402-99).",
    "WorkGPCI": "Work GPCI of the locality (with the 1.0 floor, as CMS publishes it).",
    "PEGPCI": "Practice expense GPCI of the locality.",
    "MPGPCI": "Malpractice GPCI of the locality.",
    "LineID": "Your id for the service line (otbill fills blanks in its output).",
    "DOS": "Date of service.",
    "RenderingNPI": "NPI of the therapist or assistant who furnished the service.",
    "Mod1": "First modifier: the discipline modifier GO for OT.",
    "Mod2": "Second modifier, e.g. CO when an OT assistant furnished the service.",
    "Mod3": "Third modifier (e.g. KX, 59/XU).",
    "Mod4": "Fourth modifier.",
    "Minutes": "Treatment minutes of a timed (15-minute) code; blank for untimed codes.",
    "Units": "Billed units; leave blank on timed codes and otbill computes them from Minutes.",
    "Dx1": "Primary ICD-10-CM diagnosis (with or without the dot).",
    "Dx2": "Second diagnosis.",
    "Dx3": "Third diagnosis.",
    "Dx4": "Fourth diagnosis.",
    "POS": "Place of service (11 office, 12 home, 03 school, 02/10 telehealth, ...).",
    "Charge": "Billed amount of the line (charge per unit x units); blank = from ChargeMaster.",
    "ClaimID": "Claim the line was billed on (filled by otbill when it writes claims).",
    "Frequency": "Claim frequency: blank or 1 for an original claim, 7 for a corrected (replacement) claim, 8 to "
                 "void a claim.",
    "OriginalClaimNumber": "With Frequency 7 or 8: the payer's claim number of the claim being corrected or voided.",
    "Status": "Claim or line status.",
    "Note": "Your notes.",
    "PaymentID": "Your id for the posting.",
    "Payments.PayerKey": "Payer that paid (a PayerKey).",
    "CheckNumber": "Check or EFT trace number.",
    "PaymentDate": "Check or deposit date.",
    "Payments.LineID": "The Charges line the payment is for.",
    "Payments.Code": "Procedure code paid.",
    "Modifiers": "Modifiers of the paid line (e.g. GO or GO CO).",
    "Billed": "Amount billed.",
    "Allowed": "Amount the payer allowed.",
    "Paid": "Amount the payer paid.",
    "PatientResp": "Patient responsibility (deductible, coinsurance, copay).",
    "AdjGroup": "Adjustment group code (CO, PR, OA, PI).",
    "AdjReason": "Adjustment reason code (CARC), e.g. 45.",
    "AdjAmount": "Adjustment amount.",
    "Source": "Where the posting came from (manual, 835 file name, ...).",
}

SETTING_HELP: dict[str, str] = {
    "PracticeName": "Billing provider (practice) name as on claims.",
    "BillingNPI": "The practice's (group) NPI.",
    "TaxID": "Employer identification number, NN-NNNNNNN.",
    "Taxonomy": "Billing provider taxonomy (225X00000X occupational therapist).",
    "Address": "Billing address (a street address, not a PO box).",
    "City": "Billing address city.",
    "State": "Billing address state (two letters).",
    "ZIP": "Billing address ZIP (9 digits preferred).",
    "Phone": "Practice phone number.",
    "SubmitterName": "Submitter name for 837P files (usually the practice).",
    "SubmitterID": "Submitter ID your clearinghouse assigned.",
    "ContactName": "Person the payer or clearinghouse calls about claims.",
    "ContactPhone": "Contact's phone number.",
    "ReceiverName": "Clearinghouse (receiver) name.",
    "ReceiverID": "Clearinghouse (receiver) ID.",
    "InterchangeSenderQualifier": "ISA05, usually ZZ.",
    "InterchangeSenderID": "ISA06 sender ID (from your clearinghouse).",
    "InterchangeReceiverQualifier": "ISA07, usually ZZ.",
    "InterchangeReceiverID": "ISA08 receiver ID.",
    "UsageIndicator": "T for test files, P for production.",
    "MedicareLocality": "Medicare fee-schedule locality (MAC and locality number, e.g. 12402-99); the "
                        "MedicareGPCI sheet needs a row for it.",
    "QualifyingAPM": "Y when the clinician is a qualifying participant in an advanced APM (the higher 2026 "
                     "conversion factor); N otherwise.",
    "BillingEntityType": "2 when the billing provider is an organisation (the practice; blank = 2), 1 when it is "
                         "a person billing under their own NPI.",
    "BillingLastName": "With BillingEntityType 1: the billing therapist's last name.",
    "BillingFirstName": "With BillingEntityType 1: the billing therapist's first name.",
    "PayToAddress": "Where payers send payments when that is not the billing address (a PO box or lock box "
                    "goes here); fill PayToAddress, PayToCity, PayToState and PayToZIP, or none of them.",
    "PayToCity": "Pay-to address city.",
    "PayToState": "Pay-to address state (two letters).",
    "PayToZIP": "Pay-to address ZIP.",
}

#: Settings otbill reads when the Practice sheet has a row for them (add the row when you need one).
OPTIONAL_SETTINGS: dict[str, str] = {
    "MaxUnitsPerDay": "Most units of one code on a patient's day before otbill flags the line, used where no CMS "
                      "MUE table is imported (otbill refdata import-ncci). Blank = 8 (two hours of one timed code; "
                      "a stated default, not a CMS number).",
    "LedgerPath": "The claim ledger file, otbill's record of every claim written so that no service is billed "
                  "twice. Blank: the --ledger option, then $OTBILL_LEDGER, then one ledger per submitter in your "
                  "user data folder.",
    "RemittancePath": "The 835 or CSV remittance file, or a folder of them, that the Reconcile payments button "
                      "reads (relative to this workbook's folder). Blank: the button asks for a file.",
    "PaymentTolerance": "A line paid within this many dollars of its expected payment counts as paid as expected "
                        "when payments are reconciled. Blank = 0.01.",
}

#: The dropdowns, one place for the validations and the Instructions sheet. A closed list refuses
#: other values; an open list (codes, modifiers, places of service, payer keys) only warns.
#: Each: (name, [(sheet, column), ...], closed, choices → meaning, what the list is).
YES_NO = {"Y": "yes", "N": "no"}
PAYER_TYPE_HELP = {
    "medicare": "Medicare Part B (original Medicare).",
    "medicare_advantage": "A Medicare Advantage (Part C) plan.",
    "medicaid": "Medicaid or a Medicaid managed-care plan.",
    "commercial": "Commercial (private) insurance.",
    "workers_comp": "Workers' compensation.",
    "auto": "Auto or no-fault insurance.",
    "self_pay": "The patient pays; the lines are not billed to a payer.",
}
UNIT_RULE_HELP = {
    "cms": "CMS 8-minute rule: the day's timed minutes are pooled, then split over the codes (Medicare).",
    "ama": "AMA/CPT per-code rule: each code's own minutes, 8 minutes for the first unit, 23 for two, ...",
}
RELATIONSHIP_HELP = {"self": "The patient is the subscriber (insured).", "spouse": "The patient is the subscriber's spouse.",
                     "child": "The patient is the subscriber's child.", "other": "Any other relationship."}
SEX_HELP = {"f": "female", "m": "male", "u": "unknown"}
USAGE_HELP = {"T": "test files (the clearinghouse does not pay them)", "P": "production files (real claims)"}
MODIFIER_HELP = {
    "GO": "Occupational therapy plan of care (every OT line).",
    "GP": "Physical therapy plan of care.",
    "GN": "Speech-language pathology plan of care.",
    "CO": "Furnished in whole or in part by an OT assistant (goes with GO).",
    "CQ": "Furnished in whole or in part by a PT assistant (goes with GP).",
    "KX": "Medicare: past the year's therapy threshold, medically necessary and documented.",
    "59": "Distinct procedural service (bypasses an NCCI pair; on the column-2 code).",
    "XE": "Separate encounter (a specific form of 59).",
    "XS": "Separate structure (a specific form of 59).",
    "XP": "Separate practitioner (a specific form of 59).",
    "XU": "Unusual non-overlapping service, e.g. separate time blocks (a specific form of 59).",
    "GA": "Medicare: an ABN was given; the patient may be liable if denied.",
    "GY": "Medicare: not a Medicare benefit (statutorily excluded).",
    "GZ": "Medicare: denial expected and no ABN given (the practice is liable).",
    "95": "Synchronous telehealth (payer and year rules vary).",
    "76": "Repeat procedure by the same practitioner (not for splitting a timed code's units).",
    "77": "Repeat procedure by another practitioner.",
    "52": "Reduced services.",
}
POS_HELP = {
    "11": "Office.", "12": "Home.", "19": "Off-campus outpatient hospital.", "22": "On-campus outpatient hospital.",
    "31": "Skilled nursing facility.", "32": "Nursing facility.", "03": "School.",
    "02": "Telehealth other than in the patient's home.", "10": "Telehealth in the patient's home.",
    "99": "Other place of service.",
}


class Dropdown(NamedTuple):
    """One dropdown: the columns (or Practice settings) it is on, its choices and what each means."""

    columns: tuple[str, ...]
    choices: dict[str, str]
    closed: bool = True     # refuse other values (False: warn only)
    source: str = ""        # an open list's values: a Lists column (Code, Modifier, POS) or "PayerKey"
    setting: bool = False   # on the Value cell of these Practice settings
    about: str = ""


def _choices(values: Sequence[str], meaning: dict[str, str]) -> dict[str, str]:
    return {v: meaning[v] for v in values}  # (a value without a meaning fails the build)


def dropdowns() -> tuple[Dropdown, ...]:
    """Every dropdown of the workbook, in the order the Instructions sheet explains them."""
    closed = "Pick one; other values are refused."
    return (
        Dropdown(("PayerType",), _choices(PAYER_TYPES, PAYER_TYPE_HELP), about=closed),
        Dropdown(("UnitRule",), _choices(UNIT_RULES, UNIT_RULE_HELP), about=closed),
        Dropdown(("RequiresGO", "RequiresAuth", "ApplyMPPR", "AlwaysTherapy"), YES_NO, about=closed),
        Dropdown(("Relationship",), _choices(RELATIONSHIPS, RELATIONSHIP_HELP), about=closed),
        Dropdown(("Sex", "SubscriberSex"), _choices(SEXES, SEX_HELP), about=closed),
        Dropdown(("UsageIndicator",), USAGE_HELP, setting=True, about="The Value of the UsageIndicator setting."),
        Dropdown(("QualifyingAPM",), YES_NO, setting=True, about="The Value of the QualifyingAPM setting."),
        Dropdown(("PayerKey", "SecondaryPayerKey"), {}, closed=False, source="PayerKey",
                 about=f"The PayerKeys typed on the Payers sheet (its first {PAYER_ROWS - 1} rows)."),
        Dropdown(("Code",), {info.code: info.label for info in catalogue() if info.deleted_on is None},
                 closed=False, source="Code",
                 about="The CPT/HCPCS codes of otbill's OT code list that are not deleted (the Lists sheet's Code "
                       "column); another code is accepted after a warning and checked."),
        Dropdown(("Mod1", "Mod2", "Mod3", "Mod4", "Modifier"), _choices(COMMON_MODIFIERS, MODIFIER_HELP),
                 closed=False, source="Modifier", about="Common therapy modifiers (the Lists sheet's Modifier column)."),
        Dropdown(("POS",), _choices(COMMON_POS, POS_HELP), closed=False, source="POS",
                 about="Common places of service (the Lists sheet's POS column)."),
    )


def _column_help(sheet: Sheet, column: str) -> str:
    return COLUMN_HELP.get(f"{sheet.name}.{column}") or COLUMN_HELP.get(column, "")


def _format(kind: CellKind) -> str:
    return _FORMATS.get(kind, _TEXT)


def _active_codes() -> list[str]:
    """Catalogue codes not deleted (the Code dropdown)."""
    return list(next(d for d in dropdowns() if d.source == "Code").choices)


# --------------------------------------------------------------------------------------------
# Sheets
# --------------------------------------------------------------------------------------------

#: The Instructions sheet's columns: width (Excel characters) and the header of the column table.
_INSTRUCTION_WIDTHS = (18.0, 26.0, 13.0, 24.0, 70.0, 40.0)
_LINE_HEIGHT = 15.0  # points per line of 11-point Calibri
_WRAP = Alignment(wrap_text=True, vertical="top")


def _lines_needed(text: str, width: float, bold: bool = False) -> int:
    """Lines a wrapped cell of ``width`` needs for ``text``: word-wrapped at a little more characters than
    the width (Excel's unit is a digit's width), so the estimate errs on the tall side."""
    # prose averages narrower than a digit (about 1.2 characters a unit); bold text is wider
    chars = max(int(width * (0.95 if bold else 1.1)) - 1, 1)
    return sum(max(len(textwrap.wrap(part, chars, break_long_words=True)), 1) for part in text.split("\n"))


def _put_row(ws: Worksheet, row: int, values: Sequence[object], *, font: Font | None = None,
             span: bool = False) -> None:
    """Write one Instructions row, every cell wrapped and the row as tall as its longest cell. ``span``:
    one text across all the columns (a merged cell; Excel does not grow merged rows, so the height is set)."""
    widths = _INSTRUCTION_WIDTHS
    if span:
        text = str(values[0]) if values else ""
        cell = ws.cell(row=row, column=1, value=text or None)
        cell.alignment = _WRAP
        if font:
            cell.font = font
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(widths))
        lines = _lines_needed(text, sum(widths), bool(font and font.bold)) if text else 1
    else:
        lines = 1
        for col, value in enumerate(values, start=1):
            if value in (None, ""):
                continue
            cell = ws.cell(row=row, column=col, value=value)
            cell.alignment = _WRAP
            if font:
                cell.font = font
            lines = max(lines, _lines_needed(str(value), widths[col - 1], bool(font and font.bold)))
    size = font.size if font and font.size else 11
    ws.row_dimensions[row].height = round(lines * _LINE_HEIGHT * max(size, 11) / 11 + 2, 1)


def _dropdown_sheets(d: Dropdown) -> list[tuple[str, str]]:
    """Where a dropdown is: (sheet, column) pairs in contract order."""
    if d.setting:
        return [("Practice", c) for c in d.columns]
    return [(s.name, c) for s in SHEETS for c in d.columns
            if c in s.column_names and not (d.source == "PayerKey" and s.name == "Payers")]


def _dropdown_place(d: Dropdown) -> tuple[str, str]:
    """The sheets and columns of a dropdown in words: "Payers, MedicareRVU" and "RequiresGO, RequiresAuth,
    ApplyMPPR (Payers); AlwaysTherapy (MedicareRVU)" when its columns are not on the same sheets."""
    on: dict[str, list[str]] = {}
    for sheet, column in _dropdown_sheets(d):
        on.setdefault(column, []).append(sheet)
    sheets = ", ".join(dict.fromkeys(sheet for names in on.values() for sheet in names))
    groups: dict[tuple[str, ...], list[str]] = {}
    for column, names in on.items():
        groups.setdefault(tuple(names), []).append(column)
    if len(groups) == 1:
        return sheets, ", ".join(on)
    return sheets, "; ".join(f"{', '.join(columns)} ({', '.join(names)})" for names, columns in groups.items())


def _instructions(ws: Worksheet) -> None:
    bold = Font(bold=True)
    heading = Font(bold=True, size=12)
    row = 0

    def put(*values: object, font: Font | None = None, span: bool = False) -> None:
        nonlocal row
        row += 1
        _put_row(ws, row, values, font=font, span=span)

    put("otbill practice workbook", font=Font(bold=True, size=14), span=True)
    for text in (
        "One workbook per practice (or per month). Each sheet below holds one Excel Table with the same name as "
        "the sheet; the header row is row 1. otbill reads the tables by name and by header, so you may sort, "
        "filter, reorder columns or add your own columns.",
        "To add rows, type in the first empty row under a table (or press Tab in its last cell): the table grows "
        "and keeps its formats and dropdowns. Keep one row per record; leave a cell blank when it does not apply.",
        "otbill never modifies this workbook. Every check, price, claim or reconciliation is written to a new, "
        "annotated copy (or to new files), so this file stays as you typed it. In the copy, each cell with a "
        "problem is coloured (red error, amber warning, blue info) and its note lists every problem and its fix; "
        "the Findings sheet lists them all with the line, patient ID, date, code and payer they concern, and the "
        "Check Summary says what to fix first.",
        "Dates: yyyy-mm-dd or m/d/yyyy. Money: plain numbers. IDs, codes and ZIPs are text cells, so leading "
        "zeros (ZIP 08034, POS 03) stay. Dropdowns offer common values; some also accept others.",
        "Other header spellings are accepted (see 'Also accepted as'); the hidden Lists sheet feeds the Code, "
        "modifier and place-of-service dropdowns.",
        "Below: 1. the sheets, 2. the columns of each sheet, 3. the Practice settings, 4. the dropdowns and "
        "what each choice means.",
    ):
        put(text, span=True)

    row += 1
    put("1. The sheets", font=heading, span=True)
    put("Sheet", "Required", "", "", "What it holds", "Also accepted as", font=bold)
    for sheet in SHEETS:
        put(sheet.name, "yes" if sheet.required else "optional", "", "", sheet.purpose, ", ".join(sheet.aliases))

    row += 1
    put("2. The columns of each sheet", font=heading, span=True)
    put("Sheet", "Column", "Required", "Format", "Meaning", "Also accepted as", font=bold)
    for sheet in SHEETS:
        need = "Required sheet." if sheet.required else "Optional sheet."
        put(sheet.name, "", "", "", f"{sheet.purpose} {need}", font=bold)
        for col in sheet.columns:
            fmt = _KIND_LABEL[col.kind] + (", ".join(col.choices) if col.choices else "")
            put("", col.name, "yes" if col.required else "", fmt, _column_help(sheet, col.name), ", ".join(col.aliases))

    row += 1
    put("3. Practice settings", font=heading, span=True)
    put("The Practice sheet has one row per setting: its name under Setting, its value under Value. The template "
        "lists the settings claims need; the optional ones at the end are read when you add a row for them.",
        span=True)
    put("", "Setting", "Row", "", "Meaning", font=bold)
    for setting in PRACTICE_SETTINGS:
        put("", setting, "listed", "", SETTING_HELP.get(setting, ""))
    for setting, help_text in OPTIONAL_SETTINGS.items():
        put("", setting, "add a row", "", help_text)

    row += 1
    put("4. Dropdowns", font=heading, span=True)
    put("A dropdown marked 'only these' refuses other values; 'suggestions' accepts another value after a "
        "warning (a code, modifier or place of service the list does not offer).", span=True)
    put("Sheet", "Column", "List", "Choice", "Meaning", font=bold)
    for d in dropdowns():
        sheets, columns = _dropdown_place(d)
        put(sheets, columns, "only these" if d.closed else "suggestions", "", d.about, font=bold)
        for value, meaning in d.choices.items():
            put("", "", "", value, meaning)

    for width, letter in zip(_INSTRUCTION_WIDTHS, "ABCDEF", strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def _lists(ws: Worksheet) -> dict[str, str]:
    """The hidden Lists sheet; returns the dropdown formula for each list."""
    lists = {"Code": _active_codes(), "Modifier": list(COMMON_MODIFIERS), "POS": list(COMMON_POS)}
    formulas = {}
    for col, (name, values) in enumerate(lists.items(), start=1):
        letter = get_column_letter(col)
        ws.cell(row=1, column=col, value=name).font = Font(bold=True)
        for row, value in enumerate(values, start=2):
            ws.cell(row=row, column=col, value=value).number_format = _TEXT
        ws.column_dimensions[letter].width = 12
        formulas[name] = f"={LISTS}!${letter}$2:${letter}${len(values) + 1}"
    ws.sheet_state = "hidden"
    return formulas


def _inline(values: Sequence[str]) -> str:
    return '"' + ",".join(values) + '"'


def _validations(sheet: Sheet, last_row: int, lists: dict[str, str]) -> list[DataValidation]:
    """Dropdowns of one contract sheet (rows 2 .. at least VALIDATION_ROWS), as :func:`dropdowns` declares."""
    payer_col = get_column_letter(PAYERS.column_names.index("PayerKey") + 1)
    formulas = {**lists, "PayerKey": f"=Payers!${payer_col}$2:${payer_col}${PAYER_ROWS}"}
    on: dict[str, Dropdown] = {}
    for d in dropdowns():
        for where, column in _dropdown_sheets(d):
            if where == sheet.name:
                on[column] = d
    end = max(VALIDATION_ROWS, last_row + 500)
    out = []
    for i, col in enumerate(sheet.columns, start=1):
        d = on.get(col.name)
        if d is None or d.setting:
            continue
        letter = get_column_letter(i)
        if d.closed:
            dv = DataValidation(type="list", formula1=_inline(tuple(d.choices)), allow_blank=True,
                                showErrorMessage=True, errorStyle="stop", errorTitle=col.name,
                                error=f"Pick one of: {', '.join(d.choices)}.")
        else:
            dv = DataValidation(type="list", formula1=formulas[d.source], allow_blank=True,
                                showErrorMessage=True, errorStyle="warning", errorTitle=col.name,
                                error="Not in the list. Keep it anyway?")
        dv.add(f"{letter}2:{letter}{end}")
        out.append(dv)
    if sheet.name == "Practice":
        for d in dropdowns():
            for setting in d.columns if d.setting else ():
                dv = DataValidation(type="list", formula1=_inline(tuple(d.choices)), allow_blank=True,
                                    showErrorMessage=True, errorStyle="stop", errorTitle=setting,
                                    error=" or ".join(f"{v} ({m.split(' (')[0]})" for v, m in d.choices.items()) + ".")
                dv.add(f"B{PRACTICE_SETTINGS.index(setting) + 2}")
                out.append(dv)
    return out


def _width(header: str, kind: CellKind, values: list[object]) -> float:
    longest = max([len(header) + 3, _MIN_WIDTH.get(kind, 10)] +
                  [len(str(v)) + 2 for v in values[:300] if v is not None and not isinstance(v, date)])
    return float(min(longest, 42))


def _contract_sheet(ws: Worksheet, sheet: Sheet, rows: list[list[object]], lists: dict[str, str]) -> None:
    header = list(sheet.column_names)
    if rows and list(rows[0]) != header:
        raise ValueError(f"{sheet.name}: rows must start with the contract header {header}")
    data = [list(r) for r in rows[1:]] if rows else []
    if not data:  # an Excel table needs at least one data row
        data = [[None] * len(header)]
    ws.append(header)
    formats = [_format(c.kind) for c in sheet.columns]
    for values in data:
        ws.append(values)
    for col_idx, fmt in enumerate(formats, start=1):
        for (cell,) in ws.iter_rows(min_row=2, max_row=len(data) + 1, min_col=col_idx, max_col=col_idx):
            cell.number_format = fmt
    for i, col in enumerate(sheet.columns, start=1):
        letter = get_column_letter(i)
        dim = ws.column_dimensions[letter]
        dim.width = _width(col.name, col.kind, [r[i - 1] for r in data])
        dim.number_format = formats[i - 1]
    last_row = len(data) + 1
    ref = f"A1:{get_column_letter(len(header))}{last_row}"
    table = Table(displayName=sheet.name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showFirstColumn=False, showLastColumn=False,
                                          showRowStripes=True, showColumnStripes=False)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    for dv in _validations(sheet, last_row, lists):
        ws.add_data_validation(dv)


def _workbook(data: dict[str, list[list[object]]]) -> Workbook:
    wb = Workbook()
    _instructions(wb.active)
    wb.active.title = INSTRUCTIONS
    sheets = [wb.create_sheet(s.name) for s in SHEETS]
    lists = _lists(wb.create_sheet(LISTS))
    for ws, sheet in zip(sheets, SHEETS, strict=True):
        _contract_sheet(ws, sheet, data.get(sheet.name, []), lists)
    wb.active = 0
    props = wb.properties
    props.creator = "otbill_xl"
    props.lastModifiedBy = "otbill_xl"
    props.title = "otbill practice workbook"
    props.created = BUILD_TIME
    props.modified = BUILD_TIME
    return wb


def _template_rows() -> dict[str, list[list[object]]]:
    return {"Practice": [["Setting", "Value"]] + [[s, None] for s in PRACTICE_SETTINGS]}


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------

_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _stable_bytes(wb: Workbook) -> bytes:
    """The workbook's .xlsx bytes with fixed zip entry times and a fixed modified date.

    openpyxl stamps ``dcterms:modified`` with the current time when it saves, and zip entries carry
    the time they were written; both are reset so equal workbooks give equal bytes.
    """
    raw = io.BytesIO()
    wb.save(raw)
    out = io.BytesIO()
    stamp = BUILD_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", body)
            entry = zipfile.ZipInfo(info.filename, date_time=BUILD_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, body)
    return out.getvalue()


def _write_atomic(path: Path, payload: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a workbook is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build_template(path: Path) -> Path:
    """Write the empty practice workbook to ``path`` (atomically) and return the path."""
    return _write_atomic(Path(path), _stable_bytes(_workbook(_template_rows())))


def build_sample(path: Path) -> Path:
    """Write the sample practice workbook to ``path`` (atomically) and return the path."""
    from otbill_xl.templates.sample import sample_rows

    return _write_atomic(Path(path), _stable_bytes(_workbook(sample_rows())))


def build_all(dest: Path) -> list[Path]:
    """Build ``dest/otbill-practice.xlsx`` and ``dest/examples/sample-practice.xlsx``."""
    dest = Path(dest)
    return [build_template(dest / TEMPLATE_NAME), build_sample(dest / "examples" / SAMPLE_NAME)]
