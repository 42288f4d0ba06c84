#!/bin/sh
# Creates Lectern's database and role, then runs the event log's migrations with
# `lectern migrate`. Idempotent: safe to run again after an upgrade.
#
#   PGHOST=127.0.0.1 PGUSER=postgres infra/postgres/setup.sh
#
# Settings (environment): LECTERN_DB (lectern), LECTERN_DB_USER (lectern),
# LECTERN_DB_PASSWORD (lectern — change it), and the usual PGHOST/PGPORT/PGUSER/PGPASSWORD of
# an account allowed to create roles and databases. Prints the DATABASE_URL to use.
#
# Each `lectern rooms` process holds one extra session for its shard locks (advisory locks,
# DESIGN.md §6) besides its pool: allow max_connections ≥ processes × (pool size + 1) + headroom.
set -eu
db=${LECTERN_DB:-lectern}
user=${LECTERN_DB_USER:-lectern}
password=${LECTERN_DB_PASSWORD:-lectern}
here=$(cd "$(dirname "$0")" && pwd)
lectern=${LECTERN_BIN:-node "$here/../../services/cli/dist/main.js"}

psql -v ON_ERROR_STOP=1 -d postgres -q <<SQL
select format('create role %I login password %L', '$user', '$password')
 where not exists (select 1 from pg_roles where rolname = '$user') \gexec
select format('create database %I owner %I', '$db', '$user')
 where not exists (select 1 from pg_database where datname = '$db') \gexec
SQL

url="postgres://$user:$password@${PGHOST:-127.0.0.1}:${PGPORT:-5432}/$db"
DATABASE_URL=$url $lectern migrate
echo "DATABASE_URL=$url"
