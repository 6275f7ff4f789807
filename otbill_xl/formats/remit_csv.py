"""Clearinghouse and practice-management ERA exports (CSV) into the 835 reader's records.

``read_remit_csv(data, source, preset=None, mapping=None)`` returns one
:class:`~otbill_xl.formats.x12.read835.Remittance` per check/EFT trace number and payer (``source``
field ``"CSV"``), with the same :class:`ClaimPayment`, :class:`ServicePayment` and
:class:`Adjustment` records an 835 gives, so reconciliation does not care where a payment came from.
The layouts, their sources and the value formats are documented in ``docs/remittance-csv.md``.

* **Columns** are found by header text, case-, space- and punctuation-insensitively, in this order
  (the workbook rule of :mod:`otbill_xl.workbook.mapping`): the user's ``mapping`` (our field →
  their header), then the preset's headers, then our field name itself, then an alias. The
  header row may sit anywhere in the first 20 lines. ``preset=None`` picks the preset whose
  signature headers are all present (see :data:`PRESETS`), else the generic alias table.
* **One row = one service line.** Adjustments either one per row (``AdjGroup``/``AdjReason``/
  ``AdjAmount``: consecutive rows of the same claim and line add adjustments to that line), in
  numbered columns (``Adj1Group`` ... ``Adj5Amount``, as exporters flatten CAS), in amount columns
  (``Deductible`` = PR-1, ``Coinsurance`` = PR-2, ``Copay`` = PR-3), or several in one cell
  (``CO-45 12.00; PR-2 3.40``). A row with no procedure code and no line amounts carries claim-level
  data (claim adjustments) only.
* Claim and payment columns that an export writes on the first row of a claim only (check number,
  payer, claim charge ...) are carried to the following rows of the same claim.
* A claim without ``ClaimCharge``/``ClaimPaid`` sums its lines; a line without ``Billed`` is paid
  plus its adjustments; a claim without a status is ``22`` when its charge is negative, ``4``
  (denied) when nothing was paid, else ``1``. The same balancing as the 835 applies (claim charge =
  paid + adjustments; check amount = Σ claim payments when the export has one).
* A row that cannot be read (an amount or date that is not one, a line without a code) is a
  ``bad_row`` :class:`Problem835` with its CSV line number on the remittance; the other rows are
  read. A file that cannot be used at all raises :class:`RemitCSVError` naming the file and line.

Patient names, birth dates and member ids in the export are not read: matching uses the claim id,
line id, code and dates, and nothing of the patient can leak into a message.

The csv module, not pandas: every cell stays the text the export wrote (claim ids like
``0001000055`` keep their zeros, amounts are parsed to Decimal exactly, never through float) and
the reader knows each row's line number for the problems.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from otbill_xl._cells import normalize_header, parse_date_text
from otbill_xl._toml import read_toml
from otbill_xl.domain.money import to_money
from otbill_xl.errors import OtbillError
from otbill_xl.formats.x12.read835 import (
    Adjustment,
    ClaimPayment,
    Problem835,
    Procedure,
    Remittance,
    ServicePayment,
)

__all__ = ["FIELDS", "PRESETS", "RemitCSVError", "detect_preset", "mapping_from_toml", "read_remit_csv"]

_ZERO = Decimal(0)
#: How far down an export may put its header row.
HEADER_SEARCH_ROWS = 20
#: Claim adjustment group codes (X12 element 1033).
GROUPS = ("CO", "PR", "OA", "PI", "CR")


class RemitCSVError(OtbillError, ValueError):
    """The export cannot be read at all; the message names the file (and line) and what to do."""

    message = "The remittance export cannot be read."


@dataclass(frozen=True)
class Field:
    """One field of the remittance CSV contract: our name, the headers that mean it."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False


def _numbered(prefix: str, alias_prefixes: tuple[str, ...]) -> tuple[Field, ...]:
    out = []
    for n in range(1, 6):
        for part, words in (("Group", ("Group", "GroupCode")), ("Reason", ("ReasonCode", "Reason")),
                            ("Amount", ("Amount",)), ("Quantity", ("Quantity", "Units"))):
            out.append(Field(f"{prefix}{n}{part}", tuple(f"{a}{n}{w}" for a in alias_prefixes for w in words)))
    return tuple(out)


