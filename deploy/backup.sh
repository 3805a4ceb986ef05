#!/usr/bin/env bash
# Back up Dalil's data: a pg_dump of the PostgreSQL database (gateway tables and Rasa's tracker
# store live in the same one), or consistent copies of the SQLite files under var/ (safe while
# Dalil runs). Old backups are deleted after BACKUP_KEEP_DAYS days (default RETENTION_DAYS, else
# 30), so what "forget me" and retention delete also leaves the backups within that time.
#
#   BACKUP_DIR        where backups go                 (default /var/lib/dalil/backups)
#   DATABASE_URL      as for Dalil; unset or sqlite:  copy var/*.db
#   TRACKER_DATABASE_URL  dumped too when it names another PostgreSQL database
#   DALIL_HOME, DALIL_VAR_DIR, BACKUP_KEEP_DAYS, RETENTION_DAYS
#
# Backups hold personal data: keep BACKUP_DIR private and encrypt any copy that leaves the host.
set -euo pipefail

home=${DALIL_HOME:-/opt/dalil}
var_dir=${DALIL_VAR_DIR:-$home/var}
dest=${BACKUP_DIR:-/var/lib/dalil/backups}
keep=${BACKUP_KEEP_DAYS:-${RETENTION_DAYS:-30}}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
python=$home/.venv/bin/python
[ -x "$python" ] || python=python3

umask 077
mkdir -p "$dest"

# libpq understands postgresql://user:pass@host:port/db, not SQLAlchemy's +driver suffix.
libpq_url() {
  local url=$1
  case "$url" in
    postgresql+*://*) echo "postgresql://${url#*://}" ;;
    postgres+*://*) echo "postgresql://${url#*://}" ;;
    *) echo "$url" ;;
  esac
}

dump_postgres() {
  local url name=$2
  url=$(libpq_url "$1")
  pg_dump --format=custom --no-owner --no-privileges --file="$dest/.$name.partial" "$url"
  mv "$dest/.$name.partial" "$dest/$name"
  echo "backup: $dest/$name"
}

copy_sqlite() {
  local target=$dest/dalil-$stamp
  mkdir -p "$target"
  local db found=0
  for db in "$var_dir"/*.db; do
    [ -e "$db" ] || continue
    found=1
    # sqlite3's online backup: a consistent copy even while the gateway and Rasa write (WAL).
    "$python" - "$db" "$target/$(basename "$db")" <<'PY'
import sqlite3, sys
source, target = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with target:
    source.backup(target)
source.close()
target.close()
PY
  done
  # Without DALIL_SECRET_KEY in the environment, the pseudonym key lives here.
  if [ -f "$var_dir/secret-key" ]; then
    cp "$var_dir/secret-key" "$target/secret-key"
  fi
  if [ "$found" = 0 ]; then
    echo "backup: no SQLite database in $var_dir" >&2
    rmdir "$target"
    return 1
  fi
  echo "backup: $target"
}

url=${DATABASE_URL:-}
case "$url" in
  postgres*)
    dump_postgres "$url" "dalil-$stamp.dump"
    tracker=${TRACKER_DATABASE_URL:-}
    if [ -n "$tracker" ] && [ "$tracker" != "$url" ]; then
      case "$tracker" in
        postgres*) dump_postgres "$tracker" "dalil-tracker-$stamp.dump" ;;
      esac
    fi
    ;;
  "" | sqlite*)
    copy_sqlite
    ;;
  *)
    echo "backup: DATABASE_URL of an unsupported kind: ${url%%:*}" >&2
    exit 2
    ;;
esac

# Retention of the backups themselves.
find "$dest" -mindepth 1 -maxdepth 1 -name 'dalil-*' -mtime +"$keep" -exec rm -rf -- {} +
