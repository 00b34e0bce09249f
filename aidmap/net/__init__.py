"""Outbound network access."""
