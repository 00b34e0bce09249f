#!/usr/bin/env bash
# Installs what aidmap needs on a fresh Debian machine: PostgreSQL 15 + PostGIS 3
# (only when missing) and a virtualenv with the package. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR="${AIDMAP_PG_MAJOR:-15}"
need_debs=()
[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ] || need_debs+=("postgresql-${PG_MAJOR}")
[ -f "/usr/share/postgresql/${PG_MAJOR}/extension/postgis.control" ] || need_debs+=("postgresql-${PG_MAJOR}-postgis-3")
if [ "${AIDMAP_WITH_BROWSER:-0}" = 1 ] && ! [ -x /usr/bin/chromium ]; then need_debs+=(chromium); fi

if [ ${#need_debs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_debs[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! [ -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.aidmap-installed
if ! [ -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
