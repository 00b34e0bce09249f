-- The peer's side of bench/peer.py: the job as one STABLE SQL function in a schema of its own,
-- which PostGraphile exposes as `Query.nearbyNeeds`. Created by bench/peer.py on the benchmark's
-- database (not a migration: aidmap never uses it).
--
-- The same rules as aidmap's `needs(near:, radiusMeters:, categories: [X], first:)` for a public
-- viewer (aidmap/db/nearby.py, aidmap/resolvers/needs.py):
--   * open statuses and the category as constants, the predicate of migration 0031's partial index
--     of that category (ix_needs_open_<category>_rank_point), one statement per category, written
--     out (EXECUTE of one text would plan every call): plpgsql keeps each one's plan, so
--     PostGraphile's parameters still reach the category's own index, as aidmap's search does (on
--     100,000 needs, 0.87 ms of backend CPU per call; 1.0-1.1 ms as one SQL statement on the
--     composite (category, rank_point) index, 1.8 ms as a UNION ALL of the categories, whose
--     branches a generic plan cannot prune);
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
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
  CASE category
  WHEN 'FOOD' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'FOOD'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  WHEN 'MEDICINE' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'MEDICINE'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  WHEN 'STUDY_DEVICE' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'STUDY_DEVICE'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  WHEN 'MEDICAL_CONSULTATION' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'MEDICAL_CONSULTATION'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  WHEN 'ESSENTIALS' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'ESSENTIALS'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  WHEN 'ERRAND' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'ERRAND'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  WHEN 'OTHER' THEN RETURN QUERY
    SELECT hit.id, hit.title, hit.quantity, hit.urgency,
           ROW(round(ST_Y(geometry(hit.cell))::numeric, 6)::float8, round(ST_X(geometry(hit.cell))::numeric, 6)::float8)::peer.geo_point
    FROM (
      SELECT n.id, n.title::text AS title, n.quantity, n.urgency, n.cell,
             n.rank_point <-> geography(ST_SetSRID(ST_MakePoint(nearby_needs.lon, nearby_needs.lat), 4326)) AS distance
      FROM public.needs n
      WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.category = 'OTHER'
      ORDER BY distance
      LIMIT nearby_needs.k
    ) hit
    WHERE hit.distance <= nearby_needs.radius_meters
    ORDER BY hit.distance, hit.id;
  ELSE RETURN;
  END CASE;
END
$$;

-- A plain list, as aidmap's page is (PostGraphile would make a connection of a SETOF function).
COMMENT ON FUNCTION peer.nearby_needs(float8, float8, float8, text, integer) IS E'@behavior -connection +list';
