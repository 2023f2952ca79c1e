#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for Podium's tests and
# benchmarks, and prints the URL of Podium's database on stdout, as its one
# line there:
#   postgres://podium:podiumpass@127.0.0.1:PORT/podium
#
#   scripts/postgres-up.sh                  # defaults below
#   POSTGRES_DATA=/tmp/x scripts/postgres-up.sh   # another server, on a port of its own
#   scripts/postgres-up.sh --install-only   # just install PostgreSQL (CI does this first)
#
# - Installs Debian's `postgresql` package (and `python3`, which picks a
#   free port) with apt-get when initdb and pg_ctl are missing. The package
#   makes a cluster of its own ("main", on port 5432) and starts it wherever
#   services may start; when this script has just installed it, it stops
#   that cluster and turns off its start at boot: every server here is a
#   cluster of the script's own, and nothing needs Debian's.
# - The binaries (initdb, pg_ctl, psql): POSTGRES_BIN if given, else the
#   newest /usr/lib/postgresql/*/bin, else the ones on PATH.
# - PostgreSQL refuses to run as root: as root, the cluster belongs to the
#   `postgres` system user (the package makes it; created here when
#   missing), and the server runs as that user, which must be able to enter
#   the data dir (a dir under a private home such as /root is refused with
#   an explanation).
# - Data dir POSTGRES_DATA, default ~/.cache/podium/test-servers/postgres-data
#   (or $PODIUM_TEST_SERVERS/postgres-data; as root without
#   PODIUM_TEST_SERVERS, /var/tmp/podium-test-servers/postgres-data, which
#   the `postgres` user can reach): `cluster/` (initdb's, made once, C
#   locale, UTF-8), `postgres.log`, `port`, `superuser-password` (the
#   superuser `postgres`, random, readable by the caller only).
# - POSTGRES_PORT: 0 (default) picks a free port, remembered in the data
#   dir so a restart comes back on it. TCP on 127.0.0.1 only; no Unix socket.
# - POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB (podium, podiumpass,
#   podium; letters, digits, `_`, and for the password also `.~-`, so the
#   URL needs no escaping): a role that logs in with its password and may
#   create databases (the tests make one per test), and a database it
#   owns. Made at each start if missing, the password set again.
#   pg_hba.conf allows one thing: SCRAM-SHA-256 passwords over TCP from
#   127.0.0.1.
# - For speed, fsync=off and full_page_writes=off: a commit is written to
#   the OS (synchronous_commit stays on), not flushed to disk. A server
#   that is killed (even kill -9) loses nothing it acknowledged; only a
#   machine crash or power loss could, and these clusters are thrown away.
#   POSTGRES_FSYNC=on turns both back on (figures meant to hold on a real
#   server).
# - max_connections 200 (test binaries run their tests in parallel, each
#   with a pool), TimeZone UTC.
# - Starts it with pg_ctl (`postgres.log`), waits until it accepts
#   connections: ready about 0.1 s after pg_ctl starts it; the first
#   start, initdb included, takes under a second.
# - POSTGRES_PARENT=PID: stop the server (and delete POSTGRES_DATA) once
#   that process has exited, so a test binary's server never outlives it.
# Stop it with scripts/postgres-down.sh (same POSTGRES_DATA).
set -euo pipefail

if [ -z "${PODIUM_TEST_SERVERS:-}" ] && [ "$(id -u)" = 0 ]; then
  BASE=/var/tmp/podium-test-servers
else
  BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
fi
DATA=${POSTGRES_DATA:-$BASE/postgres-data}
PORT=${POSTGRES_PORT:-0}
USER_NAME=${POSTGRES_USER:-podium}
PASSWORD=${POSTGRES_PASSWORD:-podiumpass}
DB=${POSTGRES_DB:-podium}
FSYNC=${POSTGRES_FSYNC:-off}
WAIT_S=${POSTGRES_WAIT_S:-60}
PY=${PYTHON:-python3}

