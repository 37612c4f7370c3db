# podeip-operator developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HELM    = $$(hack/testbed-build.sh print-cache)/helm-v$$(. tests/testbed/versions.env; echo $$HELM_VERSION)/bin/helm

##@ General
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)}' $(MAKEFILE_LIST)

##@ Setup
install: $(STAMP) ## Create the virtualenv and install the project with its dev dependencies
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

testbed: ## Build (or verify) the local control plane and the real node's binaries from Go modules into the cache
	hack/testbed-build.sh

node-deps: install ## Debian packages of the real node and the image build (apt, non-interactive; as root)
	$(PY) tests/testbed/node.py deps

##@ Test
fmt: install ## Format the code (ruff format, import order) and sync the chart's CRDs
	$(VENV)/bin/ruff check --select I --fix src tests hack
	$(VENV)/bin/ruff format src tests hack
	hack/sync-crds.sh

verify: lint typecheck ## Everything that needs no cluster and no Go build: lint, CRD/chart sync, types

lint: install ## ruff, import-linter and the CRD/chart sync check
	$(VENV)/bin/ruff check src tests hack
	$(VENV)/bin/ruff format --check src tests hack
	$(VENV)/bin/lint-imports
	hack/sync-crds.sh --check

typecheck: install ## mypy (strict) on src/
	$(VENV)/bin/mypy

unit: install ## Unit tests (no control plane, no Go-built binaries)
	$(PY) -m pytest tests/unit -q

model-long: install ## The model-based test's long profile (5,000 examples x 100 steps; PODEIP_MODEL_EXAMPLES=N to change)
	PODEIP_MODEL_PROFILE=long $(PY) -m pytest tests/unit/model/test_model.py -q -p no:cacheprovider

chart: install testbed ## Chart tests with the test bed's helm (lint, template, values, security)
	$(PY) -m pytest tests/chart -q

contract: install ## Provider contract suite (simulated in-process and official SDK over HTTP)
	$(PY) -m pytest tests/contract -q

integration: install testbed ## Integration tests on the local control plane
	$(PY) -m pytest tests/integration -q

e2e: install node-deps testbed ## End-to-end tests: chart RBAC, podeip run as a subprocess; the chart on a real node (root)
	$(PY) -m pytest tests/e2e -q

test: install node-deps testbed lint typecheck ## Everything CI runs: builds what is missing, then lint, types and all test layers
	$(PY) -m pytest -q -p no:cacheprovider

##@ Local cluster
cluster-up: install testbed ## Start a local control plane in the background; kubeconfig in .local/kubeconfig
	$(PY) tests/testbed/cluster.py up

cluster-down: ## Stop the local control plane
	$(PY) tests/testbed/cluster.py down

cluster-status: ## Show the local control plane's processes and memory
	$(PY) tests/testbed/cluster.py status

node-up: install node-deps testbed ## A real node (containerd, kubelet, kube-proxy) beside the kwok nodes, in its own netns (root)
	$(PY) tests/testbed/node.py up

node-down: ## Stop the real node and its control plane; remove its mounts, cgroups and netns
	$(PY) tests/testbed/node.py down

node-status: ## Show the real node's processes and memory
	$(PY) tests/testbed/node.py status

##@ Run
demo: install testbed ## The demo: control plane + simulated cloud + operator, the seed examples end to end
	$(PY) hack/demo.py

bench: install testbed ## Benchmarks; rewrites BENCHMARKS.md (BENCH_ARGS="--only at-rest,lifecycle" for a part)
	PYTHONPATH=hack:tests $(PY) -m bench $(BENCH_ARGS)

bench-scale: install testbed ## Scale benchmarks (20,000 plain pods, 5,000 PodEIPs, a restart after churn; ~20 min); writes BENCHMARKS-scale.md
	PYTHONPATH=hack:tests $(PY) -m bench --only scale --output BENCHMARKS-scale.md $(BENCH_ARGS)

##@ Packaging
image: install ## Build local/podeip-operator:dev offline (debootstrap base, wheelhouse); loaded into a running node
	$(PY) tests/testbed/node.py image

image-docker: ## Build the container image with your own Docker (pulls python:3.11-slim-bookworm)
	docker build -t podeip-operator:dev .

chart-lint: install testbed ## helm lint the chart
	$(HELM) lint --strict --set regionID=cn-hangzhou charts/podeip-operator

kind-e2e: ## kind cluster + image + helm install + the demo checks (needs Docker and kind)
	hack/kind-e2e.sh

clean: ## Remove the virtualenv, local state and Python caches (not the Go-built cache)
	-$(PY) tests/testbed/cluster.py down 2>/dev/null
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: help install testbed node-deps fmt verify lint typecheck unit model-long chart contract integration e2e test cluster-up cluster-down cluster-status node-up node-down node-status demo bench bench-scale image image-docker chart-lint kind-e2e clean
