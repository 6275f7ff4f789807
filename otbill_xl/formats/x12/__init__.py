"""X12 837P (005010X222A1) professional claims: writer and reader.

``write_837p(claims, practice, control, created=...)`` returns an :class:`X12File`;
``read_837p(text)`` returns a :class:`Parsed837`; ``read_835(data, source)`` the remittances of an
835 (see :mod:`.read835`). Envelope helpers live in :mod:`.envelope`.
"""

from otbill_xl.formats.x12.envelope import VERSION_837P, ControlNumbers, Separators, X12Error
from otbill_xl.formats.x12.read835 import (
    Adjustment,
    ClaimPayment,
    Party,
    Problem835,
    ProviderAdjustment,
    ProviderSummary,
    Remittance,
    ServicePayment,
    X835Error,
    read_835,
    remittance_findings,
)
from otbill_xl.formats.x12.read837 import Parsed837, ParsedClaim, ParsedLine, X12ReadError, read_837p
from otbill_xl.formats.x12.write837 import X12File, write_837p

__all__ = ["VERSION_837P", "ControlNumbers", "Parsed837", "ParsedClaim", "ParsedLine", "Separators",
           "X12Error", "X12File", "X12ReadError", "read_837p", "write_837p",
           "Adjustment", "ClaimPayment", "Party", "Problem835", "ProviderAdjustment", "ProviderSummary",
           "Remittance", "ServicePayment", "X835Error", "read_835", "remittance_findings"]