#: The remittance CSV contract (field → accepted headers), in the spirit of a workbook ``Sheet``.
FIELDS: tuple[Field, ...] = (
    # payment (BPR/TRN/N1)
    Field("CheckNumber", ("Check Number", "Check #", "Check No", "Chk Nbr", "Check/EFT Number", "EFT Number",
                          "EFT Trace Number", "Trace Number", "Check or EFT Trace Number")),
    Field("PaymentDate", ("Payment Date", "Check Date", "Paid Date", "EFT Date", "Remit Date")),
    Field("CheckAmount", ("Check Amount", "Total Payment Amount", "EFT Amount", "Check Total")),
    Field("PaymentMethod", ("Payment Method", "Payment Method Type")),
    Field("PayerName", ("Payer", "Payer Name", "Pyr Nam", "Insurance", "Insurance Name")),
    Field("PayerID", ("Payer ID", "Payer Identifier", "Pyr ID", "Payer Number")),
    Field("PayeeNPI", ("Payee NPI", "Billing NPI")),
    # claim (CLP)
    Field("ClaimID", ("Claim ID", "Patient Control Number", "Patient Account Number", "Account Number",
                      "Patient Account", "Claim #"), required=True),
    Field("PayerClaimNumber", ("Payer Claim Number", "Payer Control Number", "Payer Claim Control Number", "ICN",
                               "Payer Claim #")),
    Field("ClaimStatus", ("Claim Status", "Claim Status Code", "Clm Sts Cod")),
    Field("ClaimCharge", ("Claim Charge", "Claim Billed", "Total Charge", "Total Billed", "Claim Charge Amount")),
    Field("ClaimPaid", ("Claim Paid", "Claim Payment", "Total Paid", "Clm Lvl Pd Amt")),
    Field("ClaimPatientResp", ("Claim Patient Responsibility", "Claim Patient Resp")),
    Field("FilingIndicator", ("Claim Filing Indicator", "Claim Filing Indicator Code")),
    *_numbered("ClaimAdj", ("Adj", "ClaimAdj")),
    # line (SVC)
    Field("LineID", ("Line ID", "Line Control Number", "Line Item Control Number", "REF 6R", "Line #")),
    Field("DOS", ("Service Date", "Svc Date", "Date of Service", "From Date", "Service Date From",
                  "Line Service Date From", "DOS From")),
    Field("DOSTo", ("To Date", "Service Date To", "Line Service Date To", "DOS To", "Thru Date")),
    Field("Code", ("CPT", "CPT4", "HCPCS", "CPT Code", "Procedure Code", "Procedure", "Line Procedure Code",
                   "Proc Code")),
    Field("Modifiers", ("Modifier", "Mods", "Modifier Codes")),
    *(Field(f"Modifier{n}", (f"M{n}", f"Mod {n}", f"Modifier {n}", f"Line Procedure Modifier{n} Code"))
      for n in range(1, 5)),
    Field("Units", ("Paid Units", "Unit Count", "Line Unit Count", "Qty", "Quantity", "Units Paid")),
    Field("OriginalCode", ("Original Procedure Code", "Line Original Procedure Code", "Billed Code")),
    Field("Billed", ("Billed Amount", "Charge", "Charges", "Line Charge Amount", "Bill Amt", "Line Charge",
                     "Submitted", "Charge Amount")),
    Field("Allowed", ("Allowed Amount", "Allowable", "Line Allowed Amount", "Allwd Amt", "Allowed Amt")),
    Field("Paid", ("Paid Amount", "Line Paid Amount", "Pd Amt", "Insurance Paid", "Amount Paid", "Payment",
                   "Line Paid", "Payment Amount"), required=True),
    Field("PatientResp", ("Patient Resp", "Pat Rsp", "Patient Responsibility", "Pt Resp", "PR Amount",
                          "Patient Responsibility Amount")),
    Field("Deductible", ("Ded Amt", "Deductible Amount", "Deductible Amt")),
    Field("Coinsurance", ("CoIns Amt", "Coinsurance Amount", "Co-Insurance", "Coinsurance Amt")),
    Field("Copay", ("Copay Amount", "Copay Amt", "Co-Pay", "Copayment")),
    Field("AdjGroup", ("Adj Group", "Group Code", "Adjustment Group", "CAGC", "Claim Adjustment Group Code")),
    Field("AdjReason", ("Adj Reason", "Reason Code", "Reason Cd", "CARC", "Adjustment Reason",
                        "Adjustment Reason Code")),
    Field("AdjAmount", ("Adj Amount", "Adjustment Amount", "Adj Amt", "Adjustment")),
    Field("AdjQuantity", ("Adj Quantity", "Adjustment Quantity", "Adj Units")),
    Field("Adjustments", ("Adjustment Codes", "CAS", "Adjustment Detail", "Adjustments Detail", "CAGC/CARC")),
    *_numbered("Adj", ("LineAdj", "Line Adj")),
    Field("RemarkCodes", ("Remark Codes", "RARC", "Remarks", "Remark Code", "Line Remark Code")),
    *(Field(f"Remark{n}", (f"Line Remark Code{n}", f"Remark Code {n}", f"RARC {n}")) for n in range(1, 6)),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
_FIELD_BY_NORM = {normalize_header(f.name): f.name for f in FIELDS}


@dataclass(frozen=True)
class Preset:
    """A vendor layout: its source, the headers that identify it, and field → header."""

    name: str
    title: str
    source: str
    signature: tuple[str, ...]
    columns: Mapping[str, str]
    #: Group codes written as words (the export's vocabulary) → X12 group code.
    group_words: Mapping[str, str] = field(default_factory=dict)
    #: Claim statuses written as words → CLP02 code.
    status_words: Mapping[str, str] = field(default_factory=dict)


_HDI_LINE_ADJ = {f"Adj{n}{part}": f"LineAdj{n}{col}" for n in range(1, 6)
                 for part, col in (("Group", "Group"), ("Reason", "ReasonCode"), ("Amount", "Amount"),
                                   ("Quantity", "Quantity"))}
_HDI_CLAIM_ADJ = {f"ClaimAdj{n}{part}": f"Adj{n}{col}" for n in range(1, 6)
                  for part, col in (("Group", "Group"), ("Reason", "ReasonCode"), ("Amount", "Amount"),
                                    ("Quantity", "Quantity"))}

#: The layouts read without a mapping (docs/remittance-csv.md has the sources and details).
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset(
        "hdi", "Healthcare Data Insight EDI-to-CSV, 835 (lines with claim header)",
        "https://datainsight.health/docs/datadict/835-payment ; https://datainsight.health/docs/csv/schemas ; "
        "github.com/Healthcare-Data-Insight/api-examples converted_files/835/*.csv",
        ("PatientControlNumber", "LinePaidAmount", "CheckOrEftTraceNumber"),
        {"CheckNumber": "CheckOrEftTraceNumber", "PaymentDate": "PaymentDate", "CheckAmount": "TotalPaymentAmount",
         "PaymentMethod": "PaymentMethodType", "PayerName": "PayerName", "PayerID": "PayerIdentifier",
         "PayeeNPI": "PayeeIdentifier", "ClaimID": "PatientControlNumber", "PayerClaimNumber": "PayerControlNumber",
         "ClaimStatus": "ClaimStatus", "ClaimCharge": "ChargeAmount", "ClaimPaid": "PaymentAmount",
         "ClaimPatientResp": "PatientResponsibilityAmount", "FilingIndicator": "ClaimFilingIndicatorCode",
         "LineID": "LineControlNumber", "DOS": "LineServiceDateFrom", "DOSTo": "LineServiceDateTo",
         "Code": "LineProcedureCode", "Modifier1": "LineProcedureModifier1Code",
         "Modifier2": "LineProcedureModifier2Code", "Modifier3": "LineProcedureModifier3Code",
         "Units": "LineUnitCount", "OriginalCode": "LineOriginalProcedureCode", "Billed": "LineChargeAmount",
         "Allowed": "LineAllowedAmount", "Paid": "LinePaidAmount",
         **{f"Remark{n}": f"LineRemarkCode{n}" for n in range(1, 6)}, **_HDI_LINE_ADJ, **_HDI_CLAIM_ADJ},
        # Seen in the published examples: CONTRACTUAL, PATIENT_RESPONSIBILITY, OTHER. The other two follow
        # X12's names for PI and CR (not seen in an example; the two-letter codes are accepted too).
        group_words={"CONTRACTUAL": "CO", "CONTRACTUALOBLIGATION": "CO", "CONTRACTUALOBLIGATIONS": "CO",
                     "PATIENTRESPONSIBILITY": "PR", "OTHER": "OA", "OTHERADJUSTMENT": "OA", "OTHERADJUSTMENTS": "OA",
                     "PAYERINITIATED": "PI", "PAYERINITIATEDREDUCTIONS": "PI", "CORRECTION": "CR",
                     "CORRECTIONANDREVERSAL": "CR", "CORRECTIONANDREVERSALS": "CR"},
    ),
    Preset(
        "nextgen", "NextGen Enterprise PM ERA Import Posting report, saved as CSV",
        "https://docs.nextgen.com/en-US/help-guide-for-nextgenc2ae-enterprise-pm-8-3239701/"
        "era-import-posting-report-columns-399215",
        ("Chk Nbr", "Pd Amt", "CPT4"),
        {"CheckNumber": "Chk Nbr", "ClaimID": "Clm Nbr", "DOS": "Svc Date", "Code": "CPT4", "Modifier1": "M1",
         "Modifier2": "M2", "ClaimStatus": "Clm Sts Cod", "Billed": "Bill Amt", "Paid": "Pd Amt",
         "Allowed": "Allwd Amt", "Deductible": "Ded Amt", "Coinsurance": "CoIns Amt", "PatientResp": "Pat Rsp",
         "AdjAmount": "Adj Amt", "AdjReason": "CAGC/CARC", "PayerID": "Pyr ID",
         "PayerName": "Pyr Nam", "RemarkCodes": "Remark Codes", "PayeeNPI": "NPI"},
    ),
)}

