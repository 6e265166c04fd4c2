# Two entry points: `make demo` and `make test`. Both create .venv when missing.
# GPU users: make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN = $(VENV)/bin

.PHONY: demo test test-cluster bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/pandian demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q -ra

# The cluster tests: a PostgreSQL server on 127.0.0.1 (Debian's postgresql binaries; .ci/run installs them) and a
# 2-node Ray cluster on this machine, both started and stopped by the tests. `make test` leaves them out to stay fast.
$(BIN)/.cluster: $(BIN)/.installed
	$(BIN)/pip install -q -e ".[test,ray,postgres]"
	touch $@

test-cluster: $(BIN)/.cluster
	$(BIN)/python -m pytest -q -ra -m "ray or postgres"

bench: $(BIN)/.installed
	$(BIN)/python bench/mc_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
