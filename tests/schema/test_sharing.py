"""The execution context of live events (aidmap.schema.fast.sharing): memory stays flat over a long subscription."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

from graphql import build_schema, parse, subscribe

from aidmap.schema.fast.sharing import SharingExecutionContext

SDL = "type Query { ok: Boolean } type Item { name: String kind: String } type Subscription { items: Item }"


def test_a_long_subscription_does_not_keep_memory_per_event() -> None:
    """graphql-core memoizes collected subfields per executor, keyed by lists each event builds anew;
    shared by all of a subscription's events, that memo gained ~1 KB per event while it stayed open."""
    schema = build_schema(SDL)

    async def items(*_: Any) -> AsyncIterator[dict[str, Any]]:
        for i in range(3000):
            yield {"items": {"name": f"item {i}", "kind": "NEW"}}

    field = schema.subscription_type.fields["items"]  # type: ignore[union-attr]
    field.subscribe = items
    field.resolve = lambda event, _info: event["items"]

    async def run() -> list[int]:
        stream = subscribe(
            schema, parse("subscription { items { name kind } }"), executor_class=SharingExecutionContext
        )
        if asyncio.iscoroutine(stream):
            stream = await stream
        retained = []
        count = 0
        async for result in stream:  # type: ignore[union-attr]
            assert result.errors is None and result.data["items"]["name"] == f"item {count}"
            count += 1
            if count in (500, 3000):
                gc.collect()  # count what is kept, not garbage waiting for the cycle collector
                retained.append(tracemalloc.get_traced_memory()[0])
        assert count == 3000
        return retained

    tracemalloc.start()
    try:
        after_500, after_3000 = asyncio.run(run())
    finally:
        tracemalloc.stop()
    # 2,500 more events: with the shared memo this grew by ~2.5 MB; now it stays within a few KB.
    assert after_3000 - after_500 < 20_000, after_3000 - after_500
