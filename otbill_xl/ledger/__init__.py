"""The claim ledger: what was billed, in which claim and file, and the X12 control numbers.

SQLite through the standard library's ``sqlite3``: one file beside the outputs, no server, safe for
several processes at once (``BEGIN IMMEDIATE`` serialises writers), and nothing to install. SQLAlchemy
would add a dependency and an ORM layer for a handful of tables and statements, so it is not used.
"""

from otbill_xl.ledger.store import BilledLine, Ledger, LedgerError, default_ledger_path

__all__ = ["BilledLine", "Ledger", "LedgerError", "default_ledger_path"]
