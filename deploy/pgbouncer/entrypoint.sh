#!/bin/sh
# Starts PgBouncer from the environment (docker-compose.yml: pgbouncer; npm run test:selfhost runs
# this very script): writes the auth file, renders pgbouncer.ini.template with envsubst, and runs
# pgbouncer in the foreground. Extra arguments go to pgbouncer.
set -eu

: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
: "${POSTGRES_DB:?set POSTGRES_DB}"
export POSTGRES_DB
export POSTGRES_HOST="${POSTGRES_HOST:-postgres}"
export POSTGRES_PORT="${POSTGRES_PORT:-5432}"
export PGBOUNCER_LISTEN_ADDR="${PGBOUNCER_LISTEN_ADDR:-*}"
export PGBOUNCER_PORT="${PGBOUNCER_PORT:-6432}"
export PGBOUNCER_POOL_SIZE="${PGBOUNCER_POOL_SIZE:-20}"
export PGBOUNCER_MAX_CLIENT_CONN="${PGBOUNCER_MAX_CLIENT_CONN:-1000}"
run_dir="${PGBOUNCER_RUN_DIR:-/run/pgbouncer}"
template="${PGBOUNCER_TEMPLATE:-$(dirname "$0")/pgbouncer.ini.template}"
export PGBOUNCER_AUTH_FILE="$run_dir/userlist.txt"

umask 077
# The one user clients log in as, with its password (pgbouncer answers SCRAM with it and logs in
# to PostgreSQL with it). Double quotes inside a value are doubled.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
printf '%s %s\n' "$(quote "$POSTGRES_USER")" "$(quote "$POSTGRES_PASSWORD")" > "$PGBOUNCER_AUTH_FILE"

# Only these variables are substituted; anything else in the template stays as written.
envsubst '${POSTGRES_DB} ${POSTGRES_HOST} ${POSTGRES_PORT} ${PGBOUNCER_LISTEN_ADDR} ${PGBOUNCER_PORT} ${PGBOUNCER_POOL_SIZE} ${PGBOUNCER_MAX_CLIENT_CONN} ${PGBOUNCER_AUTH_FILE}' \
  < "$template" > "$run_dir/pgbouncer.ini"

exec pgbouncer "$@" "$run_dir/pgbouncer.ini"
