#!/usr/bin/env bash
# Stops the PostgreSQL that scripts/postgres-up.sh started for POSTGRES_DATA
# (pg_ctl stop -m fast: open sessions are ended, then a clean shutdown; an
# immediate one after 30 s). `--wipe` also deletes that data dir (cluster,
# log, remembered port), so the next start is from scratch.
set -uo pipefail
if [ -z "${PODIUM_TEST_SERVERS:-}" ] && [ "$(id -u)" = 0 ]; then
  BASE=/var/tmp/podium-test-servers
else
  BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
fi
DATA=${POSTGRES_DATA:-$BASE/postgres-data}
CLUSTER=$DATA/cluster
log() { echo "[postgres-down] $*" >&2; }

BIN=${POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$BIN/pg_ctl" ] || BIN=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")

if [ -f "$CLUSTER/postmaster.pid" ] && pid=$(head -n 1 "$CLUSTER/postmaster.pid") \
    && kill -0 "$pid" 2>/dev/null; then
  stopped=no
  if [ -x "$BIN/pg_ctl" ]; then
    # pg_ctl refuses root: run it as the cluster's owner.
    owner=$(stat -c %U "$CLUSTER")
    as_owner=(); [ "$(id -u)" = 0 ] && as_owner=(runuser -u "$owner" --)
    ( cd / && "${as_owner[@]}" "$BIN/pg_ctl" stop -D "$CLUSTER" -m fast -w -t 30 -s ) && stopped=yes
  else
    kill -INT "$pid"   # what pg_ctl stop -m fast sends
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null || stopped=yes
  fi
  if [ "$stopped" = no ]; then
    log "immediate shutdown of $pid"
    kill -QUIT "$pid" 2>/dev/null
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
  fi
  log "stopped pid $pid"
else
  log "not running"
fi
if [ "${1:-}" = "--wipe" ]; then rm -rf "$DATA"; log "wiped $DATA"; fi
