"""Pure spatial code: no database, no GraphQL. Coordinates are (lon, lat) in degrees."""
