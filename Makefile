# One command to set up and answer a question; one to set up and run the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# -qq: pip's errors only. A machine's pip config may name local package folders that are not there, and pip warns
# about each one for every package (hundreds of lines that buried a failing test's output in CI).
PIP_INSTALL = $(BIN)/pip install --quiet --quiet
QUESTION ?= من وقّع المحضر الأمني المشترك مع شمخاني؟
export OMP_WAIT_POLICY = passive
export NO_PROXY = 127.0.0.1,localhost

.PHONY: setup setup-milvus demo test test-fast lint lock clean

setup: $(VENV)/.installed
setup-milvus: $(VENV)/.installed-milvus

# Every package at the version that passed the tests, each file checked against its sha256 (requirements.lock),
# with the venv's own pip (no upgrade needed: pip 23.2 works); torch is pinned there to the CPU build.
# Then askbot itself, editable, built by the locked setuptools.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes -r requirements.lock
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

# What the tests add: the Milvus client and Milvus Lite 2.5.1 (the engine's C++ core) for the Milvus tests.
# requirements-milvus.lock is requirements.lock plus these, same pins and hashes, so nothing installed changes;
# make demo does not need them and does not install them.
$(VENV)/.installed-milvus: $(VENV)/.installed requirements-milvus.lock
	$(PIP_INSTALL) --require-hashes -r requirements-milvus.lock
	touch $@

# exit 1 is askbot's honest "not found" (printed as the answer), not a failure of the demo
demo: setup
	$(BIN)/askbot ask "$(QUESTION)" || [ $$? -eq 1 ]

# In parallel (pytest-xdist): a worker per core, one more with the Milvus server stage (tests/conftest.py);
# tests that share an expensive fixture or the one server are grouped onto one worker (xdist_group marks).
# TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= auto
PYTEST = $(BIN)/python -m pytest -q --tb=short -n $(TEST_WORKERS) --dist loadgroup

test: setup-milvus
	$(PYTEST)

test-fast: setup-milvus  # everything but the system tests marked slow (kill trials, model conversions)
	$(PYTEST) -m "not slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy src

# Refresh the lock after changing dependencies (or to move to newer releases): newest versions that satisfy
# pyproject.toml and requirements.in, with hashes; then `make clean test` and commit requirements.lock.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet "pip-tools>=7.4,<8"
	.venv-lock/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links --extra test --output-file requirements.lock \
		pyproject.toml requirements.in
	.venv-lock/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links --extra test --extra milvus --output-file requirements-milvus.lock \
		pyproject.toml requirements.in

clean:
	rm -rf $(VENV) vectors .cache
