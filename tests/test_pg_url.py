"""A ``postgresql://`` ledger URL (issue #16 §1): never a local file named ``postgresql:``; without
psycopg, a clear error naming the extra; a password in the URL is never printed."""

from __future__ import annotations

import sys

import pytest
from conftest import contract_sheets, make_workbook
from typer.testing import CliRunner

from otbill_xl.cli import app

runner = CliRunner()
URL = "postgresql://biller:s3cret-pw@db.example.invalid:5432/otbill"


@pytest.fixture
def no_psycopg(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError


@pytest.mark.parametrize("how", ["option", "environment", "practice"])
def test_a_postgresql_url_without_psycopg_is_a_clear_error_and_no_local_file(tmp_path, monkeypatch, no_psycopg, how):
    monkeypatch.chdir(tmp_path)
    extra = [["LedgerPath", URL]] if how == "practice" else []
    src = make_workbook(tmp_path / "book.xlsx", _sheets(extra))
    args = ["claims", str(src), "--out", "out", "--as-of", "2026-08-20"]
    if how == "option":
        args += ["--ledger", URL]
    if how == "environment":
        monkeypatch.setenv("OTBILL_LEDGER", URL)
    result = runner.invoke(app, args)
    message = " ".join(result.output.split())
    assert result.exit_code == 2, message
    assert 'pip install "otbill-xl[postgres]"' in message
    assert "s3cret-pw" not in message and "biller:***@db.example.invalid" in message
    assert sorted(p.name for p in tmp_path.rglob("*") if "postgres" in p.name) == []  # no file or folder postgresql:
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.837"))


def _sheets(extra_practice):
    from conftest import PRACTICE_ROWS

    sheets = contract_sheets()
    sheets["Practice"] = [*PRACTICE_ROWS, *extra_practice]
    return sheets


def test_ledger_commands_with_a_url_without_psycopg(no_psycopg):
    for command in (["ledger", "show", "--ledger", URL], ["ledger", "check", "--ledger", URL]):
        result = runner.invoke(app, command)
        message = " ".join(result.output.split())
        assert result.exit_code == 2, message
        assert 'pip install "otbill-xl[postgres]"' in message and "s3cret-pw" not in message


def test_masking():
    from otbill_xl.ledger.dialect import masked

    assert masked(URL) == "postgresql://biller:***@db.example.invalid:5432/otbill"
    assert masked("postgres://u@h/db") == "postgres://u@h/db"
    assert masked("postgresql://h/db?password=pw&sslmode=require") == "postgresql://h/db?password=***&sslmode=require"


def test_ledger_where_shows_a_url_with_its_password_masked(monkeypatch):
    import json

    result = runner.invoke(app, ["ledger", "where", "--ledger", URL, "--json"])
    assert json.loads(result.stdout) == {"path": "postgresql://biller:***@db.example.invalid:5432/otbill",
                                         "how": "option", "exists": True, "legacy": None}
    monkeypatch.setenv("OTBILL_LEDGER", URL)
    text = " ".join(runner.invoke(app, ["ledger", "where"]).output.split())
    assert text == "postgresql://biller:***@db.example.invalid:5432/otbill ($OTBILL_LEDGER)"
