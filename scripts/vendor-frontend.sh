#!/usr/bin/env bash
# Fills frontend_stub/vendor/ from npm, pinned by frontend_stub/package-lock.json.
# scripts/setup.sh runs it (so `make run` and `make test` have it); the files are not
# committed, and the page never loads anything from the internet at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp frontend_stub/package.json frontend_stub/package-lock.json "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
out=frontend_stub/vendor
rm -rf "$out" && mkdir -p "$out/graphiql" "$out/react" "$out/react-dom"
cp "$work/node_modules/graphiql/graphiql.min.js" "$work/node_modules/graphiql/graphiql.min.css" \
   "$work/node_modules/graphiql/LICENSE" "$out/graphiql/"
cp "$work/node_modules/react/umd/react.production.min.js" "$work/node_modules/react/LICENSE" "$out/react/"
cp "$work/node_modules/react-dom/umd/react-dom.production.min.js" "$work/node_modules/react-dom/LICENSE" "$out/react-dom/"
echo "vendored: $(cd "$out" && find . -type f | sort | tr '\n' ' ')"
