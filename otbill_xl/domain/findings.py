"""Findings: what a check found, where, and how to fix it.

Rules return :class:`Finding` records instead of raising (as beancount's validators return error
records), so one bad cell never stops the others from being checked.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator


class Severity(StrEnum):
    """How bad a finding is. Errors stop a line from being billed; warnings and infos do not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: errors first."""
        return _RANK[self]


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def column_letter(index: int) -> str:
    """Excel column letter for a 1-based column index (1 → A, 27 → AA)."""
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


#: Characters a worksheet cell (XML 1.0) cannot hold, or that only confuse a reader of a message:
#: C0/C1 controls except tab and newline, lone surrogates, and the non-characters U+FFFE/U+FFFF.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: A run of this many characters without a space is a pasted value, not prose: it is shortened.
_LONG_RUN = re.compile(r"\S{61,}")
#: Messages longer than this are searched for such runs (shorter ones are left as they are).
_LONG_MESSAGE = 200
#: A message or fix longer than this is cut (a cell can hold 32,767 characters; a note far fewer).
MESSAGE_LIMIT = 1000


def printable(text: str, limit: int | None = None) -> str:
    """``text`` safe to show and to write into a cell: unprintable characters become U+FFFD and,
    with ``limit``, text longer than that is cut with an ellipsis."""
    if not text.isprintable():  # the usual case is printable: one C-level scan (tabs, newlines land here)
        text = _UNPRINTABLE.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return text


def _shown(text: str) -> str:
    """A finding's text with every quoted value short and printable (messages quote cell values).
    Runs for every finding, so the common case (short words, printable) is a few C-level calls."""
    text = printable(text)
    if len(text) > _LONG_MESSAGE:  # a message this long most likely quotes a pasted value
        text = _LONG_RUN.sub(lambda m: m[0][:40] + "\u2026", text)
    return printable(text, MESSAGE_LIMIT) if len(text) > MESSAGE_LIMIT else text


class Location(BaseModel):
    """Where a finding points: a workbook cell (sheet, worksheet row, contract column) or a file.

    ``cell`` is the A1 reference when the column's position is known, e.g. ``F17``.
    """

    model_config = ConfigDict(frozen=True)

    file: str = ""
    sheet: str = ""
    row: int | None = None
    column: str = ""
    cell: str = ""

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            where = self.sheet
            if self.cell:
                where += f"!{self.cell}"
            elif self.row is not None:
                where += f" row {self.row}"
            if self.column and not self.cell:
                where += f" column {self.column}"
            parts.append(where)
        elif self.row is not None:  # a row of a CSV or text file
            parts.append(f"line {self.row}")
        return ": ".join(parts)


class Finding(BaseModel):
    """One problem found in the input: a stable rule id, a severity, a place, a message and a fix.

    Messages and fixes never carry patient names, member IDs or birth dates; they refer to rows,
    cells, line IDs and claim IDs.
    """

    model_config = ConfigDict(frozen=True)

    rule: str
    severity: Severity
    location: Location
    message: str
    fix: str = ""

    @field_validator("message", "fix")
    @classmethod
    def _printable(cls, text: str) -> str:
        return _shown(text)

    def to_dict(self) -> dict[str, object]:
        """The one JSON shape of a finding, everywhere (``check``, ``price``, ``info``, imports)."""
        loc = self.location
        return {"rule": self.rule, "severity": self.severity.value, "file": loc.file, "sheet": loc.sheet,
                "row": loc.row, "column": loc.column, "cell": loc.cell, "where": str(loc), "message": self.message,
                "fix": self.fix}

    def __str__(self) -> str:
        text = f"{self.severity.value.upper()} [{self.rule}] {self.location}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


def count_by_severity(findings: list[Finding] | tuple[Finding, ...]) -> dict[str, int]:
    """Counts of findings per severity, always with all three keys."""
    counts = {s.value: 0 for s in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts
