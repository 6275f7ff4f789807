# otbill_xl — developer commands. Only Python 3.11+ and make are needed on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test fuzz bench lint templates addin screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@ $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/otbill demo

test: $(DEVSTAMP)
	$(PY) -m pytest

# 1,000 random fuzz cases of check / price / claims (tests/test_fuzz.py); `make test` runs 30.
fuzz: $(DEVSTAMP)
	OTBILL_FUZZ=long $(PY) -m pytest tests/test_fuzz.py -k never_crashes --hypothesis-show-statistics

# `make bench` runs them all; `make bench BENCH="dask batch"` only those named (benchmarks/__main__.py).
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH)

# ruff, then mypy over the files listed in pyproject.toml [tool.mypy].
lint: $(DEVSTAMP)
	$(PY) -m ruff check otbill_xl tests benchmarks
	$(PY) -m mypy

templates: $(STAMP)
	$(VENV)/bin/otbill templates build

# The packaged add-in (otbill_xl/excel/otbill.xlam); rebuild after changing the ribbon, otbill.bas or a UDF.
addin: $(DEVSTAMP)
	$(VENV)/bin/otbill excel build --out otbill_xl/excel/otbill.xlam

# The README's pictures (docs/img/*.png, manifest.json) rendered from the sample's outputs through LibreOffice
# and pdftoppm (Debian: apt-get install poppler-utils); run it after changing the sample or an output sheet.
screenshots: $(STAMP)
	$(PY) -m otbill_xl.templates.screenshots

clean:
	rm -rf $(VENV) out .pytest_cache
