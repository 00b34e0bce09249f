"""A GraphQL client nobody here wrote (gql, over graphql-transport-ws) can subscribe and authenticate."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.conftest import Api, LiveServer
from tests.factories import create_need, pledge, sign_up

ACTIVITY = gql("subscription { myActivity { cursor kind pledge { quantity } need { title } } }")


def test_gql_client_receives_my_activity(api: Api, live_server: LiveServer) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, title="sữa")

    async def scenario() -> dict[str, Any]:
        transport = WebsocketsTransport(
            url=live_server.url.replace("http", "ws", 1) + "/graphql",
            init_payload={"authorization": f"Bearer {requester}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            events = session.subscribe(ACTIVITY)
            first = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pledge, api, donor, need["id"], 3)
            result: dict[str, Any] = await asyncio.wait_for(first, timeout=10)
            await events.aclose()
            return result

    event = asyncio.run(scenario())["myActivity"]
    assert event["kind"] == "PLEDGE_CREATED"
    assert event["pledge"] == {"quantity": 3} and event["need"] == {"title": "sữa"}
