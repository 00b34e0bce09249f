"""`python -m aidmap.cli ...`, as the tests and benchmarks start the server."""

from aidmap.cli import main

raise SystemExit(main())
