"""Database access: the local PostGIS launcher, the engine, the migrations, and the query plumbing
the domain services share (nearby.py: distance-ordered search; paging.py: newest first;
cursors.py: opaque keyset cursors; sql.py: SQL pieces built from the enums).

The rule for reaching the database (each choice measured; see the modules named):

- Writes, and every read inside a write, go through a SQLAlchemy session (`Context.sessions`,
  engine.py), one transaction per mutation. Reads that need no write use `Context.reads`.
- Hot reads (the nearby searches, bearer-token and partner-key look-ups, suggestion candidates) go
  through the psycopg pool (reader.py; `Context.hot_reader` picks the replica or the primary,
  replica.py, and gives each client a share of it, shares.py): a SQLAlchemy session checkout
  costs as much as the search itself.
- Raw SQL: in psycopg statements, named placeholders with their type, `%(name)s::bigint`; in
  SQLAlchemy `text()`, `:name`. No SQL is built from request values; status lists come from the
  enums through sql.status_in and sql.status_is (models/need.py OPEN_STATUSES, LIVE_STATUSES,
  HIDDEN_STATUSES...), in queries and in the models' partial-index predicates alike.
- A plain synchronous connection (command-line helpers, the demo seed, start-up scans) is opened
  by connect.connect, nowhere else (cluster.py, which creates the database itself, and the
  migrations, run by Alembic, aside).
"""
