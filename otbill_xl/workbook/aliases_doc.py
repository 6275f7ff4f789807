"""The README's list of every sheet name and column header otbill accepts, generated from the
contract (``otbill templates aliases --readme README.md`` rewrites it; ``tests/test_own_workbook.py``
fails when the committed section differs from a fresh generation, so it cannot drift)."""

from __future__ import annotations

from otbill_xl.workbook.contract import SHEETS

BEGIN = "<!-- aliases: generated from otbill_xl/workbook/contract.py by `otbill templates aliases --readme README.md` -->"
END = "<!-- /aliases -->"


def _code(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "—"


def markdown() -> str:
    """One table per contract sheet: its other names, then each column with the headers that mean it."""
    out = [
        "Headers and sheet names match ignoring case, spaces and punctuation (`Date of Service`, "
        "`date-of-service` and `DATEOFSERVICE` are one header). A required column is marked **required**.",
        "",
    ]
    for sheet in SHEETS:
        out += [
            f"**{sheet.name}**{'' if sheet.required else ' (optional)'} — also found as: {_code(sheet.aliases)}",
            "",
            "| Column | Also accepted as |",
            "|---|---|",
        ]
        out += [f"| `{c.name}`{' **required**' if c.required else ''} | {_code(c.aliases)} |" for c in sheet.columns]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def with_section(readme: str) -> str:
    """``readme`` with the text between its markers replaced by a fresh :func:`markdown`; raises
    ``ValueError`` when the markers are missing."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no generated aliases section (put {BEGIN} and {END} where it goes)")
    return readme[:start] + BEGIN + "\n\n" + markdown() + "\n" + readme[end:]


def section(readme: str) -> str:
    """The generated section as the README holds it (markers included)."""
    start, end = readme.find(BEGIN), readme.find(END)
    return readme[start:end + len(END)] if 0 <= start < end else ""
