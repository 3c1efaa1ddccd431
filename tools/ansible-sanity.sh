#!/usr/bin/env bash
# ansible-test sanity, offline. ansible-test needs the collection under
# .../ansible_collections/tap/ebook_storage: copy the tracked files there.
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
# Sanity tests the collection as it ships: the tooling that galaxy.yml's
# build_ignore leaves out of the artifact (executor plugin, its tests, the
# test runner, Molecule, benchmarks) is not copied.
git ls-files -z --cached --others --exclude-standard \
  | grep -z -v -E '^(\.ci|tools|localstack_executor|molecule|bench|requirements)/|^tests/(executor|integration|reliability|policy_enforcement)/' \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
# ansible-test finds other collections only beside this one: link amazon.aws
# from the `ansible` package in .venv.
amazon_aws=$("$python" -c 'import ansible_collections.amazon.aws as m; print(list(m.__path__)[0])')
mkdir -p .build/sanity/ansible_collections/amazon
ln -s "$amazon_aws" .build/sanity/ansible_collections/amazon/aws
cd "$dest"
# ansible-test reads the file list from git when it finds a repository.
git init -q && git add -A >/dev/null
ansible-test sanity --local --python "$version" --color no "$@"
