-- wrk script for bench/peer.py: the side-by-side job, "the 20 nearest open FOOD needs within 5 km of a
-- point, with id, title, quantity, urgency and the approximate location", from a random point near one
-- of three cities (as nearby.lua), sent as each server spells it:
--   wrk ... -s job.lua http://127.0.0.1:PORT -- aidmap|peer
-- Counts GraphQL errors (HTTP 200 with "errors") and prints the same JSON summary as nearby.lua.
local queries = {
  aidmap = "query ($lat: Float!, $lon: Float!) { needs(near: {lat: $lat, lon: $lon}, radiusMeters: 5000, " ..
    "categories: [FOOD], first: 20) { edges { node { id title quantity urgency approximateLocation { lat lon } } } } }",
  peer = "query ($lat: Float!, $lon: Float!) { nearbyNeedsList(lat: $lat, lon: $lon, radiusMeters: 5000, " ..
    "category: \\\"FOOD\\\", k: 20) { rowId title quantity urgency approximateLocation { lat lon } } }",
}
local cities = { { 21.0285, 105.8542 }, { 10.7769, 106.7009 }, { 16.4637, 107.5909 } }
local threads = {}
errors = 0  -- global: done() reads it from each thread

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  query = queries[args[1] or "aidmap"]
  assert(query, "the flavour is aidmap or peer")
  math.randomseed(os.time() * 1000 + id)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function gauss()
  -- Box-Muller: about 3 km of spread, as nearby.lua
  return math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random())
end

function request()
  local city = cities[math.random(#cities)]
  local body = string.format('{"query": "%s", "variables": {"lat": %.6f, "lon": %.6f}}',
    query, city[1] + 0.03 * gauss(), city[2] + 0.03 * gauss())
  return wrk.format(nil, "/graphql", nil, body)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local graphql_errors = 0
  for _, thread in ipairs(threads) do
    graphql_errors = graphql_errors + thread:get("errors")
  end
  io.write(string.format(
    'WRK-JSON {"requests": %d, "seconds": %.3f, "errors": %d, "socket_errors": %d, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, graphql_errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
