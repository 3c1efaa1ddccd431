# The two commands of the README: `make deploy` and `make test`.
# Everything else here is what they are made of.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# The README's `. .venv/bin/activate`, for make's own commands.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
ENV ?= dev
# host: LocalStack as a local process (no Docker); docker: the official image.
LOCALSTACK_RUNTIME ?= host

.PHONY: help setup deploy start stop status verify monitor teardown test lint unit integration executor molecule runbooks sanity lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Create the Python environments from the lock files (reused when up to date)
	@tools/setup-environments.sh

start: setup ## Start LocalStack in host mode unless something answers on the endpoint
	@ansible-playbook playbooks/localstack.yml -e localstack_runtime=$(LOCALSTACK_RUNTIME)

stop: ## Stop the LocalStack that `make start` / `make deploy` started
	@ansible-playbook playbooks/localstack.yml -e localstack_runtime=$(LOCALSTACK_RUNTIME) -e localstack_state=stopped

status: ## Show whether LocalStack answers and what the dev stack reports
	@tools/status.sh

deploy: start ## Set up, start LocalStack, deploy and verify the dev stack (ENV=test for test)
	@ansible-playbook deploy.yml -i inventories/$(ENV)
	@tools/next-steps.sh $(ENV)

verify: ## Verify the deployed stack (read-only)
	@ansible-playbook playbooks/verify.yml -i inventories/$(ENV)

monitor: ## Invoke the storage monitor now and print its report
	@ansible-playbook playbooks/monitor.yml -i inventories/$(ENV)

teardown: ## Delete the dev/test stack (add PURGE=true to delete stored e-books too)
	@ansible-playbook playbooks/teardown.yml -i inventories/$(ENV) -e ebook_stack_purge_data=$(or $(PURGE),false)

test: setup ## Run every test: lint, unit, integration on LocalStack, Molecule
	@tools/run-tests.sh all

lint: setup ## Static checks: yamllint, ruff, ansible-lint, sanity, the Galaxy importer
	@tools/run-tests.sh lint

unit: setup ## Unit tests (moto), no LocalStack
	@tools/run-tests.sh unit

integration: setup ## Integration tests against a LocalStack started for the run
	@tools/run-tests.sh integration

molecule: setup ## All Molecule scenarios against a LocalStack started for the run
	@tools/run-tests.sh molecule

runbooks: setup ## Run every runbook's bash blocks against a LocalStack started for the run
	@tools/run-tests.sh runbooks

lock: ## Resolve requirements/*.in again into the lock files
	@tools/lock-requirements.sh

clean: stop ## Remove the environments, LocalStack's state and test output
	rm -rf .venv .venvs .localstack .collections .build cfn-outputs
