"""Database access: the local PostGIS launcher, the engine and the migrations."""
