import { createClient } from "graphql-ws";
import WebSocket from "ws"; // browsers and Node 22+ have their own WebSocket

const client = createClient({
  url: process.env.AIDMAP_URL.replace(/^http/, "ws") + "/graphql",
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${process.env.AIDMAP_KEY}` },
});
const query = "query ($near: GeoPointInput!) { needs(near: $near, radiusMeters: 3000, categories: [FOOD, MEDICINE], first: 10) { edges { distanceMeters cursor node { id title category status quantity quantityPledged unit urgency approximateLocation { lat lon } } } pageInfo { hasNextPage endCursor } } }";
for await (const result of client.iterate({ query, variables: {"near": {"lat": 21.0285, "lon": 105.8542}} })) {
  console.log(JSON.stringify(result));
  break; // one result
}
await client.dispose();