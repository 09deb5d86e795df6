# One command to set up and answer a question; one to set up and run the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
QUESTION ?= من وقّع المحضر الأمني المشترك مع شمخاني؟
export OMP_WAIT_POLICY = passive
export NO_PROXY = 127.0.0.1,localhost

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

# torch first, pinned: it is a CPU build on this machine's disk; a bare `torch` would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/askbot ask "$(QUESTION)"

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) vectors
