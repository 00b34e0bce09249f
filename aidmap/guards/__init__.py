"""Checks in front of GraphQL: rate limits (per partner key and per IP) and browser origins (CORS, websockets)."""
