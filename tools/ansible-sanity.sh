#!/usr/bin/env bash
# ansible-test sanity, offline. ansible-test needs the collection under
# .../ansible_collections/tap/ebook_storage: unpack the built collection there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=$root/.venv/bin/python
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Offline get-pip stand-in for every pip version ansible-test may ask for.
cache=~/.ansible/test/cache
mkdir -p "$cache"
for v in 25_2 25_1 24_3 24_0 23_1; do cp tools/get-pip-offline.py "$cache/get_pip_$v.py"; done

dest=.build/sanity/ansible_collections/tap/ebook_storage
rm -rf .build/sanity
mkdir -p "$dest"
# Sanity tests the collection as it ships: the tarball that
# `ansible-galaxy collection build` makes, without what galaxy.yml's
# build_ignore leaves out (the executor plugin and the LocalStack role, their
# tests, the test runner, Molecule, benchmarks).
ansible-galaxy collection build --force --output-path .build/sanity . > /dev/null
tar -xzf .build/sanity/tap-ebook_storage-*.tar.gz -C "$dest"
# ansible-test finds other collections only beside this one: link amazon.aws
# from the `ansible` package in .venv.
amazon_aws=$("$python" -c 'import ansible_collections.amazon.aws as m; print(list(m.__path__)[0])')
mkdir -p .build/sanity/ansible_collections/amazon
ln -s "$amazon_aws" .build/sanity/ansible_collections/amazon/aws
cd "$dest"
# ansible-test reads the file list from git when it finds a repository.
git init -q && git add -A >/dev/null

sanity() { ansible-test sanity --local --python "$version" --color no "$@"; }
# Arguments: one ansible-test run with them (for yamllint, add
# `--exclude files/TapStack.yml`, as below).
if [ $# -gt 0 ]; then
  sanity "$@"
  exit
fi
# ansible-test's yamllint loads every YAML file with libyaml's safe loader,
# which cannot read CloudFormation's short-form tags (!Ref, !Sub): the template
# is left out of that one test (--exclude) instead of being listed in
# tests/sanity/ignore-*.txt, which the Galaxy importer reports. Every other
# sanity test covers it; the repository's yamllint (.yamllint) lints it, and
# cfn-lint and checkov check it (tests/unit/test_template.py).
status=0
sanity --skip-test yamllint || status=$?
sanity --test yamllint --exclude files/TapStack.yml || status=$?
exit "$status"
