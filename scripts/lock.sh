#!/usr/bin/env bash
# Writes requirements.lock: the environment `make test` installs (the package and its [test] extra),
# every version exact. The versions already locked are kept where pyproject.toml's ranges still allow
# them (uv prefers an output file's pins); `--upgrade` takes the newest allowed instead.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install -q -e '.[lock]' >/dev/null
body=$(mktemp)
trap 'rm -f "$body"' EXIT
grep -v '^#' requirements.lock > "$body" 2>/dev/null || true
# pip itself is left out: setup.sh upgrades it before installing the lock.
.venv/bin/uv pip compile pyproject.toml --extra test --python-version 3.11 --no-annotate --no-header \
  --quiet -o "$body" "$@"
{
  echo "# The whole environment of \`make test\` (the package with its [test] extra), every version exact,"
  echo "# written by \`make lock\` (uv pip compile) from pyproject.toml's ranges. scripts/setup.sh installs it,"
  echo "# then the package itself with --no-deps: a fresh clone gets the versions the tests last passed on."
  echo "# Change a range in pyproject.toml (or take a new release on purpose), run \`make lock\`, run the tests."
  grep -v '^pip==' "$body"
} > requirements.lock
echo "requirements.lock: $(grep -c '==' requirements.lock) packages"
