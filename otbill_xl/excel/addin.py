"""xlwings registration of the worksheet functions. Imported only inside Excel (``UDF_MODULES``);
the functions themselves live in :mod:`otbill_xl.excel.udfs` and are tested without Excel."""

from __future__ import annotations

import xlwings as xw  # pragma: no cover - needs Excel

from otbill_xl.excel import udfs


@xw.func
@xw.arg("codes", ndim=2)
@xw.arg("minutes", ndim=2)
@xw.arg("visits", ndim=2)
def OT_UNITS(codes, minutes, rule=None, visits=None):  # noqa: N802 - Excel function name
    """Billable units per row (CMS 8-minute rule or AMA per code)."""
    return udfs.OT_UNITS(codes, minutes, rule, visits)


@xw.func
@xw.arg("codes", ndim=2)
@xw.arg("minutes", ndim=2)
@xw.arg("visits", ndim=2)
def OT_UNITS_EXPLAIN(codes, minutes, rule=None, visits=None):  # noqa: N802
    """How each row's units were worked out."""
    return udfs.OT_UNITS_EXPLAIN(codes, minutes, rule, visits)


@xw.func
def OT_NPI_VALID(npis):  # noqa: N802
    """TRUE when the NPI's check digit is right."""
    return udfs.OT_NPI_VALID(npis)


@xw.func
def OT_CODE_INFO(codes, dos=None):  # noqa: N802
    """What a code is and whether it is valid on a date of service."""
    return udfs.OT_CODE_INFO(codes, dos)
