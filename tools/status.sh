#!/usr/bin/env bash
# `make status`: is LocalStack up (and whose is it), and what does the dev stack say.
set -uo pipefail
cd "$(dirname "$0")/.."
endpoint=${LOCALSTACK_ENDPOINT:-http://localhost:4566}
pidfile=.localstack/localstack.pid
if curl -fsS --max-time 3 "$endpoint/_localstack/health" >/dev/null 2>&1; then
  echo "LocalStack: answering on $endpoint"
else
  echo "LocalStack: nothing answers on $endpoint (make start)"
fi
if [ -f "$pidfile" ] && grep -qs -e localstack.runtime.main -e tap_localstack_executor.launch "/proc/$(cat "$pidfile")/cmdline"; then
  echo "Started by make: pid $(cat "$pidfile"), log .localstack/localstack.log"
fi
for file in cfn-outputs/flat-outputs.json; do
  [ -f "$file" ] && { echo "Last outputs ($file):"; .venv/bin/python -m json.tool "$file"; }
done
exit 0
