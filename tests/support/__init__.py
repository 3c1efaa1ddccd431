"""What the LocalStack suites, the benchmarks and Molecule's helper scripts share: see README.md here.

environment  repository root, region, dummy credentials, AWS variables to drop, the ansible-playbook environment
localstack   does a LocalStack answer, is a port taken, is a pid LocalStack, host-mode settings
aws          boto3 clients for LocalStack; stacks, buckets, keys, functions; clean-up and leftovers
ebooks       sample PDF / EPUB / MOBI files, sha256
mailbox      an SQS queue subscribed to an SNS topic; reading SNS envelopes and monitor reports
ansible_runs what both ansible runners share: numbered log files, flattening task messages, failed checks
"""
