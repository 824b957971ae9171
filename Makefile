# popcert: two commands on a fresh machine.
#   make demo   certify the bundled reference city system against the mock NPDB
#   make test   ruff and mypy (make lint), then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint sysdeps install bench dist clean

$(STAMP): pyproject.toml setup.py mocks/population_db/_kernels.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Debian tools some tests use for real (iptables-restore --test, nft -c, chromium, wrk).
# Installed when running as root; otherwise those tests skip and say why.
sysdeps:
	@sh scripts/sysdeps.sh

demo: $(STAMP)
	$(BIN)/popcert demo

# Four workers on two cores: the tests mostly wait on servers, fuzzers and poll timeouts. loadgroup
# hands a free worker the next test (longest first, tests/conftest.py) and keeps each module's
# fixture-sharing tests on one worker. Measured back to back on a shared host (issue 22): -n 4
# 14:21 with 3 skipped, -n 6 12:18 with 10 skipped (timing rows that popcert's own saturation
# guard refuses to judge), the same CPU (14.5 min): more workers trade proofs for minutes.
test: $(STAMP) sysdeps lint
	$(BIN)/pytest -q -n 4 --dist loadgroup --no-loadscope-reorder

# The type and lint gates ([tool.ruff], [tool.mypy] in pyproject.toml): any finding fails `make test`.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Like `make test`, first the Debian tools (wrk) when root; a bench still missing one prints
# "skipped: REASON" and exits 0 (bench/_requires.py), so the others run.
bench: $(STAMP) sysdeps
	for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# sdist + wheel in dist/ (the wheel bundles specs/, reports/, scenarios/, load/: docs/install.md).
dist: $(STAMP)
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) .popcert reports/runs build dist
