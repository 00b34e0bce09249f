# The two commands a newcomer needs: `make run` and `make test`.
# Each one installs what is missing first (scripts/setup.sh).
.PHONY: setup run test bench bench-1m schema audit

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/aidmap serve

test: setup
	.venv/bin/python -m pytest

schema: setup
	.venv/bin/aidmap export-schema > schema.graphql

bench: setup
	.venv/bin/python bench/nearby.py

bench-1m: setup
	.venv/bin/python bench/nearby.py --needs 1000000

audit: setup
	.venv/bin/pip-audit --skip-editable
