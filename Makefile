# Two entry points: `make demo` and `make test`. Both create .venv when missing.
# GPU users: make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN = $(VENV)/bin

.PHONY: demo test test-cluster bench browser-deps clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/pandian demo

# The browser tests drive Debian's chromium (playwright's own browser download does not work offline) and need a
# CJK font. As root with apt this installs both once; otherwise those tests skip and say why.
browser-deps:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi wqy; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei \
			>/dev/null; \
	else echo "browser tests will skip: install chromium and fonts-wqy-microhei (as root: make browser-deps)"; fi

test: $(BIN)/.installed browser-deps
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
