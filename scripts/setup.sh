#!/usr/bin/env bash
# Installs what aidmap needs on a fresh Debian machine: PostgreSQL 15 + PostGIS 3
# (only when missing) and a virtualenv with the package. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR="${AIDMAP_PG_MAJOR:-15}"
need_debs=()
[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ] || need_debs+=("postgresql-${PG_MAJOR}")
[ -f "/usr/share/postgresql/${PG_MAJOR}/extension/postgis.control" ] || need_debs+=("postgresql-${PG_MAJOR}-postgis-3")
# npm fetches the page's GraphiQL at set-up (never at run time); the tests also drive a browser and
# run JavaScript (graphql-http's audit, the docs' examples).
command -v node >/dev/null || need_debs+=(nodejs)
command -v npm >/dev/null || need_debs+=(npm)
if [ "${AIDMAP_WITH_BROWSER:-0}" = 1 ]; then
  [ -x /usr/bin/chromium ] || need_debs+=(chromium)
fi
# The benchmarks' HTTP load generator (bench/throughput.py).
if [ "${AIDMAP_WITH_BENCH:-0}" = 1 ]; then
  command -v wrk >/dev/null || need_debs+=(wrk)
fi

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
# The locked environment (requirements.lock, written by `make lock`: every package of `.[test]` at an
# exact version), then the package itself without resolving anything again. Reinstalled only when
# pyproject.toml or the lock changed since the last install.
stamp=.venv/.aidmap-installed
if ! [ -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
# The benchmarks' own packages (plots, the profiler), at the lock's versions where it has them.
if [ "${AIDMAP_WITH_BENCH:-0}" = 1 ] && ! .venv/bin/python -c 'import matplotlib' 2>/dev/null; then
  .venv/bin/python -m pip install -q -c requirements.lock -e '.[bench]'
fi

# The page's vendored GraphiQL (pinned by frontend_stub/package-lock.json; built files are not committed).
vendor_stamp=frontend_stub/vendor/.aidmap-installed
if ! [ -f "$vendor_stamp" ] || [ frontend_stub/package-lock.json -nt "$vendor_stamp" ]; then
  echo "setup: vendoring the page's GraphiQL from npm"
  bash scripts/vendor-frontend.sh >/dev/null
  touch "$vendor_stamp"
fi

# JavaScript packages the tests run (pinned by tests/node/package-lock.json), from the npm registry.
if [ "${AIDMAP_WITH_BROWSER:-0}" = 1 ]; then
  node_stamp=tests/node/node_modules/.aidmap-installed
  if ! [ -f "$node_stamp" ] || [ tests/node/package-lock.json -nt "$node_stamp" ]; then
    echo "setup: installing the tests' JavaScript packages (npm ci)"
    (cd tests/node && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
    touch "$node_stamp"
  fi
fi

# The peer of bench/peer.py (`make bench-peer`): PostGraphile 5 and the Node 22 it needs, both from the
# npm registry, pinned by bench/peers/postgraphile/package-lock.json (the system's npm installs them;
# the peer runs on node_modules/.bin/node).
if [ "${AIDMAP_WITH_PEER:-0}" = 1 ]; then
  peer_stamp=bench/peers/postgraphile/node_modules/.aidmap-installed
  if ! [ -f "$peer_stamp" ] || [ bench/peers/postgraphile/package-lock.json -nt "$peer_stamp" ]; then
    echo "setup: installing the benchmark's peer, PostGraphile 5 on Node 22 (npm ci)"
    (cd bench/peers/postgraphile && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
    touch "$peer_stamp"
  fi
fi