#: CLP02 statuses written as words, accepted in every layout (the code list's wording).
_STATUS_WORDS = {"PRIMARY": "1", "SECONDARY": "2", "TERTIARY": "3", "DENIED": "4", "PENDED": "5", "RECEIVED": "10",
                 "NOTOURCLAIM": "13", "PRIMARYFORWARDED": "19", "SECONDARYFORWARDED": "20", "TERTIARYFORWARDED": "21",
                 "REVERSAL": "22", "REVERSALOFPREVIOUSPAYMENT": "22", "PREDETERMINATION": "25"}
#: Group names other exports use, accepted in every layout.
_GROUP_WORDS = {"CONTRACTUALOBLIGATION": "CO", "CONTRACTUAL": "CO", "PATIENTRESPONSIBILITY": "PR",
                "OTHERADJUSTMENT": "OA", "OTHERADJUSTMENTS": "OA", "PAYERINITIATEDREDUCTION": "PI",
                "PAYERINITIATEDREDUCTIONS": "PI", "CORRECTIONANDREVERSAL": "CR", "CORRECTIONSANDREVERSALS": "CR"}
#: One adjustment in a cell of several: group, reason, amount ("CO-45 12.00", "PR2: 3.40", "OA 23=(9.00)").
_ADJ_ITEM = re.compile(r"^\s*(CO|PR|OA|PI|CR)\s*[-_ ]?\s*([A-Z0-9]{1,5})\s*[:=]?\s*(\S.*?)\s*$", re.IGNORECASE)
#: A reason cell that carries its group: "CO-45", "CO45", "PR 2".
_GROUPED_REASON = re.compile(r"^\s*(CO|PR|OA|PI|CR)\s*[-_ /]?\s*([A-Z0-9]{1,5})\s*$", re.IGNORECASE)


