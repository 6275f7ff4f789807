"""Formats: X12 837P/835, clearinghouse CSV exports, fee-schedule imports, and the units JSON."""
