"""Readers for CMS's yearly Medicare Physician Fee Schedule (PFS) files: the PPRRVU relative value
file and the GPCI file, both in the quarterly ``RVUyy[A-D].zip`` releases on CMS's "PFS Relative Value
Files" page.

What the files look like (confirmed, not assumed)
-------------------------------------------------

**PPRRVU** (``PPRRVU25_JAN.csv``; from 2026 two files, ``PPRRVU2026_Jan_nonQPP.csv`` and ``..._QPP.csv``,
identical RVUs, different conversion factor):

* Preamble lines first, with their text in the *third* column (under DESCRIPTION), e.g.
  ``,,2025 National Physician Fee Schedule Relative Value File January Release``, the AMA CPT and ADA
  copyright notices, ``,,RELEASED 12/23/2024``.
* The header is **split over five lines**, one word-group per line, ending with the line that starts
  ``HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU,PE RVU,INDICATOR,PE RVU,INDICATOR,RVU,TOTAL,TOTAL,...,FACTOR``.
  Read top to bottom per column the names are ``STATUS CODE``, ``NOT USED FOR MEDICARE PAYMENT``,
  ``WORK RVU``, ``NON-FAC PE RVU``, ``NON-FAC NA INDICATOR``, ``FACILITY PE RVU``,
  ``FACILITY NA INDICATOR``, ``MP RVU``, ``NON-FACILITY TOTAL``, ``FACILITY TOTAL``, ``PCTC IND``,
  ``GLOB DAYS``, ..., ``CO- SURG``, ``TEAM SURG``, ``ENDO BASE``, ``CONV FACTOR``, ... and three
  ``... USED FOR OPPS PAYMENT AMOUNT`` columns: 31 columns in 2025; 2026 adds ``PRIC IND`` (9 in the
  non-QPP file, 1 in the QPP file), 32 columns. The HCPCS line alone is ambiguous (``RVU`` and
  ``PE RVU`` twice), so this reader joins each column's words from the lines above it.
* Data rows: ``97110,,Therapeutic exercises,A,,0.45,0.43,,0.43,NA,0.01,0.89,0.89,7,XXX,...,32.3465,...``:
  RVUs as plain decimals with two places. ``NA`` is in the *indicator* column, while the PE cell still
  holds a number (the always-therapy codes are facility-``NA``). ``NON-FACILITY TOTAL`` equals work +
  non-facility PE + MP on every row, and ``FACILITY TOTAL`` the same with facility PE; this reader
  checks that, so a misread column cannot pass silently. Blank RVU cells mean zero.

**GPCI** (``GPCI2025.csv``, ``GPCI2026.csv``): two or three banner lines (``ADDENDUM E. FINAL CY 2025
GEOGRAPHIC PRACTICE COST INDICES (GPCIs) BY STATE AND MEDICARE LOCALITY``, a blank line), then
``Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,2025 PW GPCI (with 1.0
Floor),2025 PE GPCI,2025 MP GPCI``; rows like ``01112,CA,54,BAKERSFIELD,1.017,1.093,0.662`` (names may
carry a ``*`` footnote mark, numbers lose trailing zeros); footnote lines at the end. The 2026 January
file has the work GPCI twice, ``... PW GPCI (without 1.0 Floor)`` and ``... (with 1.0 Floor)``; the
floored one is what Medicare pays on and is the one read. The year is part of the column names, so a
file whose columns name another year than ``--year`` is refused.

Sources: the stored public copy of CMS's ``rvu25a/PPRRVU25_JAN.csv`` and the ``GPCI2025`` excerpt
in github.com/alex-bea/cms_api (``sample_data/rvu25a/``, ``tests/fixtures/gpci/golden/``); the
hash-pinned CY2026 RVU26A-D parser in github.com/seen-institute/worth (``worth_fees``: 32 columns,
PRIC IND, the totals cross-check, the with/without-floor GPCI columns); public PFS loaders that join
the split header (``CO- SURG``) and skip "the 9-line preamble". Column positions drift between years,
so every column here is found by its name, never by position.

Medicare locality key
---------------------
Each GPCI row is keyed ``MAC-LL``: the 5-digit MAC number (leading zeros restored when a spreadsheet
dropped them) and the 2-digit locality number, e.g. ``12402-99`` (New Jersey, rest of state) or
``01112-54``. **This is the value the Practice sheet's ``MedicareLocality`` setting must hold.** The MAC
is part of the key because a locality number alone is not unique across the country.

Rows: by default only codes in the OT code catalogue (:func:`otbill_xl.domain.codes.catalogue`) are
kept (``all_codes=True`` keeps all ~16,000). Numbers are read as :class:`~decimal.Decimal` from the
text as written (never through float). Bad rows become findings naming the file and line; the rest are
read. A file that is not the expected layout raises :class:`CmsFileError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from otbill_xl.domain.codes import catalogue
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import MedicareGPCI, MedicareRVU
from otbill_xl.formats.fee_schedule_import import (
    Rows,
    TabularFileError,
    cell,
    cell_text,
    is_blank_row,
    norm,
    read_rows,
)


class CmsFileError(TabularFileError):
    """A CMS PFS file that is not the expected layout (or cannot be read at all)."""

    message = "The CMS file cannot be used."


#: How far into a file the header must start (the real preamble is 9 lines).
HEADER_SEARCH_LINES = 60
#: Lines above the HCPCS line that may hold the upper words of the split header.
_MAX_HEADER_LINES_ABOVE = 6
_HEADER_WORD_MAX = 40

_CODE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_YEAR = re.compile(r"(?<!\d)(19[9]\d|20\d\d)(?!\d)")
#: Status codes with a payable amount (A active, R restricted, T paid only when alone).
_PAYABLE_STATUS = {"A", "R", "T"}
_STATUS_TEXT = {"B": "bundled: no separate payment", "I": "not valid for Medicare claims",
                "N": "not covered by Medicare", "X": "statutory exclusion", "C": "priced by the MAC",
                "E": "excluded by regulation", "P": "bundled/excluded", "M": "measurement code only",
                "D": "deleted", "G": "not valid for Medicare (use the G-code)", "J": "anesthesia only"}


def _decimal(value: object) -> Decimal:
    """A CMS number as Decimal, exactly as written. Blank means zero; raises ``ValueError``."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # a spreadsheet copy of the file: repr is the shortest exact text
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("is not a number")
        return Decimal(repr(value))
    text = str(value).strip()
    if not text:
        return Decimal(0)
    if not _NUMBER.match(text):
        raise ValueError("is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError("is not a number") from None


def _looks_numeric(value: object) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    return bool(_NUMBER.match(cell_text(value)))


def locality_key(mac: object, locality: object) -> str:
    """The workbook's Medicare locality key, ``MAC-LL``: ``locality_key("1112", "1") == "01112-01"``."""
    return f"{cell_text(mac).zfill(5)}-{cell_text(locality).zfill(2)}"


def _file_year_hint(name: str) -> int | None:
    """The year in a CMS file name: PPRRVU26_JAN.csv -> 2026, PPRRVU2026_Jan_nonQPP.csv -> 2026."""
    m = re.search(r"(?:PPRRVU|GPCI|RVU)[_-]?(\d{4}|\d{2})(?!\d)", name, re.IGNORECASE)
    if not m:
        return None
    digits = m[1]
    return int(digits) if len(digits) == 4 else 2000 + int(digits)


def _finding(table: Rows, rule: str, severity: Severity, line: int, message: str, fix: str = "",
             index: int | None = None, column: str = "") -> Finding:
    return Finding(rule=rule, severity=severity, location=table.location(line, index, column),
                   message=table.where(line) + message, fix=fix)


# ------------------------------------------------------------------------------------------------
# PPRRVU
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RvuRead:
    """The result of reading a PPRRVU file."""

    file: str
    year: int
    #: Line (or worksheet row) of the header line that starts with HCPCS.
    header_line: int
    rvus: tuple[MedicareRVU, ...]
    findings: tuple[Finding, ...]
    #: Code rows left out because the code is not in the OT catalogue (``all_codes=False``).
    other_codes: int = 0
    #: The distinct CONV FACTOR values in the file (informational; otbill's own CF table prices).
    conversion_factors: tuple[Decimal, ...] = ()
    #: The distinct PRIC IND values (2026 on: 9 = non-qualifying-APM file, 1 = qualifying-APM file).
    pricing_indicators: tuple[str, ...] = ()
    #: Column -> the joined header text it was read from.
    columns: tuple[tuple[str, str], ...] = ()
    #: Codes of rows skipped for an error (an import with --partial keeps their current rows).
    rejected: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def summary(self) -> dict[str, Any]:
        return {"file": self.file, "year": self.year, "header_line": self.header_line, "rvus": len(self.rvus),
                "other_codes": self.other_codes, "errors": len(self.errors),
                "conversion_factors": [str(c) for c in self.conversion_factors],
                "pricing_indicators": list(self.pricing_indicators)}


def _header_band(table: Rows, pos: int, code_col: int) -> tuple[list[int], list[str]]:
    """Positions of the header lines (upper word lines + the HCPCS line + continuation lines below)
    and each column's joined name."""
    hcpcs_cells = table.rows[pos][1]
    single = {i for i, c in enumerate(hcpcs_cells) if norm(cell_text(c)) in ("hcpcs", "mod", "modifier", "description")}

    def is_word_line(cells: list[Any], below: bool) -> bool:
        texts = [(i, cell_text(c)) for i, c in enumerate(cells)]
        filled = [(i, t) for i, t in texts if t]
        if not filled or any(i in single or i == code_col for i, _ in filled):
            return False  # preamble text sits under DESCRIPTION; data rows have a code
        if any(len(t) > _HEADER_WORD_MAX for _, t in filled):
            return False
        return not (below and any(_looks_numeric(t) for _, t in filled))

    band = [pos]
    for k in range(1, _MAX_HEADER_LINES_ABOVE + 1):
        if pos - k < 0 or not is_word_line(table.rows[pos - k][1], below=False):
            break
        band.insert(0, pos - k)
    for k in range(1, 3):
        if pos + k >= len(table.rows) or not is_word_line(table.rows[pos + k][1], below=True):
            break
        band.append(pos + k)
    width = max(len(table.rows[p][1]) for p in band)
    names = []
    for i in range(width):
        words = [cell_text(cell(table.rows[p][1], i)) for p in band]
        names.append(re.sub(r"\s+", " ", " ".join(w for w in words if w)).strip())
    return band, names


def _pick(names: list[str], test) -> int | None:
    return next((i for i, n in enumerate(names) if n and test(norm(n))), None)


_RVU_COLUMNS = {
    "code": lambda n: n in ("hcpcs", "hcpcscode", "hcpcscd", "cpthcpcs"),
    "modifier": lambda n: n in ("mod", "modifier"),
    "status": lambda n: "status" in n,
    "work": lambda n: "work" in n and "rvu" in n and "opps" not in n,
    "pe_nonfacility": lambda n: "pervu" in n and "nonfac" in n,
    "na_nonfacility": lambda n: "nonfac" in n and "naind" in n,
    "pe_facility": lambda n: "pervu" in n and "fac" in n and "nonfac" not in n,
    "na_facility": lambda n: "fac" in n and "naind" in n and "nonfac" not in n,
    "mp": lambda n: ("mprvu" in n or ("malpractice" in n and "rvu" in n)) and "opps" not in n,
    "total_nonfacility": lambda n: "nonfac" in n and "total" in n,
    "total_facility": lambda n: "fac" in n and "total" in n and "nonfac" not in n,
    "conversion_factor": lambda n: n.startswith("conv") or "conversionfactor" in n,
    "pricing_indicator": lambda n: n.startswith("pricind") or n.startswith("pricingind"),
}
_RVU_REQUIRED = {"work": "WORK RVU", "pe_nonfacility": "NON-FAC PE RVU", "mp": "MP RVU"}


def read_pprrvu(path: str | Path, *, year: int, all_codes: bool = False) -> RvuRead:
    """Read a CMS PPRRVU file (CSV, or CMS's .xlsx copy) for fee-schedule year ``year``.

    Raises :class:`CmsFileError` when the file is missing, unreadable or not the PPRRVU layout.
    """
    table = read_rows(path, error=CmsFileError)
    return parse_pprrvu(table, year=year, all_codes=all_codes)


def parse_pprrvu(table: Rows, *, year: int, all_codes: bool = False) -> RvuRead:
    """Parse PPRRVU rows already read with :func:`~otbill_xl.formats.fee_schedule_import.read_rows`."""
    file = table.file
    pos = code_col = None
    for p, (_, cells) in enumerate(table.rows[:HEADER_SEARCH_LINES]):
        hit = next((i for i, c in enumerate(cells) if norm(cell_text(c)) in ("hcpcs", "hcpcscode")), None)
        if hit is not None:
            pos, code_col = p, hit
            break
    if pos is None or code_col is None:
        raise CmsFileError(_not_layout(table, "PPRRVU", "a header line starting with HCPCS, MOD, DESCRIPTION",
                                       "Use the PPRRVU*.csv file from CMS's RVU zip (e.g. PPRRVU26_JAN.csv or "
                                       "PPRRVU2026_Jan_nonQPP.csv), not the fixed-width .txt one."))
    header_line = table.rows[pos][0]
    band, names = _header_band(table, pos, code_col)
    cols = {key: _pick(names, test) for key, test in _RVU_COLUMNS.items()}
    cols["code"] = code_col
    missing = [label for key, label in _RVU_REQUIRED.items() if cols[key] is None]
    if missing:
        shown = ", ".join(n for n in names if n)[:400]
        raise CmsFileError(
            f"{file} line {header_line}: the PPRRVU header has no {', '.join(missing)} column (columns read: {shown}). "
            "Fix: use the PPRRVU CSV exactly as CMS ships it, including the header lines above the HCPCS line "
            "(they hold the words WORK, NON-FAC, FACILITY and MP)."
        )

    findings: list[Finding] = []
    titles = [(ln, " ".join(cell_text(c) for c in cells)) for ln, cells in table.rows[:band[0]]]
    title_line, title = next(((ln, t) for ln, t in titles if "RELATIVE VALUE" in t.upper()), (None, ""))
    title_years = {int(y) for y in _YEAR.findall(title)}
    if title_years and year not in title_years:
        findings.append(_finding(table, "pfs.year-mismatch", Severity.WARNING, title_line or header_line,
                                 f"The file's title names {', '.join(map(str, sorted(title_years)))}, but the "
                                 f"rows are being imported as {year}.",
                                 "Check --year; use the PPRRVU file of the year you bill."))
    elif (hint := _file_year_hint(file)) and hint != year:
        findings.append(_finding(table, "pfs.year-mismatch", Severity.WARNING, header_line,
                                 f"The file name suggests {hint}, but the rows are being imported as {year}.",
                                 "Check --year; use the PPRRVU file of the year you bill."))

    cat = catalogue()
    rvus: list[MedicareRVU] = []
    seen: dict[tuple[str, str], int] = {}
    factors: set[Decimal] = set()
    indicators: set[str] = set()
    other = 0
    numeric_cols = [cols[k] for k in ("work", "pe_nonfacility", "pe_facility", "mp") if cols[k] is not None]
    rejected: list[str] = []
    for line, cells in table.rows[band[-1] + 1:]:
        if is_blank_row(cells):
            continue
        code = cell_text(cell(cells, code_col)).upper()
        if not _CODE.match(code):
            if code and any(_looks_numeric(cell(cells, i)) and cell_text(cell(cells, i)) for i in numeric_cols):
                findings.append(_finding(table, "pfs.bad-code", Severity.ERROR, line,
                                         f"HCPCS {code[:20]!r} is not a 5-character code; the row is skipped.",
                                         "The file may have been edited; download it again from CMS.",
                                         index=code_col, column="HCPCS"))
            continue  # footnotes and trailer lines
        if cols["conversion_factor"] is not None:
            try:
                cf = _decimal(cell(cells, cols["conversion_factor"]))
                if cf:
                    factors.add(cf)
            except ValueError:
                pass
        if cols["pricing_indicator"] is not None and (pi := cell_text(cell(cells, cols["pricing_indicator"]))):
            indicators.add(pi)
        info = cat.get(code)
        if info is None and not all_codes:
            other += 1
            continue
        modifier = cell_text(cell(cells, cols["modifier"])).upper() if cols["modifier"] is not None else ""
        if modifier and not _MODIFIER.match(modifier):
            findings.append(_finding(table, "pfs.bad-modifier", Severity.ERROR, line,
                                     f"{code}: modifier {modifier[:10]!r} is not a 2-character modifier; the row "
                                     "is skipped.", "Download the file again from CMS.", index=cols["modifier"],
                                     column="MOD"))
            rejected.append(code)
            continue
        label = f"{code}-{modifier}" if modifier else code
        values: dict[str, Decimal] = {}
        bad = False
        for key in ("work", "pe_nonfacility", "pe_facility", "mp", "total_nonfacility", "total_facility"):
            index = cols[key]
            if index is None:
                continue
            raw = cell(cells, index)
            if key in ("pe_facility", "pe_nonfacility") and cell_text(raw).upper() == "NA":
                continue  # "NA" typed in the PE cell itself: same meaning as the NA indicator
            try:
                number = _decimal(raw)
            except ValueError:
                if key.startswith("total"):
                    continue  # the totals only serve the cross-check
                findings.append(_finding(table, "pfs.bad-number", Severity.ERROR, line,
                                         f"{label}: {names[index] or key} {cell_text(raw)[:20]!r} is not a number; "
                                         "the row is skipped.",
                                         "The file may be damaged or edited; download it again from CMS.",
                                         index=index, column=names[index]))
                bad = True
                break
            if number < 0:
                findings.append(_finding(table, "pfs.bad-number", Severity.ERROR, line,
                                         f"{label}: {names[index] or key} is negative ({number}); the row is "
                                         "skipped.", "RVUs are never negative; download the file again from CMS.",
                                         index=index, column=names[index]))
                bad = True
                break
            values[key] = number
        if bad:
            rejected.append(code)
            continue
        nonfac_na = cols["na_nonfacility"] is not None and cell_text(cell(cells, cols["na_nonfacility"])).upper() == "NA"
        if "pe_nonfacility" not in values or nonfac_na:
            findings.append(_finding(table, "pfs.nonfacility-na", Severity.WARNING, line,
                                     f"{label} is not paid in a non-facility setting (NON-FAC NA); it is not "
                                     "imported.", "Nothing to do for office-based therapy unless you bill it.",
                                     index=cols["na_nonfacility"] or cols["pe_nonfacility"], column="NON-FAC NA"))
            continue
        work, pe_nf, mp = values["work"], values["pe_nonfacility"], values["mp"]
        if mismatch := _totals_mismatch(values):
            setting, ours, theirs = mismatch
            findings.append(_finding(table, "pfs.total-mismatch", Severity.ERROR, line,
                                     f"{label}: work + {setting} PE + MP is {ours}, but the file's {setting.upper()} "
                                     f"TOTAL is {theirs}; the row is skipped.",
                                     "The columns do not line up; download the file again from CMS and import it "
                                     "unchanged.", index=cols[f"total_{setting.replace('-', '')}"]))
            rejected.append(code)
            continue
        fac_na = cols["na_facility"] is not None and cell_text(cell(cells, cols["na_facility"])).upper() == "NA"
        pe_f = None if fac_na else values.get("pe_facility")
        if (code_key := (code, modifier)) in seen:
            findings.append(_finding(table, "pfs.duplicate", Severity.WARNING, line,
                                     f"{label} appears again (first at line {seen[code_key]}); the repeat is ignored.",
                                     index=code_col, column="HCPCS"))
            continue
        seen[code_key] = line
        status = cell_text(cell(cells, cols["status"])).upper() if cols["status"] is not None else ""
        if status and status not in _PAYABLE_STATUS and info is not None:
            findings.append(_finding(table, "pfs.status", Severity.INFO, line,
                                     f"{label} has Medicare status {status} ({_STATUS_TEXT.get(status, 'not payable')}); "
                                     "its RVUs are imported as published with its status, and Medicare lines of it are "
                                     "priced at $0.", "", index=cols["status"], column="STATUS CODE"))
        rvus.append(MedicareRVU(year=year, code=code, modifier=modifier, work_rvu=work, pe_rvu_nonfacility=pe_nf,
                                pe_rvu_facility=pe_f, mp_rvu=mp,
                                always_therapy=bool(info.always_therapy) if info is not None else False, row=line,
                                status=status or "A"))
    used = tuple((key, names[i]) for key, i in cols.items() if i is not None)
    return RvuRead(file=file, year=year, header_line=header_line, rvus=tuple(rvus), findings=tuple(findings),
                   other_codes=other, conversion_factors=tuple(sorted(factors)),
                   pricing_indicators=tuple(sorted(indicators)), columns=used, rejected=tuple(dict.fromkeys(rejected)))


def _totals_mismatch(values: dict[str, Decimal]) -> tuple[str, Decimal, Decimal] | None:
    work, mp = values["work"], values["mp"]
    for setting, pe_key, total_key in (("non-facility", "pe_nonfacility", "total_nonfacility"),
                                       ("facility", "pe_facility", "total_facility")):
        if pe_key in values and total_key in values:
            ours = work + values[pe_key] + mp
            if ours != values[total_key]:
                return setting, ours, values[total_key]
    return None


# ------------------------------------------------------------------------------------------------
# GPCI
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GpciRead:
    """The result of reading a GPCI file."""

    file: str
    year: int
    header_line: int
    gpcis: tuple[MedicareGPCI, ...]
    findings: tuple[Finding, ...]
    #: The header of the work GPCI column used (the one with the 1.0 floor when there are two).
    work_column: str = ""
    #: Locality key -> locality name (for messages and listings).
    names: tuple[tuple[str, str], ...] = ()
    #: Locality keys of rows skipped for an error (an import with --partial keeps their current rows).
    rejected: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def summary(self) -> dict[str, Any]:
        return {"file": self.file, "year": self.year, "header_line": self.header_line, "localities": len(self.gpcis),
                "work_column": self.work_column, "errors": len(self.errors)}


def _is_mac_header(n: str) -> bool:
    return n.startswith("medicareadministrativecontractor") or n in ("mac", "carrier", "carriernumber", "contractor",
                                                                       "macnumber", "maclocality")


def _is_locality_header(n: str) -> bool:
    return n in ("localitynumber", "locality", "localitycode", "localityno", "locno")


def read_gpci(path: str | Path, *, year: int) -> GpciRead:
    """Read a CMS GPCI file (CSV, or CMS's .xlsx copy) for fee-schedule year ``year``."""
    table = read_rows(path, error=CmsFileError)
    return parse_gpci(table, year=year)


def parse_gpci(table: Rows, *, year: int) -> GpciRead:
    """Parse GPCI rows already read with :func:`~otbill_xl.formats.fee_schedule_import.read_rows`."""
    file = table.file
    pos = None
    for p, (_, cells) in enumerate(table.rows[:HEADER_SEARCH_LINES]):
        keys = [norm(cell_text(c)) for c in cells]
        if any(map(_is_mac_header, keys)) and any(map(_is_locality_header, keys)) and any("gpci" in k for k in keys):
            pos = p
            break
    if pos is None:
        raise CmsFileError(_not_layout(table, "GPCI", "a header line naming Medicare Administrative Contractor (MAC), "
                                       "Locality Number and the GPCI columns",
                                       "Use the GPCIyyyy.csv file from CMS's RVU zip (e.g. GPCI2026.csv)."))
    header_line, header = table.rows[pos]
    names = [re.sub(r"\s+", " ", cell_text(c)) for c in header]
    keys = [norm(n) for n in names]
    mac_i = next(i for i, k in enumerate(keys) if _is_mac_header(k))
    loc_i = next(i for i, k in enumerate(keys) if _is_locality_header(k))
    name_i = next((i for i, k in enumerate(keys) if "localityname" in k), None)
    work_candidates = [i for i, k in enumerate(keys) if ("pwgpci" in k or "workgpci" in k) and "without" not in k]
    floored = [i for i in work_candidates if "floor" in keys[i]]
    work_i = floored[0] if floored else work_candidates[0] if work_candidates else None
    pe_i = next((i for i, k in enumerate(keys) if "pegpci" in k), None)
    mp_i = next((i for i, k in enumerate(keys) if "mpgpci" in k or "malpracticegpci" in k), None)
    if work_i is None or pe_i is None or mp_i is None:
        missing = [label for label, i in (("PW GPCI", work_i), ("PE GPCI", pe_i), ("MP GPCI", mp_i)) if i is None]
        raise CmsFileError(
            f"{file} line {header_line}: the GPCI header has no {', '.join(missing)} column (columns read: "
            f"{', '.join(n for n in names if n)}). Fix: use the GPCI CSV exactly as CMS ships it."
        )
    years = {int(y) for i in (work_i, pe_i, mp_i) for y in _YEAR.findall(names[i])}
    if years and year not in years:
        raise CmsFileError(
            f"{file} line {header_line}: the GPCI columns are for {', '.join(map(str, sorted(years)))} "
            f"({names[pe_i]!r}), but --year is {year}. Fix: pass --year {min(years)}, or use GPCI{year}.csv "
            f"from the {year} RVU zip."
        )

    findings: list[Finding] = []
    gpcis: list[MedicareGPCI] = []
    loc_names: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    gpci_cols = (("WorkGPCI", work_i), ("PEGPCI", pe_i), ("MPGPCI", mp_i))
    rejected: list[str] = []
    for line, cells in table.rows[pos + 1:]:
        if is_blank_row(cells):
            continue
        mac = cell_text(cell(cells, mac_i))
        loc = cell_text(cell(cells, loc_i))
        if not mac.isdigit():
            if mac and any(_looks_numeric(cell(cells, i)) and cell_text(cell(cells, i)) for _, i in gpci_cols):
                findings.append(_finding(table, "gpci.bad-mac", Severity.ERROR, line,
                                         f"MAC {mac[:20]!r} is not a contractor number; the row is skipped.",
                                         "Download the file again from CMS.", index=mac_i, column=names[mac_i]))
            continue  # footnotes ("* Payment locality is serviced by two MACs") and blank spacer lines
        if not loc.isdigit() or len(loc) > 2 or len(mac) > 5:
            findings.append(_finding(table, "gpci.bad-locality", Severity.ERROR, line,
                                     f"MAC {mac!r} / locality number {loc[:20]!r} is not a 5-digit MAC and a 1-2 digit "
                                     "locality; the row is skipped.", "Download the file again from CMS.",
                                     index=loc_i, column=names[loc_i]))
            continue
        key = locality_key(mac, loc)
        values: dict[str, Decimal] = {}
        for field_name, index in gpci_cols:
            raw = cell(cells, index)
            text = cell_text(raw)
            try:
                if not text:
                    raise ValueError("is blank")
                number = _decimal(raw)
                if number <= 0:
                    raise ValueError("is not above zero")
            except ValueError as exc:
                findings.append(_finding(table, "gpci.bad-number", Severity.ERROR, line,
                                         f"Locality {key}: {names[index]} {text[:20]!r} {exc}; the row is skipped.",
                                         "GPCIs are numbers such as 1.017; download the file again from CMS.",
                                         index=index, column=names[index]))
                rejected.append(key)
                break
            values[field_name] = number
        else:
            if key in seen:
                findings.append(_finding(table, "gpci.duplicate", Severity.WARNING, line,
                                         f"Locality {key} appears again (first at line {seen[key]}); the repeat is "
                                         "ignored.", index=loc_i, column=names[loc_i]))
                continue
            seen[key] = line
            gpcis.append(MedicareGPCI(year=year, locality=key, work_gpci=values["WorkGPCI"], pe_gpci=values["PEGPCI"],
                                      mp_gpci=values["MPGPCI"], row=line))
            name = cell_text(cell(cells, name_i)).rstrip("*").strip() if name_i is not None else ""
            loc_names.append((key, name))
    return GpciRead(file=file, year=year, header_line=header_line, gpcis=tuple(gpcis), findings=tuple(findings),
                    work_column=names[work_i], names=tuple(loc_names), rejected=tuple(dict.fromkeys(rejected)))


def _not_layout(table: Rows, kind: str, expected: str, fix: str) -> str:
    text = " ".join(cell_text(c) for _, cells in table.rows[:HEADER_SEARCH_LINES] for c in cells).lower()
    other = ""
    if kind == "PPRRVU" and "locality number" in text and "gpci" in text:
        other = " It looks like the GPCI file: pass it with --gpci."
    elif kind == "GPCI" and "hcpcs" in text and "rvu" in text:
        other = " It looks like the PPRRVU (RVU) file: pass it with --rvu."
    where = f"{table.file}{' sheet ' + table.sheet if table.sheet else ''}"
    return (f"{where}: this is not a CMS {kind} file: there is no {expected} in its first "
            f"{HEADER_SEARCH_LINES} lines.{other} Fix: {fix}")


__all__ = ["CmsFileError", "GpciRead", "RvuRead", "locality_key", "parse_gpci", "parse_pprrvu", "read_gpci",
           "read_pprrvu"]
