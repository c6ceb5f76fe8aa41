# lambdad: `make serve` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# awscli: Debian's is the AWS CLI v2 (`aws logs tail`); the venv carries v1.
DEBIAN_PACKAGES := bubblewrap slirp4netns nodejs awscli wrk rabbitmq-server chromium \
	skopeo umoci docker-registry busybox-static gcc libc6-dev e2fsprogs

.PHONY: install node-sdk sam-cli serve test test-exec test-fast lint bench bench-quick conformance clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get install -y -q $$missing >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null)) || \
	     echo "WARNING: could not install$$missing; lambdad will run degraded"; \
	  else echo "WARNING: missing Debian packages:$$missing (run as root to install)"; fi; \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# AWS SAM CLI for tests/e2e/test_sam_cli.py (`sam deploy` against lambdad), in a virtualenv
# of its own: it pins boto3, botocore and others that would clash with ours.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
sam-cli: $(SAM_STAMP)

$(SAM_STAMP): tools/sam-cli-requirements.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q -r tools/sam-cli-requirements.txt
	@touch $(SAM_STAMP)

serve: install
	$(BIN)/lambdad serve

# The AWS SDK for JavaScript v3, pinned in tests/e2e/functions/node_sdk, installed with npm
# once into .cache/node-sdk (rebuilt when the lock changes): the layer a Node.js test ships.
node-sdk: install
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get install -y -q npm >/dev/null 2>&1; } || echo "WARNING: npm is missing"
	$(BIN)/python tests/e2e/node_sdk.py

# The suite runs on pytest-xdist workers, a file to a worker (--dist loadfile: a module's
# tests keep their order and share its module-scoped servers and moto); each worker has
# its own session server and temporary directory, servers and brokers take free ports.
# Files are handed out in the order collected (--no-loadscope-reorder: the end-to-end
# modules, the slow ones, first; not the files with most tests first, which left the
# slowest one-test modules for the end). `make test PYTEST_WORKERS=0` runs one process.
# The suite starts some hundred Python processes (servers, the lambdad CLI, moto): where
# PYTHONDONTWRITEBYTECODE is set, each compiled lambdad and the test modules again
# (~0.7 s of CPU a server), so the tests run with compiled modules kept (__pycache__).
PYTEST_WORKERS ?= 2
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q \
  -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: install node-sdk sam-cli
	$(PYTEST)

# The end-to-end tests in which Python functions run (their runtime's behaviour, limits,
# network, credentials, logs, concurrency, SnapStart, extensions, tracing, /var/lang)
# again with the fast path off
# (LAMBDAD_FAST_PATH=0: Python environments exec'd, not forked from a zygote), so both
# ways stay correct. The control-plane, front-door and event-source tests do not depend
# on how an environment starts; the sandbox attack and crash-recovery tests already run
# each of their cases both ways in `make test`.
EXEC_E2E := $(addprefix tests/e2e/test_,invoke.py invoke_limits.py invoke_runtimes.py \
  invoke_sdk.py invoke_stream.py rie_cases.py runtime_api_abuse.py dead_idle_environment.py \
  network.py limits_inside.py json_logs.py role_credentials.py snapstart.py concurrency.py \
  async.py tenant_archives.py layer_deletion.py host_shortfalls.py extensions.py tracing.py \
  var_lang.py)
test-exec: install
	LAMBDAD_FAST_PATH=0 $(PYTEST) $(EXEC_E2E)

test-fast: install
	$(BIN)/python -m pytest -q tests/unit tests/functional

# The import contract (DESIGN.md §2, issue 13: which part of src/lambdad may import
# which, no cycles between modules, module sizes) is tools/import_contract.py.
lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy src tools/import_contract.py
	$(BIN)/python tools/import_contract.py

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

conformance: install
	$(BIN)/python conformance/run.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .lambdad .cache .pytest_cache .mypy_cache .ruff_cache
