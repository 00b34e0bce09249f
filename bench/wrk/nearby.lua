-- wrk script for bench/throughput.py: POST the nearby query from a random point near one of
-- three cities, count GraphQL errors (HTTP 200 with "errors") and print a JSON summary.
local query = "query ($near: GeoPointInput!) { needs(near: $near, radiusMeters: 5000, categories: [FOOD], first: 20) " ..
  "{ edges { distanceMeters node { id title quantity unit urgency approximateLocation { lat lon } } } } }"
local cities = { { 21.0285, 105.8542 }, { 10.7769, 106.7009 }, { 16.4637, 107.5909 } }
local threads = {}
errors = 0  -- global: done() reads it from each thread

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function gauss()
  -- Box-Muller: about 3 km of spread, as the Python load generator used
  return math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random())
end

function request()
  local city = cities[math.random(#cities)]
  local body = string.format('{"query": "%s", "variables": {"near": {"lat": %.6f, "lon": %.6f}}}',
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