log() { echo "[postgres-up] $*" >&2; }

find_bin() {
  if [ -n "${POSTGRES_BIN:-}" ]; then echo "$POSTGRES_BIN"; return; fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return
  fi
  echo ""
}

# 1. Install what is missing; Debian's own cluster is not left running.
BIN=$(find_bin)
need=()
[ -n "$BIN" ] && [ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ] || need+=(postgresql)
command -v "$PY" >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  t0=$(date +%s)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  if [[ " ${need[*]} " == *" postgresql "* ]]; then
    # postgresql-common made and started a "main" cluster where it could.
    if [ -d /run/systemd/system ]; then
      systemctl disable --now postgresql >/dev/null 2>&1 || true
    else
      update-rc.d postgresql disable >/dev/null 2>&1 || true
    fi
    if command -v pg_lsclusters >/dev/null 2>&1; then
      pg_lsclusters -h 2>/dev/null | while read -r ver name _port status _rest; do
        if [ "$status" = online ]; then
          log "stopping the cluster the package started ($ver/$name)"
          pg_ctlcluster "$ver" "$name" stop -m fast >/dev/null 2>&1 || true
        fi
      done
    fi
    BIN=$(find_bin)
  fi
  [ -n "$BIN" ] && [ -x "$BIN/initdb" ] || { log "no initdb after installing postgresql"; exit 1; }
  log "installed in $(( $(date +%s) - t0 ))s: $("$BIN/postgres" --version)"
fi
if [ "${1:-}" = "--install-only" ]; then exit 0; fi

[[ "$USER_NAME" =~ ^[a-z_][a-z0-9_]*$ ]] || { log "POSTGRES_USER: lowercase letters, digits and _"; exit 2; }
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { log "POSTGRES_DB: lowercase letters, digits and _"; exit 2; }
[[ "$PASSWORD" =~ ^[A-Za-z0-9._~-]+$ ]] || { log "POSTGRES_PASSWORD: letters, digits and ._~-"; exit 2; }
case "$FSYNC" in on|off) ;; *) log "POSTGRES_FSYNC: on or off"; exit 2 ;; esac

# 2. Who runs it: the caller, or `postgres` when the caller is root.
if [ "$(id -u)" = 0 ]; then
  OWNER=postgres
  if ! id -u "$OWNER" >/dev/null 2>&1; then
    log "creating the system user $OWNER"
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
      --shell /usr/sbin/nologin "$OWNER"
  fi
  as_owner() { runuser -u "$OWNER" -- "$@"; }
else
  OWNER=$(id -un)
  as_owner() { "$@"; }
fi
mkdir -p -m 755 "$DATA"
DATA=$(cd "$DATA" && pwd)
CLUSTER=$DATA/cluster
if ! as_owner test -x "$DATA"; then
  log "the server runs as $OWNER (PostgreSQL refuses root), who cannot enter $DATA"
  log "(a parent directory is private): choose a POSTGRES_DATA it can reach, such as /var/tmp/podium-postgres"
  exit 1
fi
# The owner's processes must not start in a directory they cannot read.
cd "$DATA"

running() { [ -f "$CLUSTER/postmaster.pid" ] && as_owner "$BIN/pg_ctl" status -D "$CLUSTER" >/dev/null 2>&1; }

# 3. A free port when asked for one (0), remembered with the data dir; a
# server already running keeps its port, whatever was asked for now.
if running && [ -f "$DATA/port" ]; then
  PORT=$(cat "$DATA/port")
elif [ "$PORT" = 0 ]; then
  if [ -f "$DATA/port" ]; then PORT=$(cat "$DATA/port"); else
    PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
fi
echo "$PORT" > "$DATA/port"

