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
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

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
    "Providers.NPI": "The rendering therapist's or assistant's 10-digit NPI.",
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
}


def _column_help(sheet: Sheet, column: str) -> str:
    return COLUMN_HELP.get(f"{sheet.name}.{column}") or COLUMN_HELP.get(column, "")


def _format(kind: CellKind) -> str:
    return _FORMATS.get(kind, _TEXT)


def _active_codes() -> list[str]:
    """Catalogue codes not deleted (the Code dropdown)."""
    return [info.code for info in catalogue() if info.deleted_on is None]


# --------------------------------------------------------------------------------------------
# Sheets
# --------------------------------------------------------------------------------------------

def _instructions(ws: Worksheet) -> None:
    bold = Font(bold=True)
    title = Font(bold=True, size=14)
    wrap = Alignment(wrap_text=True, vertical="top")
    lines: list[tuple[str, ...]] = [
        ("otbill practice workbook",),
        (),
        ("One workbook per practice (or per month). Each sheet below holds one Excel Table with the same "
         "name as the sheet; the header row is row 1. otbill reads the tables by name and by header, so you "
         "may sort, filter, reorder columns or add your own columns.",),
        ("To add rows, type in the first empty row under a table (or press Tab in its last cell): the "
         "table grows and keeps its formats and dropdowns. Keep one row per record; leave a cell blank "
         "when it does not apply.",),
        ("otbill never modifies this workbook. Every check, price, claim or reconciliation is written to a "
         "new, annotated copy (or to new files), so this file stays as you typed it.",),
        ("Dates: yyyy-mm-dd or m/d/yyyy. Money: plain numbers. IDs, codes and ZIPs are text cells, so "
         "leading zeros (ZIP 08034, POS 03) stay. Dropdowns offer common values; some also accept others.",),
        ("Other header spellings are accepted (see 'Also accepted as'); the hidden Lists sheet feeds the "
         "Code, modifier and place-of-service dropdowns.",),
        (),
        ("Sheet", "Column", "Required", "Format", "Meaning", "Also accepted as"),
    ]
    for sheet in SHEETS:
        lines.append(())
        need = "Required sheet." if sheet.required else "Optional sheet."
        lines.append((sheet.name, f"{sheet.purpose} {need}"))
        for col in sheet.columns:
            fmt = _KIND_LABEL[col.kind] + (", ".join(col.choices) if col.choices else "")
            lines.append(("", col.name, "yes" if col.required else "", fmt, _column_help(sheet, col.name),
                          ", ".join(col.aliases)))
        if sheet.name == "Practice":
            lines.append(("", "Settings:"))
            for setting in PRACTICE_SETTINGS:
                lines.append(("", setting, "", "", SETTING_HELP.get(setting, "")))
    for row, values in enumerate(lines, start=1):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col, value=value)
            if len(values) == 1:
                continue
            cell.alignment = wrap
            if (len(values) == 2 and col == 1) or values[0] == "Sheet":
                cell.font = bold
    ws["A1"].font = title
    for width, letter in zip((16, 28, 10, 26, 70, 48), "ABCDEF", strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"


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
    """Dropdowns of one contract sheet (rows 2 .. at least VALIDATION_ROWS)."""
    payer_col = get_column_letter(PAYERS.column_names.index("PayerKey") + 1)
    payer_range = f"=Payers!${payer_col}$2:${payer_col}${PAYER_ROWS}"
    closed = {  # column -> inline list; anything else is refused
        "PayerType": PAYER_TYPES, "UnitRule": UNIT_RULES, "Relationship": RELATIONSHIPS, "Sex": SEXES,
        "SubscriberSex": SEXES, "RequiresGO": ("Y", "N"), "RequiresAuth": ("Y", "N"), "ApplyMPPR": ("Y", "N"),
        "AlwaysTherapy": ("Y", "N"),
    }
    open_ = {  # column -> list formula; other values get a warning only
        "Code": lists["Code"], "Mod1": lists["Modifier"], "Mod2": lists["Modifier"], "Mod3": lists["Modifier"],
        "Mod4": lists["Modifier"], "Modifier": lists["Modifier"], "POS": lists["POS"],
    }
    if sheet.name != "Payers":
        open_.update({"PayerKey": payer_range, "SecondaryPayerKey": payer_range})
    end = max(VALIDATION_ROWS, last_row + 500)
    out = []
    for i, col in enumerate(sheet.columns, start=1):
        letter = get_column_letter(i)
        if col.name in closed:
            dv = DataValidation(type="list", formula1=_inline(closed[col.name]), allow_blank=True,
                                showErrorMessage=True, errorStyle="stop", errorTitle=col.name,
                                error=f"Pick one of: {', '.join(closed[col.name])}.")
        elif col.name in open_:
            dv = DataValidation(type="list", formula1=open_[col.name], allow_blank=True,
                                showErrorMessage=True, errorStyle="warning", errorTitle=col.name,
                                error="Not in the list. Keep it anyway?")
        else:
            continue
        dv.add(f"{letter}2:{letter}{end}")
        out.append(dv)
    if sheet.name == "Practice":
        row = PRACTICE_SETTINGS.index("UsageIndicator") + 2
        dv = DataValidation(type="list", formula1=_inline(("T", "P")), allow_blank=True, showErrorMessage=True,
                            errorStyle="stop", errorTitle="UsageIndicator", error="T (test) or P (production).")
        dv.add(f"B{row}")
        out.append(dv)
        row = PRACTICE_SETTINGS.index("QualifyingAPM") + 2
        dv = DataValidation(type="list", formula1=_inline(("Y", "N")), allow_blank=True, showErrorMessage=True,
                            errorStyle="stop", errorTitle="QualifyingAPM", error="Y or N.")
        dv.add(f"B{row}")
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
