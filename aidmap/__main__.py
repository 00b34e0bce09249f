"""`python -m aidmap ...`: the `aidmap` command (aidmap/cli/)."""

from aidmap.cli import main

raise SystemExit(main())
