#!/usr/bin/env bash
# Creates the three Python environments from the lock files, and the
# collection link that ansible.cfg points at. Idempotent: an environment
# whose lock file (and sources) did not change since it was made is reused.
#
#   .venv                     controller: Ansible, Molecule, test tools (3.13 or 3.12)
#   .venvs/localstack         LocalStack host mode + local Lambda executor (3.13)
#   .venvs/lambda-python3.11  interpreter for python3.11 Lambda functions
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# A Python of the given minor version: a plain pythonX.Y that runs, else the
# newest pyenv-installed one (pyenv's shims answer "command not found" for
# versions that are installed but not active).
find_python() {
  local minor=$1 candidate version
  # The base interpreter, never a virtual environment's: `make` puts .venv/bin
  # first on PATH, and .venv is deleted before it is made again.
  if candidate=$(command -v "python$minor" 2>/dev/null) \
      && candidate=$("$candidate" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))' 2>/dev/null) \
      && [ -x "$candidate" ]; then
    echo "$candidate"; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    version=$(pyenv versions --bare 2>/dev/null | grep -E "^${minor//./\\.}(\.[0-9]+)?$" | sort -V | tail -n 1 || true)
    if [ -n "$version" ] && [ -x "$(pyenv root)/versions/$version/bin/python$minor" ]; then
      echo "$(pyenv root)/versions/$version/bin/python$minor"; return 0
    fi
  fi
  return 1
}

need_python() {
  local purpose=$1; shift
  local minor
  for minor in "$@"; do
    if find_python "$minor"; then return 0; fi
  done
  die "$purpose needs Python $* (one of them). Install it, e.g. 'pyenv install $1' or your distribution's python$1 package, and run again."
}

# pip install, without the notice that this machine's pip configuration
# prints for every package (an extra index folder that has no such entry).
pip_quietly() {
  local dir=$1; shift
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}

# Fingerprint of the inputs of an environment: lock file, interpreter, extras.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

make_env() {
  local dir=$1 python=$2 lock=$3; shift 3
  local stamp="$dir/.setup-fingerprint" want
  want=$(printf '%s\n%s' "$("$python" -VV)" "$(fingerprint "$lock" "$@")" | sha256sum | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "$dir is up to date"
    return 1
  fi
  say "creating $dir with $("$python" -V) from $lock"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  pip_quietly "$dir" -r "$lock"
  echo "$want" > "$stamp.pending"
  return 0
}

seal_env() { mv "$1/.setup-fingerprint.pending" "$1/.setup-fingerprint"; }

controller_python=$(need_python "The controller (ansible-core 2.21)" 3.13 3.12)
localstack_python=$(need_python "LocalStack host mode" 3.13)
lambda_python=$(need_python "The python3.11 Lambda runtime" 3.11)

if make_env .venv "$controller_python" requirements/controller.lock; then seal_env .venv; fi

if make_env .venvs/localstack "$localstack_python" requirements/localstack.lock; then seal_env .venvs/localstack; fi

# The executor plugin is reinstalled on its own when its sources change, so
# an edit does not rebuild LocalStack's whole environment.
executor_stamp=.venvs/localstack/.executor-fingerprint
# shellcheck disable=SC2046
executor_want=$(fingerprint $(find localstack_executor -type f \( -name '*.py' -o -name '*.toml' \) -not -path '*/build/*' | sort))
if [ "$(cat "$executor_stamp" 2>/dev/null)" != "$executor_want" ]; then
  say "installing localstack_executor into .venvs/localstack"
  pip_quietly .venvs/localstack --no-deps --force-reinstall ./localstack_executor
  echo "$executor_want" > "$executor_stamp"
fi

if make_env .venvs/lambda-python3.11 "$lambda_python" requirements/lambda-python3.11.lock; then
  seal_env .venvs/lambda-python3.11
fi

# ansible.cfg looks for collections in .collections: link this checkout there
# so tap.ebook_storage.* resolves without Galaxy. amazon.aws comes with the
# `ansible` package in .venv.
link=.collections/ansible_collections/tap/ebook_storage
if [ "$(readlink "$link" 2>/dev/null)" != "$root" ]; then
  mkdir -p "$(dirname "$link")"
  ln -sfn "$root" "$link"
  say "linked $link -> $root"
fi
say "environments ready"