def detect_preset(header: list[str]) -> str | None:
    """The preset whose signature headers all appear in ``header``, or None."""
    present = {normalize_header(h) for h in header}
    for p in PRESETS.values():
        if all(normalize_header(h) in present for h in p.signature):
            return p.name
    return None


def mapping_from_toml(path: str | Path) -> dict[str, str]:
    """A column mapping from TOML: ``ClaimID = "Acct #"`` at the top level or under ``[RemitCSV]`` or
    ``[columns]`` (the workbook ``--columns`` file shape). Raises :class:`RemitCSVError`."""
    p = Path(path)
    data = read_toml(p, RemitCSVError, 'ClaimID = "Acct #" under [RemitCSV]')
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if tables:
        section = next((v for k, v in tables.items() if normalize_header(k) in ("remitcsv", "columns", "remittance")),
                       None)
        if section is None:
            raise RemitCSVError(f"{p.name}: put the mapping at the top level or under [RemitCSV] "
                                f"(found [{', '.join(tables)}]).")
        data = {**{k: v for k, v in data.items() if not isinstance(v, dict)}, **section}
    return {k: str(v) for k, v in data.items()}


def read_remit_csv(data: bytes | str, source: str = "the remittance export", *, preset: str | None = None,
                   mapping: dict[str, str] | None = None) -> tuple[Remittance, ...]:
    """Remittances of a CSV export (see the module docstring). ``mapping``: our field → their header."""
    text = _decode(data, source)
    rows = _rows(text, source)
    if not rows:
        raise RemitCSVError(f"{source}: the file is empty; expected a header row and one row per service line.")
    overrides = _check_mapping(mapping or {}, source)
    head_index = _header_row(rows, overrides)
    if head_index is None:
        seen = {normalize_header(v) for _, row in rows[:HEADER_SEARCH_ROWS] for v in row}
        lost = [h for h in overrides.values() if normalize_header(h) not in seen]
        hint = f" The mapped header(s) {', '.join(map(repr, lost))} are in none of them." if lost else ""
        raise RemitCSVError(f"{source}: no header row naming a claim id and a paid amount in the first "
                            f"{HEADER_SEARCH_ROWS} lines. Name the columns (e.g. Claim ID, CPT, Paid) or map them."
                            + hint)
    head_line, header = rows[head_index]
    if preset is None:
        preset = detect_preset(header)
    elif preset not in PRESETS and preset != "generic":
        raise RemitCSVError(f"{source}: unknown preset {preset!r}; choose from {', '.join([*PRESETS, 'generic'])}.")
    chosen = PRESETS.get(preset or "")
    columns = _map(header, {**(dict(chosen.columns) if chosen else {}), **overrides})
    missing = [h for f, h in overrides.items() if f not in columns or columns[f][1] != h]
    if missing:
        raise RemitCSVError(f"{source}: line {head_line}: the mapped header(s) {', '.join(map(repr, missing))} "
                            f"are not in the header row.")
    absent = [f.name for f in FIELDS if f.required and f.name not in columns]
    if absent:
        raise RemitCSVError(f"{source}: line {head_line}: no column for {', '.join(absent)}; "
                            f"map it, e.g. {absent[0]} = \"<your header>\".")
    return _Builder(source, columns, chosen).build(rows[head_index + 1:])


