#!/usr/bin/env bash
# `make test` and its parts. Integration tests and Molecule run against a
# LocalStack started here on its own port and state folder (so a dev stack
# that `make deploy` runs on :4566 is left alone), stopped again on exit.
# LOCALSTACK_ENDPOINT set by the caller means: use that one, start nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH" ANSIBLE_CONFIG="$root/ansible.cfg"
results="$root/.build/test-results"
mkdir -p "$results"

test_endpoint=${TEST_LOCALSTACK_ENDPOINT:-http://localhost:4567}
localstack_vars=(-e "localstack_endpoint=$test_endpoint" -e localstack_endpoint_is_external=false
                 -e "localstack_state_dir=$root/.localstack/test")
started_localstack=false

banner() { printf '\n==== %s ====\n' "$*"; }

start_localstack() {
  if [ -n "${LOCALSTACK_ENDPOINT:-}" ] || $started_localstack; then return 0; fi
  banner "LocalStack for the tests on $test_endpoint"
  ansible-playbook playbooks/localstack.yml "${localstack_vars[@]}"
  started_localstack=true
  export LOCALSTACK_ENDPOINT=$test_endpoint
}

stop_localstack() {
  if $started_localstack; then
    banner "stopping the test LocalStack"
    ansible-playbook playbooks/localstack.yml "${localstack_vars[@]}" -e localstack_state=stopped || true
  fi
}
trap stop_localstack EXIT

run_pytest() {
  local name=$1; shift
  banner "pytest: $name"
  python -m pytest --junitxml="$results/$name.xml" "$@"
}

lint() {
  banner "yamllint";         yamllint --strict .
  banner "ruff";             ruff check .
  banner "monitor source embedded in the template"; python tools/embed_monitor.py --check
  banner "cfn-lint";         cfn-lint files/TapStack.yml
  banner "checkov";          checkov --quiet --compact --skip-download --framework cloudformation -f files/TapStack.yml
  banner "ansible-lint";     ansible-lint --profile production
  banner "ansible-test sanity"; tools/ansible-sanity.sh
}

unit() { run_pytest unit -n 2 tests/unit; }

integration() {
  start_localstack
  run_pytest executor tests/executor
  run_pytest integration tests/integration
  # Faults and bad input; the LocalStack-killing tests use one of their own
  # (port 4571). --dist loadgroup keeps each LocalStack's tests on one worker.
  run_pytest reliability -n 2 --dist loadgroup tests/reliability
}

molecule_all() {
  start_localstack
  local scenario
  for scenario in $(ls molecule); do
    [ -f "molecule/$scenario/molecule.yml" ] || continue
    banner "molecule test -s $scenario"
    local started=$SECONDS
    if molecule test -s "$scenario"; then
      echo "$scenario passed $((SECONDS - started))" >> "$results/molecule.txt"
    else
      echo "$scenario failed $((SECONDS - started))" >> "$results/molecule.txt"
      return 1
    fi
  done
}

rm -f "$results"/*.xml "$results/molecule.txt"
case "${1:-all}" in
  lint) lint ;;
  unit) unit ;;
  integration) integration ;;
  molecule) molecule_all ;;
  all) lint; unit; integration; molecule_all ;;
  *) echo "usage: $0 [all|lint|unit|integration|molecule]" >&2; exit 2 ;;
esac
python tools/summarise-tests.py "$results"
