-- Run once by the postgres image, on an empty data volume, as POSTGRES_USER:
-- the databases the stack uses beside POSTGRES_DB (mlflow).
CREATE DATABASE capture;
CREATE DATABASE course;
