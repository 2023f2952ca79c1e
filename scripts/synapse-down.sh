#!/usr/bin/env bash
# Stops the Synapse that scripts/synapse-up.sh started for SYNAPSE_DATA.
# `--wipe` also deletes that data dir, so the next start is from scratch.
set -uo pipefail
BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
DATA=${SYNAPSE_DATA:-$BASE/synapse-data}
pidf="$DATA/synapse.pid"
if [ -f "$pidf" ] && pid=$(cat "$pidf") && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then echo "[synapse-down] SIGKILL $pid" >&2; kill -KILL "$pid"; fi
  echo "[synapse-down] stopped pid $pid" >&2
else
  echo "[synapse-down] not running" >&2
fi
rm -f "$pidf"
if [ "${1:-}" = "--wipe" ]; then rm -rf "$DATA"; echo "[synapse-down] wiped $DATA" >&2; fi