# --------------------------------------------------------------------------------------------------
# File, header and mapping


def _decode(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    if b"\x00" in data[:4096]:
        raise RemitCSVError(f"{source}: the file is not text (a spreadsheet or UTF-16 file?). "
                            f"Save the export as CSV (UTF-8).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows


def _delimiter(text: str) -> str:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _rows(text: str, source: str) -> list[tuple[int, list[str]]]:
    # strict: an unclosed quote would otherwise swallow the rest of the file into one cell, silently.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    out: list[tuple[int, list[str]]] = []
    try:
        start = 1
        for row in reader:
            out.append((start, [c.strip() for c in row]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RemitCSVError(f"{source}: line {reader.line_num}: not readable as CSV ({exc}).") from None
    return out


def _check_mapping(mapping: dict[str, str], source: str) -> dict[str, str]:
    out = {}
    for key, header in mapping.items():
        name = _FIELD_BY_NORM.get(normalize_header(key))
        if name is None:
            names = [f.name for f in FIELDS if not any(ch.isdigit() for ch in f.name)]
            raise RemitCSVError(f"{source}: {key!r} in the column mapping is not a remittance field; use one of "
                                f"{', '.join(names)} (or Adj1Group ... Adj5Amount).")
        if not str(header).strip():
            raise RemitCSVError(f"{source}: {key} in the column mapping must name a header.")
        out[name] = str(header)
    return out


def _tables(overrides: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    override = {normalize_header(h): f for f, h in overrides.items()}
    exact = dict(_FIELD_BY_NORM)
    alias: dict[str, str] = {}
    for f in FIELDS:
        for a in f.aliases:
            alias.setdefault(normalize_header(a), f.name)
    return override, exact, alias


def _header_row(rows: list[tuple[int, list[str]]], overrides: Mapping[str, str]) -> int | None:
    """The row (of the first 20) naming most fields; it must name the required ones."""
    tables = _tables(overrides)
    best, best_score = None, 0
    for i, (_, row) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        seen = {t[normalize_header(v)] for v in row if v for t in tables if normalize_header(v) in t}
        for p in PRESETS.values():  # a preset's headers count too (HDI's "LinePaidAmount" is no alias)
            seen |= {f for f, h in p.columns.items() if normalize_header(h) in {normalize_header(v) for v in row}}
        if len(seen) > best_score and {"ClaimID", "Paid"} <= seen:
            best, best_score = i, len(seen)
    return best


def _map(header: list[str], overrides: Mapping[str, str]) -> dict[str, tuple[int, str]]:
    """Field → (column index, header text): override (user, then preset), exact name, alias; the
    first column wins when two match a field at the same level."""
    claimed: dict[str, tuple[int, str]] = {}
    used: set[int] = set()
    for table in _tables(overrides):
        for j, text in enumerate(header):
            if j in used or not text:
                continue
            name = table.get(normalize_header(text))
            if name is None or name in claimed:
                continue
            claimed[name] = (j, text)
            used.add(j)
    return claimed


# --------------------------------------------------------------------------------------------------
# Records


class _BadRow(RemitCSVError):
    """One row cannot be read: caught per row and reported as a ``bad_row`` problem, never raised."""


@dataclass
class _Line:
    line: int
    code: str
    modifiers: tuple[str, ...]
    units: Decimal
    billed: Decimal | None
    paid: Decimal
    allowed: Decimal | None
    control: str
    dos: date | None
    dos_to: date | None
    original: str
    adjustments: list[Adjustment]
    remarks: tuple[str, ...]
    key: tuple
    patient: Decimal | None = None


@dataclass
class _Claim:
    line: int
    pcn: str
    payer_claim: str = ""
    status: str = ""
    charge: Decimal | None = None
    paid: Decimal | None = None
    patient: Decimal | None = None
    filing: str = ""
    adjustments: list[Adjustment] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)


@dataclass
class _Payment:
    line: int
    trace: str
    payer_name: str
    payer_id: str
    amount: Decimal | None = None
    date: date | None = None
    method: str = ""
    payee_npi: str = ""
    claims: dict[tuple[str, str], _Claim] = field(default_factory=dict)
    problems: list[Problem835] = field(default_factory=list)


#: Fields carried from a claim's first row to the following rows of the same claim.
_CARRIED = ("CheckNumber", "PaymentDate", "CheckAmount", "PaymentMethod", "PayerName", "PayerID", "PayeeNPI",
            "PayerClaimNumber")


class _Builder:
    def __init__(self, source: str, columns: dict[str, tuple[int, str]], preset: Preset | None) -> None:
        self.source = source
        self.index = {f: j for f, (j, _) in columns.items()}
        self.groups = {**_GROUP_WORDS, **(preset.group_words if preset else {})}
        self.statuses = {**_STATUS_WORDS, **(preset.status_words if preset else {})}
        self.payments: dict[tuple[str, str], _Payment] = {}
        self.previous: dict[str, str] = {}
        self.last_line: _Line | None = None
        self.last_claim: _Claim | None = None

    def cell(self, row: list[str], name: str) -> str:
        j = self.index.get(name)
        return row[j] if j is not None and j < len(row) else ""

    def money(self, row: list[str], name: str) -> Decimal | None:
        text = self.cell(row, name)
        if not text:
            return None
        try:
            return to_money(text)
        except ValueError:
            raise _BadRow(f"{name} is not an amount") from None

    def day(self, row: list[str], name: str) -> date | None:
        text = self.cell(row, name)
        if not text:
            return None
        try:
            return parse_date_text(text)
        except ValueError:
            raise _BadRow(f"{name} is not a date (m/d/yyyy, yyyy-mm-dd or yyyymmdd)") from None

    def group(self, text: str) -> str:
        g = text.strip().upper()
        if g in GROUPS:
            return g
        word = self.groups.get(normalize_header(text).upper())
        if word is None:
            raise _BadRow("an adjustment group is not one of CO, PR, OA, PI, CR")
        return word

    def build(self, rows: list[tuple[int, list[str]]]) -> tuple[Remittance, ...]:
        for number, row in rows:
            if not any(row):
                continue
            self.row(number, row)
        return tuple(self.freeze(p) for p in self.payments.values())

    def row(self, number: int, row: list[str]) -> None:
        pcn = self.cell(row, "ClaimID")
        carried = {f: self.cell(row, f) for f in _CARRIED}
        if pcn and pcn == self.previous.get("ClaimID"):
            carried = {f: v or self.previous.get(f, "") for f, v in carried.items()}
        self.previous = {"ClaimID": pcn, **carried}
        key = (carried["CheckNumber"], carried["PayerID"] or carried["PayerName"])
        payment = self.payments.get(key)
        if payment is None:
            payment = self.payments[key] = _Payment(number, carried["CheckNumber"], carried["PayerName"],
                                                    carried["PayerID"])
        try:
            if not pcn:
                raise _BadRow("the claim id is blank")
            self.read(number, row, payment, pcn, carried)
        except _BadRow as exc:
            detail = f"{exc}; the row is not read"
            payment.problems.append(Problem835("bad_row", "error", number, "CSV", f"{self.source}: line {number}: {detail}",
                                               detail))

    def read(self, number: int, row: list[str], payment: _Payment, pcn: str, carried: dict[str, str]) -> None:
        # Parse everything first: a bad cell leaves the records untouched.
        pay_amount = self.money(row, "CheckAmount")
        pay_date = self.day(row, "PaymentDate")
        claim_charge, claim_paid = self.money(row, "ClaimCharge"), self.money(row, "ClaimPaid")
        claim_patient = self.money(row, "ClaimPatientResp")
        claim_adjs = self.numbered(row, "ClaimAdj")
        code = self.cell(row, "Code").upper()
        billed, paid, allowed = self.money(row, "Billed"), self.money(row, "Paid"), self.money(row, "Allowed")
        line_adjs = self.line_adjustments(row)
        is_line = bool(code) or billed is not None or paid is not None
        if is_line and not code:
            raise _BadRow("the procedure code is blank")
        if is_line and paid is None:
            raise _BadRow("the paid amount is blank")
        units = self.money(row, "Units")
        line_patient = self.money(row, "PatientResp")
        dos, dos_to = self.day(row, "DOS"), self.day(row, "DOSTo")

        if pay_amount is not None and payment.amount is None:
            payment.amount = pay_amount
        payment.date = payment.date or pay_date
        payment.method = payment.method or self.cell(row, "PaymentMethod").upper()
        payment.payee_npi = payment.payee_npi or carried["PayeeNPI"]
        claim = payment.claims.get((pcn, carried["PayerClaimNumber"]))
        if claim is None:
            claim = payment.claims[(pcn, carried["PayerClaimNumber"])] = _Claim(number, pcn, carried["PayerClaimNumber"])
            self.last_line = None
        status = self.cell(row, "ClaimStatus")
        if status and not claim.status:
            claim.status = status if status.isdigit() else self.statuses.get(normalize_header(status).upper(), status)
        claim.filing = claim.filing or self.cell(row, "FilingIndicator").upper()
        claim.charge = claim.charge if claim.charge is not None else claim_charge
        claim.paid = claim.paid if claim.paid is not None else claim_paid
        claim.patient = claim.patient if claim.patient is not None else claim_patient
        claim.adjustments.extend(claim_adjs)
        if not is_line:
            claim.adjustments.extend(line_adjs)  # a claim-level row
            return
        assert paid is not None
        modifiers = self.modifiers(row)
        control = self.cell(row, "LineID")
        key = (pcn, control) if control else (pcn, code, modifiers, dos, billed, paid)
        last = self.last_line
        if last is not None and last.key == key and self.cell(row, "AdjAmount") and claim.lines and claim.lines[-1] is last:
            last.adjustments.extend(line_adjs)  # one CAS per row: the same line again
            return
        remarks = [r.upper() for r in re.split(r"[\s,;|]+", self.cell(row, "RemarkCodes")) if r]
        remarks += [self.cell(row, f"Remark{n}").upper() for n in range(1, 6) if self.cell(row, f"Remark{n}")]
        line = _Line(number, code, modifiers, units if units is not None else Decimal(1), billed, paid, allowed,
                     control, dos, dos_to, self.cell(row, "OriginalCode").upper(), line_adjs, tuple(remarks), key,
                     line_patient)
        claim.lines.append(line)
        self.last_line = line

    def modifiers(self, row: list[str]) -> tuple[str, ...]:
        mods = [m.upper() for m in re.split(r"[\s,;:|/-]+", self.cell(row, "Modifiers")) if m]
        mods += [self.cell(row, f"Modifier{n}").upper() for n in range(1, 5) if self.cell(row, f"Modifier{n}")]
        return tuple(mods[:4])

    def numbered(self, row: list[str], prefix: str) -> list[Adjustment]:
        out = []
        for n in range(1, 6):
            amount = self.money(row, f"{prefix}{n}Amount")
            reason = self.cell(row, f"{prefix}{n}Reason")
            if amount is None and not reason:
                continue
            if amount is None:
                raise _BadRow(f"{prefix}{n}Amount is blank")
            out.append(self.adjustment(self.cell(row, f"{prefix}{n}Group"), reason, amount,
                                       self.money(row, f"{prefix}{n}Quantity")))
        return out

    def adjustment(self, group: str, reason: str, amount: Decimal, quantity: Decimal | None) -> Adjustment:
        if not group:
            m = _GROUPED_REASON.match(reason)
            if m is None:
                raise _BadRow("an adjustment has no group (CO, PR, OA, PI, CR); give a group column or "
                              "write the reason as CO-45")
            group, reason = m[1], m[2]
        if not reason:
            raise _BadRow("an adjustment has no reason code")
        return Adjustment(self.group(group), reason.strip().upper(), amount, quantity)

    def line_adjustments(self, row: list[str]) -> list[Adjustment]:
        out = []
        amount = self.money(row, "AdjAmount")
        if amount is not None and (amount != 0 or self.cell(row, "AdjReason")):
            out.append(self.adjustment(self.cell(row, "AdjGroup"), self.cell(row, "AdjReason"), amount,
                                       self.money(row, "AdjQuantity")))
        out += self.numbered(row, "Adj")
        for item in re.split(r"[;|\n]+", self.cell(row, "Adjustments")):
            if not item.strip():
                continue
            m = _ADJ_ITEM.match(item)
            if m is None:
                raise _BadRow("the adjustments cell is not like \"CO-45 12.00; PR-2 3.40\"")
            try:
                value = to_money(m[3])
            except ValueError:
                raise _BadRow("an amount in the adjustments cell is not an amount") from None
            out.append(Adjustment(m[1].upper(), m[2].upper(), value, None))
        for name, reason in (("Deductible", "1"), ("Coinsurance", "2"), ("Copay", "3")):
            column = self.money(row, name)
            if column:
                out.append(Adjustment("PR", reason, column, None))
        return out

    def freeze(self, p: _Payment) -> Remittance:
        problems = list(p.problems)
        claims: list[ClaimPayment] = []
        for c in p.claims.values():
            services = tuple(self.service(ln) for ln in c.lines)
            paid = c.paid if c.paid is not None else sum((s.paid for s in services), _ZERO)
            charge = c.charge if c.charge is not None else sum((s.charge for s in services), _ZERO)
            if c.patient is not None:
                patient = c.patient
            elif any(ln.patient is not None for ln in c.lines):
                patient = sum((ln.patient or _ZERO for ln in c.lines), _ZERO)
            else:
                patient = sum((a.amount for s in services for a in s.adjustments if a.group == "PR"), _ZERO)
            status = c.status or ("22" if charge < 0 else "4" if paid == 0 and charge > 0 else "1")
            claim = ClaimPayment(c.pcn, status, charge, paid, patient, c.payer_claim, tuple(c.adjustments), services,
                                 None, None, c.line, filing_indicator=c.filing)
            adjusted = sum((a.amount for a in claim.adjustments), _ZERO) + sum(
                (a.amount for s in services for a in s.adjustments), _ZERO)
            if charge != paid + adjusted:
                detail = (f"claim {len(claims) + 1} of the payment does not balance: charge {charge} ≠ paid {paid} "
                          f"+ adjustments {adjusted}")
                problems.append(Problem835("unbalanced_claim", "error", c.line, "CSV",
                                           f"{self.source}: line {c.line}: {detail}", detail))
            claims.append(claim)
        total = sum((c.paid for c in claims), _ZERO)
        amount = p.amount if p.amount is not None else total
        if amount != total:
            detail = f"the check amount {amount} ≠ claims paid {total}"
            problems.append(Problem835("unbalanced_remittance", "error", p.line, "CSV",
                                       f"{self.source}: line {p.line}: {detail}", detail))
        problems.sort(key=lambda q: q.segment)
        return Remittance("", p.payer_name, p.payer_id, "", "XX" if p.payee_npi else "", p.payee_npi, p.payee_npi, (),
                          amount, "C", p.method, p.date, p.trace, tuple(claims), (), tuple(problems), p.line,
                          source="CSV")

    @staticmethod
    def service(ln: _Line) -> ServicePayment:
        adjusted = sum((a.amount for a in ln.adjustments), _ZERO)
        charge = ln.billed if ln.billed is not None else ln.paid + adjusted
        single = ln.dos_to is None or ln.dos_to == ln.dos
        original = Procedure("HC", ln.original, ()) if ln.original and ln.original != ln.code else None
        return ServicePayment("HC", ln.code, ln.modifiers, charge, ln.paid, ln.units, original, tuple(ln.adjustments),
                              ln.control, ln.dos if single else None, None if single else ln.dos,
                              None if single else ln.dos_to, ln.remarks, ln.line,
                              allowed=ln.allowed, amounts=(("B6", ln.allowed),) if ln.allowed is not None else ())
