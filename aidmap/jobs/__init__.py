"""Background work each API process runs: expiry of needs (and, later, help-request timeouts)."""
