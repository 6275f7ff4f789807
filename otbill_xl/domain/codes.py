"""The OT code catalogue: what each CPT/HCPCS code is, and whether it is valid on a date of service.

The catalogue is dated package data (``otbill_xl/refdata/codes.csv``), written from the facts in
``shared/reference/ot-codes.csv`` and ``ot-billing-facts.md`` §3: kind (timed 15-minute, untimed,
evaluation, group, other), what one unit of an untimed code counts, the add-on's base code, the
disciplines that usually bill it (not a rule: the plan of care decides the modifier, facts §4), CMS "always therapy" flag, and the
first date of service on which a code is valid (``effective_from``) or invalid (``deleted_on``),
with its replacements. A new year's codes are a data change, not a code change.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from enum import StrEnum
from functools import cache
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from otbill_xl import refdata
from otbill_xl.domain.models import Discipline


class CodeKind(StrEnum):
    """How a code is billed. Only ``timed`` codes (15-minute units) go through the 8-minute rule."""

    TIMED = "timed"
    UNTIMED = "untimed"
    EVALUATION = "evaluation"
    GROUP = "group"
    SUPPLY = "supply"
    OTHER = "other"


class CodeStatus(StrEnum):
    """A code's validity on a given date of service."""

    ACTIVE = "active"
    DELETED = "deleted"
    NOT_YET_EFFECTIVE = "not_yet_effective"
    UNKNOWN = "unknown"


class CodeInfo(BaseModel):
    """One catalogue row."""

    model_config = ConfigDict(frozen=True)

    code: str
    kind: CodeKind
    unit_minutes: int | None = None
    always_therapy: bool = False
    disciplines: tuple[Discipline, ...] = ()
    effective_from: date | None = None
    deleted_on: date | None = None
    replaced_by: tuple[str, ...] = ()
    addon_to: str = ""
    mue_per_day: int | None = None
    label: str = ""
    #: What one unit of an untimed code counts, from its descriptor: ``session`` or ``day`` (1 unit
    #: however long), or ``each ...`` (e.g. 95851: each extremity or trunk section).
    unit_counts: str = ""

    @property
    def is_timed(self) -> bool:
        """A 15-minute timed code (units from minutes)."""
        return self.kind is CodeKind.TIMED and self.unit_minutes == 15

    @property
    def counts_items(self) -> bool:
        """An untimed code whose descriptor counts items ("each extremity"): more than 1 unit is allowed."""
        return self.unit_counts.startswith("each")

    @property
    def is_addon(self) -> bool:
        """An add-on code that needs its base code the same day (e.g. 97130 needs 97129)."""
        return bool(self.addon_to)

    def status_on(self, dos: date) -> CodeStatus:
        """Active, deleted (``dos >= deleted_on``) or not yet effective (``dos < effective_from``)."""
        if self.deleted_on is not None and dos >= self.deleted_on:
            return CodeStatus.DELETED
        if self.effective_from is not None and dos < self.effective_from:
            return CodeStatus.NOT_YET_EFFECTIVE
        return CodeStatus.ACTIVE


class CodeLookup(NamedTuple):
    """The answer to "what is this code on this date of service?"."""

    code: str
    info: CodeInfo | None
    status: CodeStatus

    @property
    def is_valid(self) -> bool:
        return self.status is CodeStatus.ACTIVE


def normalize_code(value: object) -> str:
    """Canonical code text: trimmed, upper case; a number typed as 97110.0 becomes ``97110``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().upper() if value is not None else ""


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


class CodeCatalogue:
    """An immutable set of :class:`CodeInfo` rows keyed by code."""

    def __init__(self, infos: list[CodeInfo]) -> None:
        self._by_code = {info.code: info for info in infos}

    @classmethod
    def from_csv(cls, text: str) -> CodeCatalogue:
        """Parse the catalogue CSV (columns as in ``refdata/codes.csv``)."""
        infos = []
        for row in csv.DictReader(io.StringIO(text)):
            infos.append(
                CodeInfo(
                    code=normalize_code(row["code"]),
                    kind=CodeKind(row["kind"]),
                    unit_minutes=int(row["unit_minutes"]) if row["unit_minutes"] else None,
                    always_therapy=row["always_therapy"] == "Y",
                    disciplines=tuple(Discipline(d) for d in row["disciplines"].split("|") if d),
                    effective_from=_date(row["effective_from"]),
                    deleted_on=_date(row["deleted_on"]),
                    replaced_by=tuple(c for c in row["replaced_by"].split("|") if c),
                    addon_to=row["addon_to"],
                    mue_per_day=int(row["mue_per_day"]) if row["mue_per_day"] else None,
                    label=row["label"],
                    unit_counts=row.get("unit_counts") or "",
                )
            )
        return cls(infos)

    def __contains__(self, code: object) -> bool:
        return normalize_code(code) in self._by_code

    def __iter__(self):
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: object) -> CodeInfo | None:
        """The catalogue row for a code whatever the date, or ``None`` when the code is unknown."""
        return self._by_code.get(normalize_code(code))

    def lookup(self, code: object, dos: date) -> CodeLookup:
        """What ``code`` is on date of service ``dos``: its row and whether it is valid that day."""
        key = normalize_code(code)
        info = self._by_code.get(key)
        if info is None:
            return CodeLookup(key, None, CodeStatus.UNKNOWN)
        return CodeLookup(key, info, info.status_on(dos))


@cache
def catalogue() -> CodeCatalogue:
    """The bundled catalogue (loaded once)."""
    return CodeCatalogue.from_csv(refdata.read_text("codes.csv"))


def lookup(code: object, dos: date) -> CodeLookup:
    """Look a code up in the bundled catalogue as of a date of service."""
    return catalogue().lookup(code, dos)
