#!/usr/bin/env bash
# Start PostgreSQL 15 and Redis 7 for the persistence tests, installing them from Debian's
# packages when missing, and print the variables the tests read (TEST_DATABASE_URL,
# TEST_REDIS_URL). Used by .ci/run; safe to run again (everything is idempotent).
# Prints nothing but the two `export` lines on stdout; progress goes to stderr.
set -euo pipefail
log() { echo "ci-services: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  log "installing postgresql and redis-server"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -q && apt-get install -y -q postgresql redis-server) >&2
fi

version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
  log "creating PostgreSQL $version cluster"
  pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | grep "^$version main" | grep -q online; then
  log "starting PostgreSQL $version"
  pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 30); do
  su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='dalil'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"create role dalil login password 'dalil' createdb\"" >&2
su postgres -c "psql -tAc \"select 1 from pg_database where datname='dalil_ci'\"" | grep -q 1 \
  || su postgres -c "createdb -O dalil dalil_ci" >&2

if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save '' --appendonly no >&2
  for _ in $(seq 1 20); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

echo "export TEST_DATABASE_URL=postgresql://dalil:dalil@127.0.0.1:5432/dalil_ci"
echo "export TEST_REDIS_URL=redis://127.0.0.1:6379/0"
