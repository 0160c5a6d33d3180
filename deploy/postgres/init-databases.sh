#!/usr/bin/env bash
# Creates one database and one owner role per service (and the organiser console). Run once by the postgres image on an empty data directory
# (mounted into /docker-entrypoint-initdb.d); safe to run again by hand, it skips what exists.
# Each role's password is WERKPLAATSEN_DB_PASSWORD (development); production gives every service its own.
set -euo pipefail

password="${WERKPLAATSEN_DB_PASSWORD:?set WERKPLAATSEN_DB_PASSWORD}"
services="${WERKPLAATSEN_SERVICES:-registration scheduling notifications reporting console}"

for service in $services; do
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
       -v service="$service" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'service', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'service') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'service', :'service')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'service') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'service') \gexec
SQL
done
