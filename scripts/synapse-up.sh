#!/usr/bin/env bash
# Starts a throwaway Matrix homeserver (Synapse) on loopback for Podium's
# tests and benchmarks, and prints its URL on the last line of stdout.
#
#   scripts/synapse-up.sh                 # defaults below
#   SYNAPSE_DATA=/tmp/x SYNAPSE_PORT=0 scripts/synapse-up.sh   # port 0: pick a free one
#   scripts/synapse-up.sh --install-only  # just install Synapse (CI does this first)
#
# - Installs Synapse into a virtualenv outside the clone (reused when present):
#   SYNAPSE_VENV, default ~/.cache/podium/test-servers/synapse-venv.
# - Generates a config once per data dir (SYNAPSE_DATA, default
#   ~/.cache/podium/test-servers/synapse-data): server name `localhost`,
#   127.0.0.1 only, SQLite, registration by shared secret (SYNAPSE_SECRET)
#   and, for test clients, open registration without verification; no
#   federation, no outbound key fetching, no presence.
# - SYNAPSE_RATE_LIMITS=relaxed (default) raises every rate limit so tests
#   are not throttled; `default` keeps Synapse's own limits (the rate-limit
#   test uses those).
# - Starts it in the background (pid in DATA/synapse.pid, log in
#   DATA/stdout.log), waits until /_matrix/client/versions answers.
# - Registers SYNAPSE_USERS ("name:password:admin|user ..."), idempotently.
# - SYNAPSE_PARENT=PID: stop Synapse (and delete SYNAPSE_DATA) once that
#   process has exited, so a test binary's server never outlives it.
# Stop it with scripts/synapse-down.sh (same SYNAPSE_DATA).
set -euo pipefail

BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
VENV=${SYNAPSE_VENV:-$BASE/synapse-venv}
DATA=${SYNAPSE_DATA:-$BASE/synapse-data}
PORT=${SYNAPSE_PORT:-8008}
SECRET=${SYNAPSE_SECRET:-podium-test-shared-secret}
LIMITS=${SYNAPSE_RATE_LIMITS:-relaxed}
USERS=${SYNAPSE_USERS-"admin:adminpass:admin podium:podiumpass:user alice:alicepass:user"}
WAIT_S=${SYNAPSE_WAIT_S:-90}
PY=${PYTHON:-python3}

log() { echo "[synapse-up] $*" >&2; }

# 1. Install once; a half-finished install is redone.
if [ ! -x "$VENV/bin/synapse_homeserver" ] || [ ! -f "$VENV/.podium-complete" ]; then
  log "installing matrix-synapse${SYNAPSE_VERSION:+==$SYNAPSE_VERSION} into $VENV"
  t0=$(date +%s)
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "matrix-synapse${SYNAPSE_VERSION:+==$SYNAPSE_VERSION}"
  touch "$VENV/.podium-complete"
  log "installed in $(( $(date +%s) - t0 ))s: Synapse $("$VENV/bin/python" -c 'import synapse; print(synapse.__version__)')"
fi
if [ "${1:-}" = "--install-only" ]; then exit 0; fi

# 2. A free port when asked for one (0), remembered with the data dir.
mkdir -p "$DATA"
if [ "$PORT" = 0 ]; then
  if [ -f "$DATA/port" ]; then PORT=$(cat "$DATA/port"); else
    PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
fi
echo "$PORT" > "$DATA/port"
URL="http://127.0.0.1:$PORT"

# 3. Config, generated once per data dir, then adjusted.
if [ ! -f "$DATA/homeserver.yaml" ]; then
  log "generating config in $DATA"
  ( cd "$DATA" && "$VENV/bin/python" -m synapse.app.homeserver \
      --server-name localhost --config-path "$DATA/homeserver.yaml" \
      --data-directory "$DATA" --generate-config --report-stats=no >/dev/null )
  sed -i 's/^\(\s*level:\s*\)DEBUG/\1INFO/' "$DATA/localhost.log.config" 2>/dev/null || true
