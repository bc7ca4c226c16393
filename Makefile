# Set-up and entry points. Every target that needs Python creates .venv from the lock first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-lock
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)/devtools:$(CURDIR)

.PHONY: install test test-unit lint demo replay emulator bench mwaa-bundle checkov validate-focus lock clean

$(STAMP): requirements-lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else \
	  "Python 3.12 is required (MWAA 3.3.1 runs 3.12); found " + sys.version.split()[0] + \
	  ". Install 3.12 or run: make PYTHON=python3.12 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements-lock.txt
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check dags plugins devtools tests
	$(VENV)/bin/ruff format --check dags plugins devtools tests

demo: $(STAMP)
	$(PY) -m focus_demo $(DEMO_ARGS)

replay: $(STAMP)
	@test -n "$(EXPORT)" || { echo "Set EXPORT to an export folder or a FOCUS CSV: make replay EXPORT=path"; exit 2; }
	$(PY) -m focus_demo --replay "$(EXPORT)" $(DEMO_ARGS)

# The emulator alone on 127.0.0.1, provisioned, for a local Airflow or manual exploration.
emulator: $(STAMP)
	$(PY) -m focus_emulator --provision $(EMULATOR_ARGS)

# Benchmarks at a large organisation's size (minutes; not part of 'make test').
bench: $(STAMP)
	$(PY) -m focus_bench $(BENCH_ARGS)

# What MWAA reads (dags folder with the shared package and SQL, requirements.txt, plugins.zip).
mwaa-bundle: $(STAMP)
	$(PY) devtools/mwaa_bundle.py

# checkov on the Terraform, in its own virtualenv under build/ (its pins clash with Airflow's).
checkov:
	bash devtools/run_checkov.sh

# The FinOps Foundation focus-validator on generated data, in its own virtualenv under build/.
validate-focus: $(STAMP)
	bash devtools/focus_validator/run.sh

# Regenerate the lock from the MWAA constraints (needs a local copy of the constraints file).
lock:
	@test -n "$(CONSTRAINTS)" || { echo "Set CONSTRAINTS to the Airflow 3.3.1 constraints file for Python 3.12"; exit 2; }
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -c "$(CONSTRAINTS)" "apache-airflow==3.3.1" \
	  "apache-airflow-providers-amazon==9.34.0" -r requirements.txt -r requirements-dev.in
	{ echo "# Lock for local and CI installs: the MWAA 3.3.1 stack (Airflow constraints for Python 3.12)"; \
	  echo "# plus the development tools. Regenerate with 'make lock'; tests compare it with the constraints."; \
	  .venv-lock/bin/pip freeze --exclude-editable | sort -f; } > requirements-lock.txt
	rm -rf .venv-lock

clean:
	rm -rf build .pytest_cache
