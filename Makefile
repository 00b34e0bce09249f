# The two commands a newcomer needs: `make run` and `make test`.
# Each one installs what is missing first (scripts/setup.sh).
.PHONY: setup setup-bench lock run test bench bench-1m bench-throughput bench-peer bench-fanout bench-signin bench-fairness bench-rare-filters bench-all soak schema audit messages

setup:
	@bash scripts/setup.sh

# requirements.lock again from pyproject.toml's ranges (keeping the locked versions they still allow).
lock: setup
	@bash scripts/lock.sh

# The benchmarks also need Debian's wrk (the HTTP load generator).
setup-bench:
	@AIDMAP_WITH_BENCH=1 bash scripts/setup.sh

# Dev mode (introspection on) unless the caller says otherwise. `exec`, so that the server is make's
# own child: make passes a SIGTERM (systemd, docker stop, kill) on to it, not to a shell that would
# die and leave the server and its PostgreSQL running.
run: setup
	AIDMAP_DEV=$${AIDMAP_DEV:-1} exec .venv/bin/aidmap serve

# The tests also drive the page in Debian's chromium (installed when missing).
test:
	@AIDMAP_WITH_BROWSER=1 bash scripts/setup.sh
	.venv/bin/python -m pytest

schema: setup
	.venv/bin/aidmap export-schema > schema.graphql

# Every msg(), N_() and term() of the code into the template, merged into each language's catalog (new
# or reworded messages come in untranslated or fuzzy: translate them, tests/test_i18n.py checks;
# docs/translations.md). The keywords are aidmap/i18n's KEYWORDS.
LOCALE = aidmap/i18n/locale
messages: setup
	.venv/bin/pybabel extract -F aidmap/i18n/babel.cfg --no-default-keywords -k msg -k N_ -k term:1c,2 \
		--add-location=file --sort-output --no-wrap --omit-header -o $(LOCALE)/aidmap.pot .
	.venv/bin/pybabel update -i $(LOCALE)/aidmap.pot -d $(LOCALE) -D aidmap --previous --ignore-obsolete --no-wrap

bench: setup-bench
	.venv/bin/python bench/nearby.py
	.venv/bin/python bench/throughput.py

bench-1m: setup-bench
	.venv/bin/python bench/nearby.py --needs 1000000

# Requests per second of the nearby query on one server process at p99 under 50 ms (wrk).
bench-throughput: setup-bench
	.venv/bin/python bench/throughput.py

# aidmap side by side with PostGraphile 5 on the same job, database and index (bench/results/peer.md),
# and aidmap --workers 2 against one worker. The peer (PostGraphile and Node 22) comes from npm,
# pinned by bench/peers/postgraphile/package-lock.json.
bench-peer: setup-bench
	@AIDMAP_WITH_PEER=1 bash scripts/setup.sh
	.venv/bin/python bench/peer.py

audit: setup
	.venv/bin/pip-audit --skip-editable

bench-fanout: setup-bench
	.venv/bin/python bench/fanout.py --subscribers 1000 --needs 30 --rate 2
	.venv/bin/python bench/fanout.py --subscribers 10000 --needs 20 --rate 0.5

# A trivial query's p50/p99 while 8 clients sign in, argon2 on the event loop (before) and in the pool (after).
bench-signin: setup
	.venv/bin/python bench/signin_load.py --seconds 20

# One simulated day of Hà Nội under four allocation policies: needs helped and the fairness ratio
# (bench/results/fairness.md, fairness-wards.png). No database; a few minutes on 2 cores.
bench-fairness: setup
	.venv/bin/python -m pip install -q -e '.[bench]'
	.venv/bin/python bench/fairness.py

# Searches whose filter few needs match, with and without migration 0033's indexes, at 100k needs.
bench-rare-filters: setup-bench
	.venv/bin/python bench/rare_filters.py

# Ten minutes of mixed load with 1,000 open subscriptions (a short form runs in `make test`).
soak: setup-bench
	.venv/bin/python bench/soak.py --seconds 600 --subscribers 1000

# Every benchmark at 10k, 100k and 1M needs, one report with plots: bench/results/report.md.
bench-all: setup-bench
	.venv/bin/python -m pip install -q -e '.[test,bench]'
	.venv/bin/python bench/run_all.py
	.venv/bin/python bench/fairness.py
	@AIDMAP_WITH_PEER=1 bash scripts/setup.sh
	.venv/bin/python bench/peer.py
