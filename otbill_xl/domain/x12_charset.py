"""The characters an X12 interchange can carry (ASC X12 5010 basic and extended character sets) and
the default delimiters. Domain facts, so that ``check`` can flag a value the 837P writer could not
send, and the writer (:mod:`otbill_xl.formats.x12.envelope`) uses the very same sets."""

from __future__ import annotations

import re
import unicodedata

#: X12 basic character set (upper-case letters, digits, space and these specials) ...
BASIC_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"&'()*+,-./:;?=")
#: ... and the 5010 extended set (lower-case letters are added for identifiers only: text is upper-cased).
EXTENDED_CHARACTERS = frozenset("%~@[]_{}\\|<>#$^`")
LOWER_CASE = frozenset("abcdefghijklmnopqrstuvwxyz")
#: The delimiters otbill writes: element ``*``, component ``:``, repetition ``^``, segment ``~``.
DEFAULT_DELIMITERS = frozenset("*:^~")
#: Characters an identifier (member ID, payer ID, ...) may hold with the default delimiters.
IDENTIFIER_CHARACTERS = (BASIC_CHARACTERS | EXTENDED_CHARACTERS | LOWER_CASE) - DEFAULT_DELIMITERS
#: ISA05/ISA07 interchange ID qualifiers of X12 005010 (element I05): 01 DUNS, 14 DUNS + suffix, 20 HIN,
#: 27 carrier ID (CMS), 28 fiscal intermediary ID, 29 Medicare provider/supplier ID, 30 federal tax ID,
#: 33 NAIC, ZZ mutually defined — the codes the 005010X222A1 ISA accepts (as pyx12's map lists them).
INTERCHANGE_QUALIFIERS = ("01", "14", "20", "27", "28", "29", "30", "33", "ZZ")
#: A provider taxonomy code (PRV03): 10 characters, the last an X (OT: 225X00000X).
TAXONOMY = re.compile(r"[0-9A-Z]{9}X")


def digits_only(value: str) -> str:
    """Keep the digits of a phone number, ZIP code or tax ID (formatting such as ``-`` dropped)."""
    return "".join(ch for ch in value if ch.isdigit())


def identifier_sendable(value: str) -> bool:
    """An identifier is sent as it is, never changed: every character must be one X12 can carry."""
    return all(ch in IDENTIFIER_CHARACTERS for ch in value.strip())


def text_sendable(value: str) -> bool:
    """A name survives the writer's cleaning (accents dropped, other characters removed) only if it
    keeps at least one letter or digit."""
    plain = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode("ascii")
    return any(ch.isalnum() for ch in plain)
