#!/usr/bin/env bash
# The Galaxy importer on the collection as it ships: builds the tarball with
# `ansible-galaxy collection build` (galaxy.yml's build_ignore applies) and
# runs galaxy-importer on it as Galaxy does on an upload, without its
# container-based ansible-test run (the ansible-test-sanity stage does that).
# The importer loads every module's documentation with ansible-doc and runs
# ansible-lint: both come from .venv/bin, first on PATH.
#
# Fails when the import fails, and on every ERROR or WARNING line the importer
# prints: a role without a README, a sanity ignore file, an unreadable
# meta/execution-environment.yml, a missing changelog or an ansible-lint
# finding would each make Galaxy show a warning on the collection's page.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH"
out=.build/galaxy-importer
rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" .
tarball=$(ls "$out"/*.tar.gz)
echo "--- contents of ${tarball#"$root"/}"
tar -tzf "$tarball" | grep -v '/$' | sort

echo "--- galaxy-importer $(python -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))')"
status=0
# The importer writes importer_result.json into the working folder.
(cd "$out" && GALAXY_IMPORTER_CONFIG="$root/tools/galaxy-importer.cfg" \
  python -m galaxy_importer.main "$root/$tarball") > "$out/importer.log" 2>&1 || status=$?
cat "$out/importer.log"

echo "---"
if [ "$status" -ne 0 ]; then
  echo "galaxy-importer: the import failed (exit $status)"
  exit 1
fi
if grep -E '^(ERROR|WARNING|CRITICAL):' "$out/importer.log" > "$out/findings.txt"; then
  echo "galaxy-importer: $(wc -l < "$out/findings.txt") finding(s):"
  cat "$out/findings.txt"
  exit 1
fi
echo "galaxy-importer: imported, no errors, no warnings"

# What the importer does not check but Galaxy users rely on.
extract=$out/collections/ansible_collections/tap/ebook_storage
mkdir -p "$extract"
tar -xzf "$tarball" -C "$extract"
python - "$extract" "$root" <<'PY'
import pathlib
import re
import sys

import yaml
from ansible_builder._target_scripts.introspect import process_collection

root = pathlib.Path(sys.argv[1])
repository = pathlib.Path(sys.argv[2])
problems = []

# ansible-builder 3 reads meta/execution-environment.yml in format 3 and
# installs the modules' run-time packages from the file it names.
meta = yaml.safe_load((root / "meta/execution-environment.yml").read_text())
if meta.get("version") != 3:
    problems.append(f"meta/execution-environment.yml: version is {meta.get('version')!r}, not 3")
python_deps, _ = process_collection(str(root))
if not any(line.startswith("boto3") for line in python_deps):
    problems.append(f"meta/execution-environment.yml: ansible-builder finds no boto3 in {python_deps}")

# Every role that ships has its README; the LocalStack role stays in the
# repository (it needs .venvs/ and localstack_executor/, which do not ship),
# and nothing that ships calls it.
for role in sorted((root / "roles").iterdir()):
    if not (role / "README.md").is_file():
        problems.append(f"roles/{role.name}: no README.md")
for path in ("roles/localstack", "playbooks/localstack.yml", "localstack_executor"):
    if (root / path).exists():
        problems.append(f"{path} ships, but galaxy.yml's build_ignore should leave it out")
calls = re.compile(r"tap\.ebook_storage\.localstack\b(?!_)|playbooks/localstack\.yml")
for path in sorted(root.glob("**/*.yml")):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if calls.search(line):
            problems.append(f"{path.relative_to(root)}:{number}: calls the repository's LocalStack role: {line.strip()}")

# Each role's README (the shipped one and the repository's LocalStack role's)
# documents every input of its argument specs.
for specs in sorted(repository.glob("roles/*/meta/argument_specs.yml")):
    role = specs.parent.parent
    readme = role / "README.md"
    text = readme.read_text() if readme.is_file() else ""
    options = yaml.safe_load(specs.read_text())["argument_specs"]["main"]["options"]
    problems += [
        f"roles/{role.name}/README.md: does not document `{name}` (meta/argument_specs.yml)"
        for name in options if f"`{name}`" not in text
    ]

# No sanity test is skipped by an ignore file (the importer warns too).
problems += [f"{p.relative_to(root)}: sanity ignore file" for p in root.glob("tests/sanity/ignore-*.txt")]

for problem in problems:
    print(problem)
print(f"collection checks: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
