"""Shared test helpers: small inline workbooks, the shared reference folder, byte fingerprints."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.table import Table, TableStyleInfo

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_workbook(path: Path, sheets: dict[str, list[list]], *, tables: bool = True) -> Path:
    """Write ``sheets`` (name -> rows, header first) to ``path``; each sheet becomes an Excel Table
    of the same name when ``tables`` is true (the contract layout), else a plain range."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        if tables and rows and len(rows) > 1:
            last = openpyxl.utils.get_column_letter(len(rows[0]))
            table = Table(displayName=name, ref=f"A1:{last}{len(rows)}")
            table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
            ws.add_table(table)
    wb.save(path)
    return path


PRACTICE_ROWS = [
    ["Setting", "Value"],
    ["PracticeName", "Harbor Hand & OT"],
    ["BillingNPI", "1234567893"],
    ["TaxID", "12-3456789"],
    ["Taxonomy", "225X00000X"],
    ["Address", "12 Harbor St"],
    ["City", "Boston"],
    ["State", "MA"],
    ["ZIP", 2134],
    ["Phone", "6175550100"],
    ["SubmitterName", "Harbor Hand & OT"],
    ["SubmitterID", "HHOT01"],
    ["ContactName", "Billing Office"],
    ["ContactPhone", "6175550101"],
    ["ReceiverName", "Test Clearinghouse"],
    ["ReceiverID", "TESTCH"],
    ["UsageIndicator", "T"],
    ["MedicareLocality", "01112"],
    ["FavoriteColor", "teal"],
]
PAYER_ROWS = [
    ["PayerKey", "PayerName", "PayerType", "PayerID", "UnitRule", "RequiresGO", "RequiresAuth", "VisitLimitPerYear",
     "TimelyFilingDays"],
    ["MCR", "Medicare Part B", "medicare", "12345", "", "", "N", None, None],
    ["ACME", "Acme Health", "Commercial", "ACM01", "ama", "N", "Y", 30, 90],
]
PROVIDER_ROWS = [
    ["NPI", "LastName", "FirstName", "Credential", "Taxonomy"],
    [1234567893, "Rivera", "Ana", "OT", "225X00000X"],
]
PATIENT_ROWS = [
    ["PatientID", "LastName", "FirstName", "DOB", "Sex", "PayerKey", "MemberID", "Relationship",
     "SubscriberLastName", "SubscriberFirstName", "POCStart", "POCEnd", "Address", "City", "State", "ZIP",
     "ReferringNPI", "ReferringLastName", "ReferringFirstName"],
    # Medicare needs the certifying physician as referring provider (facts §7a).
    ["P001", "Doe", "Jane", "3/4/1950", "F", "MCR", "1EG4TE5MK73", "self", "", "", "8/1/2026", "10/29/2026",
     "1 Elm St", "Boston", "MA", "02134", "1333333338", "Reyes", "Lena"],
    ["P002", "Roe", "Sam", "2015-06-01", "male", "ACME", "XYZ123", "child", "Roe", "Pat", None, None,
     "9 Oak Ave", "Quincy", "MA", "02169", "", "", ""],
]
CHARGE_HEADER = ["LineID", "PatientID", "DOS", "RenderingNPI", "Code", "Mod1", "Mod2", "Mod3", "Mod4", "Minutes",
                 "Units", "Dx1", "Dx2", "Dx3", "Dx4", "POS", "Charge", "ClaimID", "Status", "Note"]


def charge_row(line_id="L1", patient="P001", dos="8/3/2026", npi="1234567893", code="97110", mod1="GO",
               minutes=38, units=3, dx1="M62.81", charge=195.0):
    return [line_id, patient, dos, npi, code, mod1, "", "", "", minutes, units, dx1, "", "", "", "11", charge, "", "", ""]


def contract_sheets(**overrides) -> dict[str, list[list]]:
    sheets = {
        "Practice": PRACTICE_ROWS,
        "Payers": PAYER_ROWS,
        "Providers": PROVIDER_ROWS,
        "Patients": PATIENT_ROWS,
        "Charges": [CHARGE_HEADER, charge_row(), charge_row("L2", code="97530", minutes=25, units=2, charge=130.0)],
    }
    sheets.update(overrides)
    return sheets


def require_shared(folder: Path = SHARED) -> Path:
    """``folder`` (under ../shared), or skip the test — except on CI (``CI`` set), where ../shared is
    always laid beside the clone and a missing folder must fail, not pass silently."""
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing; CI runs with the shared reference folder beside the project")
        pytest.skip(f"{folder} is not present")
    return folder


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        if os.environ.get("CI"):  # CI always has ../shared beside the clone: its absence is a failure
            pytest.fail("../shared is missing; CI must run with the shared reference folder beside the project")
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(autouse=True)
def private_ledgers(tmp_path_factory, monkeypatch):
    """Every test gets its own user data folder (the default home of the per-submitter ledgers) and
    no $OTBILL_LEDGER: a test never bills into a developer's real ledger, nor into another test's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    monkeypatch.delenv("OTBILL_LEDGER", raising=False)


# -- PostgreSQL (issue #16 §1): a real server for the shared-ledger tests; see tests/pgserver.py ---------------


@pytest.fixture(scope="session")
def pg_server():
    from pgserver import PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL's pg_ctl/initdb not found (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL ledger tests")
        pytest.skip(reason)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail('psycopg is not installed (pip install -e ".[dev]")')
        pytest.skip('psycopg not installed (pip install "otbill-xl[postgres]")')
    server = PgServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for one test (dropped after it)."""
    url = pg_server.new_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_at(request, tmp_path) -> str:
    """Where a test's ledger is, once per backend: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "l.sqlite")
    return request.getfixturevalue("pg_url")


# --- batch runners (issue #16 §2): the batch tests run on the process pool and on a Dask LocalCluster ---

@pytest.fixture(scope="session")
def dask_client():
    """One 2-worker Dask LocalCluster (processes, one thread each, no dashboard) for the whole session."""
    distributed = pytest.importorskip("distributed")
    from otbill_xl.actions.batch_dask import local_cluster

    cluster = local_cluster(2)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(params=["pool", "dask"])
def scheduler(request):
    """``run_batch(scheduler=...)``: None (the process pool) or the session's Dask client."""
    return None if request.param == "pool" else request.getfixturevalue("dask_client")


@pytest.fixture(params=["pool", "dask"])
def batch_runner_args(request):
    """`otbill batch` options choosing the runner: 2 pool processes, or a 2-worker LocalCluster."""
    if request.param == "dask":
        pytest.importorskip("distributed")
        return ["--scheduler", "local:2"]
    return ["--workers", "2"]
