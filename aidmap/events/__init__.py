"""Live events: the outbox writer, the per-process listener, and the in-process fan-out."""
