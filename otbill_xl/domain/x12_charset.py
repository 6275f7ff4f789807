"""The characters an X12 interchange can carry (ASC X12 5010 basic and extended character sets) and
the default delimiters. Domain facts, so that ``check`` can flag a value the 837P writer could not
send, and the writer (:mod:`otbill_xl.formats.x12.envelope`) uses the very same sets."""

from __future__ import annotations

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


def identifier_sendable(value: str) -> bool:
    """An identifier is sent as it is, never changed: every character must be one X12 can carry."""
    return all(ch in IDENTIFIER_CHARACTERS for ch in value.strip())


def text_sendable(value: str) -> bool:
    """A name survives the writer's cleaning (accents dropped, other characters removed) only if it
    keeps at least one letter or digit."""
    plain = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode("ascii")
    return any(ch.isalnum() for ch in plain)