# 4. The cluster, made once; a half-made one is made again.
SUPW_FILE=$DATA/superuser-password
if [ ! -f "$CLUSTER/.podium-complete" ]; then
  rm -rf "$CLUSTER"
  ( umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$SUPW_FILE" )
  mkdir -m 700 "$CLUSTER"
  # initdb reads it as the owner; not in the cluster dir, which must be empty.
  ( umask 077; cp "$SUPW_FILE" "$DATA/.pwfile" )
  chown "$OWNER" "$CLUSTER" "$DATA/.pwfile"
  log "initdb in $CLUSTER (as $OWNER, $("$BIN/postgres" --version))"
  # -N: no flushing to disk here either; --no-locale: byte order, C messages.
  if ! as_owner "$BIN/initdb" -D "$CLUSTER" -U postgres --pwfile="$DATA/.pwfile" \
      --auth=scram-sha-256 --encoding=UTF8 --no-locale -N --no-instructions \
      > "$DATA/initdb.log" 2>&1; then
    log "initdb failed:"; cat "$DATA/initdb.log" >&2; exit 1
  fi
  rm -f "$DATA/.pwfile"
  echo "include 'podium.conf'" >> "$CLUSTER/postgresql.conf"
  touch "$CLUSTER/.podium-complete"
fi

# 5. Settings and access, rewritten at each start.
fs=off; [ "$FSYNC" = on ] && fs=on
cat > "$CLUSTER/podium.conf" <<EOF
# Written by scripts/postgres-up.sh at each start (POSTGRES_FSYNC=$FSYNC).
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
max_connections = 200
# Off for test speed: commits reach the OS, not the disk; only a machine
# crash could lose them. synchronous_commit stays on, so a killed server
# loses nothing it acknowledged.
fsync = $fs
full_page_writes = $fs
timezone = 'UTC'
log_timezone = 'UTC'
EOF
cat > "$CLUSTER/pg_hba.conf" <<EOF
# Written by scripts/postgres-up.sh: passwords (SCRAM) over TCP from 127.0.0.1, nothing else.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
EOF
touch "$DATA/postgres.log"
chown "$OWNER" "$CLUSTER/podium.conf" "$CLUSTER/pg_hba.conf" "$DATA/postgres.log"

# 6. Start, unless it is already running.
if running; then
  log "already running on 127.0.0.1:$PORT (pid $(head -n 1 "$CLUSTER/postmaster.pid"))"
  as_owner "$BIN/pg_ctl" reload -D "$CLUSTER" -s >/dev/null
else
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    log "something else listens on 127.0.0.1:$PORT"; exit 1
  fi
  log "starting PostgreSQL on 127.0.0.1:$PORT"
  t0=$(date +%s%N)
  # -w: back once the server accepts connections (its pid file says so).
  if ! as_owner "$BIN/pg_ctl" start -D "$CLUSTER" -l "$DATA/postgres.log" -w -t "$WAIT_S" -s >&2; then
    log "PostgreSQL did not start; the end of $DATA/postgres.log:"; tail -30 "$DATA/postgres.log" >&2; exit 1
  fi
  log "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(head -n 1 "$CLUSTER/postmaster.pid"))"
fi

# 7. A watchdog, when asked for: the server goes when its parent does.
if [ -n "${POSTGRES_PARENT:-}" ]; then
  setsid nohup bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    # SIGINT: a fast shutdown (pg_ctl stop -m fast); SIGQUIT: immediate.
    if pid=$(head -n 1 "$2/cluster/postmaster.pid" 2>/dev/null); then
      kill -INT "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -QUIT "$pid" 2>/dev/null
      for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$2"' _ "$POSTGRES_PARENT" "$DATA" >/dev/null 2>&1 < /dev/null &
fi

# 8. Podium's role and database, idempotently.
PGPASSWORD=$(cat "$SUPW_FILE") "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
  -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
  -v user="$USER_NAME" -v password="$PASSWORD" -v db="$DB" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" LOGIN CREATEDB PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

echo "postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB"
