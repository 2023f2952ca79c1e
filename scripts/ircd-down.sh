#!/usr/bin/env bash
# Stops the InspIRCd that scripts/ircd-up.sh started for IRCD_DATA (TERM,
# then KILL after 5 s). `--wipe` also deletes that data dir (config,
# certificate, logs, remembered ports), so the next start is from scratch.
set -uo pipefail
BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
DATA=${IRCD_DATA:-$BASE/ircd-data}
pidf="$DATA/inspircd.pid"
if [ -f "$pidf" ] && pid=$(cat "$pidf") && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "[ircd-down] SIGKILL $pid" >&2; kill -KILL "$pid"; fi
  echo "[ircd-down] stopped pid $pid" >&2
else
  echo "[ircd-down] not running" >&2
fi
rm -f "$pidf"
if [ "${1:-}" = "--wipe" ]; then rm -rf "$DATA"; echo "[ircd-down] wiped $DATA" >&2; fi
