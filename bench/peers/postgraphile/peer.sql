-- The peer's side of bench/peer.py: the job as one STABLE SQL function in a schema of its own,
-- which PostGraphile exposes as `Query.nearbyNeeds`. Created by bench/peer.py on the benchmark's
-- database (not a migration: aidmap never uses it).
--
-- The same rules as aidmap's `needs(near:, radiusMeters:, categories: [X], first:)` for a public
-- viewer (aidmap/db/nearby.py, aidmap/resolvers/needs.py):
--   * open statuses, written as the partial index's predicate so the planner uses
--     ix_needs_open_category_rank_point (category, rank_point);
--   * the k nearest by KNN on `rank_point` (the public cell's centre nudged by a hash of the id,
--     migration 0015), then the radius checked on those k rows, then (distance, id) order;
--   * the location shown is the public cell, never the exact point, to 6 decimals
--     (aidmap.geo.privacy.snap_to_cell rounds it so).
-- Only this function's composite type is exposed: the needs table (and its exact points) is not.
DROP SCHEMA IF EXISTS peer CASCADE;
CREATE SCHEMA peer;

CREATE TYPE peer.geo_point AS (lat float8, lon float8);

CREATE TYPE peer.nearby_need AS (
  id bigint,
  title text,
  quantity integer,
  urgency text,
  approximate_location peer.geo_point
);

CREATE FUNCTION peer.nearby_needs(lat float8, lon float8, radius_meters float8, category text, k integer)
RETURNS SETOF peer.nearby_need
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT hit.id, hit.title, hit.quantity, hit.urgency,
         ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
  FROM (
    SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
           n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
    FROM public.needs n
    WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = nearby_needs.category
    ORDER BY distance
    LIMIT nearby_needs.k
  ) hit
  WHERE hit.distance <= nearby_needs.radius_meters
  ORDER BY hit.distance, hit.id
$$;

-- A plain list, as aidmap's page is (PostGraphile would make a connection of a SETOF function).
COMMENT ON FUNCTION peer.nearby_needs(float8, float8, float8, text, integer) IS E'@behavior -connection +list';