fi
"$VENV/bin/python" - "$DATA" "$PORT" "$SECRET" "$LIMITS" <<'PYEOF'
import sys, yaml
data, port, secret, limits = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
path = f"{data}/homeserver.yaml"
cfg = yaml.safe_load(open(path))
cfg.update({
    "server_name": "localhost",
    "public_baseurl": f"http://127.0.0.1:{port}/",
    "pid_file": f"{data}/homeserver.pid",
    "listeners": [{
        "port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
        "tls": False, "x_forwarded": False,
        "resources": [{"names": ["client"], "compress": False}],
    }],
    "database": {"name": "sqlite3", "args": {"database": f"{data}/homeserver.db"}},
    "media_store_path": f"{data}/media_store",
    "registration_shared_secret": secret,
    # Test clients register themselves; this server only listens on loopback.
    "enable_registration": True,
    "enable_registration_without_verification": True,
    "report_stats": False,
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "federation_domain_whitelist": [],
    "use_presence": False,
    "enable_metrics": False,
    "url_preview_enabled": False,
})
names = ["rc_message", "rc_registration", "rc_registration_token_validity", "rc_login",
         "rc_joins", "rc_joins_per_room", "rc_invites", "rc_3pid_validation",
         "rc_admin_redaction", "rc_key_requests", "rc_third_party_invite", "rc_media_create",
         "rc_presence", "rc_delayed_event_mgmt", "rc_room_creation", "rc_reports",
         "rc_user_directory", "rc_profile"]
for n in names:
    cfg.pop(n, None)
if limits == "relaxed":
    big = {"per_second": 10000, "burst_count": 100000}
    cfg.update({n: big for n in names})
    cfg.update({
        "rc_login": {"address": big, "account": big, "failed_attempts": big},
        "rc_joins": {"local": big, "remote": big},
        "rc_invites": {"per_room": big, "per_user": big, "per_issuer": big},
        "rc_presence": {"per_user": big},
    })
yaml.safe_dump(cfg, open(path, "w"), sort_keys=False)
PYEOF

# 4. Start, unless it is already answering.
if curl -fsS -m 2 "$URL/_matrix/client/versions" >/dev/null 2>&1; then
  log "already answering on $URL"
else
  log "starting Synapse on $URL"
  nohup "$VENV/bin/python" -m synapse.app.homeserver -c "$DATA/homeserver.yaml" \
    > "$DATA/stdout.log" 2>&1 &
  echo $! > "$DATA/synapse.pid"
  t0=$(date +%s%N)
  until curl -fsS -m 2 "$URL/_matrix/client/versions" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$DATA/synapse.pid")" 2>/dev/null; then
      log "Synapse died; the end of $DATA/stdout.log:"; tail -30 "$DATA/stdout.log" >&2; exit 1
    fi
    if (( ($(date +%s%N) - t0) / 1000000000 > WAIT_S )); then log "not answering after ${WAIT_S}s"; exit 1; fi
    sleep 0.1
  done
  log "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(cat "$DATA/synapse.pid"))"
fi

# 5. A watchdog, when asked for: the server goes when its parent does.
if [ -n "${SYNAPSE_PARENT:-}" ]; then
  setsid nohup bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    pid=$(cat "$2/synapse.pid" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    rm -rf "$2"' _ "$SYNAPSE_PARENT" "$DATA" >/dev/null 2>&1 < /dev/null &
fi

# 6. Users, idempotently.
for spec in $USERS; do
  IFS=: read -r name pass kind <<<"$spec"
  flag=--no-admin; [ "$kind" = admin ] && flag=--admin
  if out=$("$VENV/bin/register_new_matrix_user" -u "$name" -p "$pass" $flag -k "$SECRET" "$URL" 2>&1); then
    log "registered @$name:localhost ($kind)"
  elif grep -q 'User ID already taken' <<<"$out"; then
    log "@$name:localhost exists"
  else
    echo "$out" >&2; exit 1
  fi
done
echo "$URL"
