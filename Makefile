# Two entry points: `make demo` and `make test`. Both create .venv when missing.
# GPU users: make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN = $(VENV)/bin
# OpenCompass pins conflict with pandian's (numpy<2, datasets<4), so it gets its own environment. transformers<5:
# OpenCompass 0.5.4's HuggingFace models call tokenizer.batch_encode_plus, which transformers 5 removed.
OC_VENV ?= .venv-opencompass
OC_BIN = $(OC_VENV)/bin

.PHONY: demo test test-cluster opencompass-check bench browser-deps clean

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

$(OC_BIN)/.installed:
	test -x $(OC_BIN)/python || $(PYTHON) -m venv $(OC_VENV)
	$(OC_BIN)/pip install -q --upgrade pip
	$(OC_BIN)/pip install -q $(TORCH_SPEC)
	$(OC_BIN)/pip install -q opencompass==0.5.4 "transformers<5" "pyarrow<17"
	touch $@

# pandian vs OpenCompass 0.5.4 itself, question by question (a few minutes; not part of `make test`)
opencompass-check: $(BIN)/.installed $(OC_BIN)/.installed
	PANDIAN_OPENCOMPASS_PYTHON=$(OC_BIN)/python $(BIN)/python -m pytest -q -ra -s -m opencompass

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
	rm -rf $(VENV) $(OC_VENV) .pytest_cache
