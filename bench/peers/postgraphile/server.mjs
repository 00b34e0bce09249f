// The peer of bench/peer.py: PostGraphile 5 in production mode (no GraphiQL, no explain, no watch),
// one Node process, exposing only the `peer` schema (peer.sql) of aidmap's database.
//
//   DATABASE_URL=postgres://... PORT=5678 node_modules/.bin/node server.mjs
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const port = Number(process.env.PORT ?? 5678);
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["peer"],
      poolConfig: { max: Number(process.env.PEER_POOL_SIZE ?? 10) },
    }),
  ],
  grafserv: { port, graphiql: false, watch: false, graphqlOverGET: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 60_000;
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
await serv.addTo(server);
server.listen(port, "127.0.0.1", () => console.log(`peer: PostGraphile on http://127.0.0.1:${port}/graphql`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    pgl.release().finally(() => process.exit(0));
  });
}
