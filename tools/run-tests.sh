#!/usr/bin/env bash
# `make test` and its parts. Every stage runs and reports even when an earlier
# one failed; the last line is always `summary: N passed, N failed, N skipped`
# over all stages, and the exit code is non-zero when anything failed.
#
# The stages run side by side: the static lane (lint, sanity, unit tests)
# keeps the CPU busy while the LocalStack suites and the Molecule scenarios
# mostly wait on their LocalStacks. Every LocalStack of the run has its own
# port and state folder, so a dev stack that `make deploy` runs on :4566 is
# left alone: the integration suite's on :4567 (LOCALSTACK_ENDPOINT set by
# the caller means: use that one, start nothing), the others started and
# stopped by the suites and scenarios themselves (tests/conftest.py,
# molecule/shared/create.yml).
#
# Each stage's output goes to .build/test-results/<stage>.log; the console
# shows one line per stage, and the log's tail when a stage fails.
# .build/test-results/stages.tsv holds stage, status, seconds, passed,
# failed, skipped for bench/run.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH" ANSIBLE_CONFIG="$root/ansible.cfg"
results="$root/.build/test-results"

test_endpoint=${TEST_LOCALSTACK_ENDPOINT:-http://localhost:4567}
localstack_vars=(-e "localstack_endpoint=$test_endpoint" -e localstack_endpoint_is_external=false
                 -e "localstack_state_dir=$root/.localstack/test")
started=$SECONDS
# A LocalStack that the caller runs: every suite and scenario uses it, one at a time.
caller_endpoint=${LOCALSTACK_ENDPOINT:-}

clock() { local s=$((SECONDS - started)); printf '%02d:%02d' $((s / 60)) $((s % 60)); }

# stage NAME COMMAND...: runs COMMAND with its output in NAME.log and records
# the outcome. A pytest stage writes NAME.xml (JUnit) with its own counts;
# any other stage counts as one test.
stage() {
  local name=$1; shift
  local log="$results/$name.log" begun=$SECONDS status
  printf '[%s] start  %s\n' "$(clock)" "$name"
  "$@" > "$log" 2>&1
  status=$?
  local outcome=passed
  [ "$status" -eq 0 ] || outcome=failed
  printf '%s\t%s\t%s\n' "$name" "$outcome" "$((SECONDS - begun))" >> "$results/stages.raw"
  printf '[%s] %-6s %s (%d s)%s\n' "$(clock)" "$outcome" "$name" "$((SECONDS - begun))" \
    "$(python tools/summarise-tests.py --counts "$results" "$name" 2>/dev/null)"
  if [ "$status" -ne 0 ]; then
    printf -- '----- last lines of %s\n' "${log#"$root"/}"
    tail -n 40 "$log"
    printf -- '-----\n'
  fi
  return 0
}

pytest_stage() {
  local name=$1; shift
  stage "$name" python -m pytest -p no:cacheprovider --junitxml="$results/$name.xml" "$@"
}

# --------------------------------------------------------------------------- static lane

lint() {
  stage yamllint yamllint --strict .
  stage ruff ruff check .
  stage monitor-embedded python tools/embed_monitor.py --check
  stage ansible-lint ansible-lint --profile production
  stage ansible-test-sanity tools/ansible-sanity.sh
  # The built collection as Galaxy imports it (no container: sanity is the stage above).
  stage galaxy-importer tools/galaxy-importer.sh
}

# cfn-lint and checkov run once, inside the unit tests (tests/unit/test_template.py).
unit() { pytest_stage unit -n 2 tests/unit; }

# --------------------------------------------------------------------------- LocalStack lane

started_localstack=false

start_localstack() {
  if [ -n "${LOCALSTACK_ENDPOINT:-}" ] || $started_localstack; then return 0; fi
  started_localstack=true
  stage localstack-start ansible-playbook playbooks/localstack.yml "${localstack_vars[@]}"
  export LOCALSTACK_ENDPOINT=$test_endpoint
}

stop_localstack() {
  if $started_localstack; then
    ansible-playbook playbooks/localstack.yml "${localstack_vars[@]}" -e localstack_state=stopped \
      > "$results/localstack-stop.log" 2>&1 || echo "could not stop the test LocalStack: see $results/localstack-stop.log"
  fi
}

# The executor, integration and reliability suites in one pytest session: one
# xdist worker per group of tests/conftest.py (a LocalStack each, or
# resources of their own), so the five groups run at the same time.
localstack_suites() {
  start_localstack
  pytest_stage localstack-suites -n 5 --dist loadgroup tests/executor tests/integration tests/reliability
}

# The runbooks (docs/runbooks/*.md) as someone on call pastes them: every
# ```bash block, in order, one bash process per runbook, from a project folder,
# prod steps against a prod-like inventory (tests/runbooks/README.md). Its own
# LocalStack (RUNBOOK_LOCALSTACK_PORT, default 4581) unless the caller runs one:
# it deploys, changes and tears down dev, test and prod, so it never shares a
# LocalStack with the suites above while they run.
runbooks() {
  if [ -n "$caller_endpoint" ]; then
    stage runbooks python -m pytest -p no:cacheprovider --junitxml="$results/runbooks.xml" tests/runbooks
  else
    stage runbooks env -u LOCALSTACK_ENDPOINT \
      python -m pytest -p no:cacheprovider --junitxml="$results/runbooks.xml" tests/runbooks
  fi
}

# The Molecule scenarios as a user runs them without LOCALSTACK_ENDPOINT: each
# scenario's create starts a LocalStack of its own (on its own port) and its
# destroy stops it, so MOLECULE_JOBS (2) scenarios run at the same time. On the
# caller's LocalStack they run one after another (they share stack names).
molecule_all() {
  local scenario port=4590 running=0 jobs=${MOLECULE_JOBS:-2}
  for scenario in $(ls molecule); do
    [ -f "molecule/$scenario/molecule.yml" ] || continue
    port=$((port + 1))
    if [ -n "$caller_endpoint" ]; then
      stage "molecule-$scenario" molecule test -s "$scenario"
      continue
    fi
    stage "molecule-$scenario" env -u LOCALSTACK_ENDPOINT MOLECULE_LOCALSTACK_ENDPOINT="http://localhost:$port" \
      molecule test -s "$scenario" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  done
  wait
}

localstack_lane() {
  trap stop_localstack EXIT
  if [ -n "$caller_endpoint" ]; then
    # One LocalStack for everything: the suites, the runbooks and the scenarios share stack names.
    localstack_suites
    runbooks
    molecule_all
    return
  fi
  molecule_all &
  runbooks &
  localstack_suites
  wait
}

# --------------------------------------------------------------------------- main

mkdir -p "$results"
rm -f "$results"/*.xml "$results"/*.log "$results/stages.raw" "$results/stages.tsv"
case "${1:-all}" in
  lint) lint ;;
  unit) unit ;;
  integration) (trap stop_localstack EXIT; localstack_suites) ;;
  molecule) molecule_all ;;
  runbooks) runbooks ;;
  all)
    # Each lane in its own subshell: the LocalStack lane stops its LocalStack
    # when it ends, whatever the static lane is doing.
    (lint; unit) &
    static_lane=$!
    localstack_lane &
    localstack_lane_pid=$!
    trap 'kill -TERM "$static_lane" "$localstack_lane_pid" 2>/dev/null' INT TERM
    wait "$static_lane"
    wait "$localstack_lane_pid"
    ;;
  *) echo "usage: $0 [all|lint|unit|integration|molecule|runbooks]" >&2; exit 2 ;;
esac
printf '[%s] all stages done\n' "$(clock)"
python tools/summarise-tests.py "$results"
