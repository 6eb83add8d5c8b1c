-- Run once by the postgres image when the database is first created (sample deployment).
CREATE EXTENSION IF NOT EXISTS vector;
