#!/usr/bin/env bash
# Printed at the end of `make deploy`.
env=${1:-dev}
cat <<EOT

The $env stack is deployed and verified. LocalStack keeps running (make stop ends it).
  Outputs:         cfn-outputs/flat-outputs.json
  LocalStack log:  .localstack/localstack.log
Try next (after '. .venv/bin/activate'):
  ansible-playbook playbooks/monitor.yml -i inventories/$env      # run the monitor, read its report
  ansible-playbook playbooks/verify.yml -i inventories/$env       # verify again, read-only
  ansible-playbook deploy.yml -i inventories/$env -e ebook_stack_review=true   # review a change
  make status | make stop | make test
EOT
