"""The fast path, fenced: every shortcut past strawberry's and graphql-core's ordinary machinery.

These modules lean on the libraries' internals (graphql-core's executor, strawberry's execution
context and websocket handler), so the versions are pinned exactly in pyproject.toml and the whole
environment by requirements.lock; tests/schema/test_fast_paths.py compares each shortcut's answers
with the library's ordinary path. Nothing outside this folder reaches into those internals.

- compiled.py: repeated search documents, validated once, answered straight from the rows.
- http_route.py: the pure-ASGI route in front of strawberry's view for those documents.
- plain_fields.py: an executor that skips resolvers of plain attributes.
- sharing.py: one execution per live event shared across subscribers with the same selection.
- live_batch.py: a live event's messages encoded once per visibility class.
- live_socket.py: the graphql-transport-ws handler with that direct delivery.
- ws_frames.py: uvicorn's websocket protocol sending pre-encoded text frames.
"""
