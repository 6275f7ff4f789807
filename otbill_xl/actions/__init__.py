"""The actions: what a command, a ribbon button or :mod:`otbill_xl.api` does to a workbook.

:mod:`~otbill_xl.actions.pipeline` reads a workbook once and scrubs it once; :mod:`~.check`,
:mod:`~.price` and :mod:`~.claims` run on that pipeline and annotate through the workbook port;
:mod:`~.batch` converts folders of workbooks; :mod:`~.fee_schedule` imports fee schedules into a copy;
:mod:`~.sheets` declares every output sheet once. Actions use the domain, formats, ledger and workbook
layers and never a surface (xlwings, the CLI).
"""
