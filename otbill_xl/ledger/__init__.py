"""The claim ledger: what was billed, in which claim and file, and the X12 control numbers.

SQLite through the standard library's ``sqlite3``: one file per submitter, no server, safe for
several processes at once (``BEGIN IMMEDIATE`` serialises writers), and nothing to install. SQLAlchemy
would add a dependency and an ORM layer for a handful of tables and statements, so it is not used.
"""

from otbill_xl.ledger.location import LedgerChoice, LedgerLocation, open_ledger, submitter_ledger_path
from otbill_xl.ledger.store import (
    AlreadyBilled,
    BilledLine,
    ClaimRecord,
    Ledger,
    LedgerDamaged,
    LedgerError,
    LineRecord,
    Resolution,
)

__all__ = ["AlreadyBilled", "BilledLine", "ClaimRecord", "Ledger", "LedgerChoice", "LedgerDamaged", "LedgerError",
           "LedgerLocation", "LineRecord", "Resolution", "open_ledger", "submitter_ledger_path"]
