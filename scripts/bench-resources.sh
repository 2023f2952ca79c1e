#!/usr/bin/env bash
# Benchmark: Podium's resources next to a maubot instance with one plugin,
# on the same local Synapse, in one run (issue 20). Loopback only.
#
#   scripts/bench-resources.sh
#   ROOMS=100 IDLE_S=120 ANSWERS=10000 BACKENDS="sqlite postgres" scripts/bench-resources.sh
#
# What it does, in order (results: docs/benchmarks.md):
# 1. Builds the release `podium` (cargo build --release; CARGO_TARGET_DIR is
#    honoured) and installs maubot from PyPI into its own virtualenv outside
#    the clone, reused when present: MAUBOT_VENV, default `maubot-venv` in
#    the test servers' directory of scripts/synapse-up.sh, beside Synapse's
#    (MAUBOT_VERSION pins the version).
# 2. Starts a Synapse of its own (scripts/synapse-up.sh: SQLite, loopback,
#    relaxed rate limits, a data dir in the run's temporary directory),
#    registers @reshost, @respodium and @resmaubot; the host creates ROOMS
#    public rooms (#res0..:localhost) and both bots join every one
#    (scripts/bench-resources.py rooms).
# 3. maubot: a config of its own (SQLite database, management API on a free
#    loopback port, an `admin` user, INFO logging to a file, no end-to-end
#    encryption: python-olm is not installed), started once to set it up
#    through its management API: the plugin scripts/maubot-ping (zipped into
#    an .mbp here; it answers `!ping` with `pong`) is uploaded, a client is
#    added for @resmaubot with an access token from a password login, and
#    one instance of the plugin is created on it. Then it is stopped and its
#    client's sync position (`next_batch`) cleared, so that its measured
#    start, like Podium's, begins with an initial sync of the ROOMS rooms.
# 4. Podium: `podium run` (release) on a fresh data dir, RUST_LOG unset (its
#    production log filter), with a schedule of one debate per room starting
#    tomorrow, so it joins (already a member) every room and idles; web
#    pages on a free loopback port.
# 5. Start-up: from the instant each process is started to Synapse's answer
#    to that bot's first /sync (an initial sync of all its rooms), read from
#    Synapse's access log, the same observer for both. Podium is started
#    first and maubot once Podium is synced, so they do not compete. Podium
#    first logs in with its password and asks to join each scheduled room;
#    maubot checks its stored access token (/versions, /whoami).
#    Then, after the idle figures, each is restarted on its saved state
#    (session, rooms, sync position): from the start to the instant Synapse
#    received its first /sync (a long poll, held until it times out: the
#    access log gives when it was answered and how long it was held).
# 6. Idle: SETTLE_S (10 s) after both have synced, the CPU time (utime +
#    stime from /proc/PID/stat, the process and any descendants) each uses
#    over IDLE_S seconds, then VmRSS and VmHWM (/proc/PID/status, summed
#    over the process and its descendants).
# 7. Binary size: the release binary as built and stripped (strip -o on a
#    copy); the anchor is maubot's virtualenv on disk (du -sb: maubot, its
#    dependencies and pip; the Python interpreter and standard library it
#    needs are not counted).
# 8. Database per 1,000 answers: `podium rehearse` of a one-question debate
#    with ANSWERS answers piped in (`speakerN: text`, 20 speakers, the bodies
#    of benches/replies.rs), waited for until all are stored, then the
#    rehearsal is stopped (SIGTERM) and the database measured: SQLite,
#    podium.db + podium.db-wal after `PRAGMA wal_checkpoint(TRUNCATE)`;
#    PostgreSQL (scripts/postgres-up.sh, a server of this run's own), the
#    sum of pg_total_relation_size over the public schema's tables. The
#    same with no answers is subtracted. The anchor is the answers' raw
#    text: the bytes of their names and bodies.
# Prints a table with each figure, its anchor and the ratio.
#
# Environment: ROOMS (100), IDLE_S (120), SETTLE_S (10), ANSWERS (10000),
# BACKENDS ("sqlite postgres"), MAUBOT_VENV, MAUBOT_VERSION, KEEP=1 (keep
# the run's temporary directory and say where it is), PODIUM_BIN (a binary
# to measure instead of building the release one).
# Needs python3, curl, strip, sqlite3 (and PostgreSQL's binaries for the
# postgres backend: scripts/postgres-up.sh installs them with apt-get).
# Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

ROOMS=${ROOMS:-100}
IDLE_S=${IDLE_S:-120}
SETTLE_S=${SETTLE_S:-10}
ANSWERS=${ANSWERS:-10000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
MAUBOT_VENV=${MAUBOT_VENV:-$BASE/maubot-venv}
PY=${PYTHON:-python3}
helper=("$PY" "$repo/scripts/bench-resources.py")

log() { echo "[bench-resources] $*" >&2; }
die() { echo "[bench-resources] error: $*" >&2; exit 1; }

for tool in curl strip sqlite3 "$PY"; do
  command -v "$tool" >/dev/null || die "$tool is needed (apt-get install curl binutils sqlite3 python3)"
done

work=$(mktemp -d -t podium-resources.XXXXXX)
pg_data=""
started=()   # pids of the processes this script started

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  log "pid $pid still running after 10 s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  for pid in "${started[@]}"; do stop_pid "$pid"; done
  SYNAPSE_DATA="$work/synapse" scripts/synapse-down.sh >/dev/null 2>&1
  [ -n "$pg_data" ] && POSTGRES_DATA="$pg_data" scripts/postgres-down.sh --wipe >/dev/null 2>&1
  if [ "${KEEP:-}" = 1 ] || [ "$rc" != 0 ]; then
    log "the run's files (logs, configs, databases) are in $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# The process and its descendants (maubot may start helpers; Podium does not).
tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree "$child"; done
}
# CPU seconds (utime + stime) of a process tree.
cpu_s() {
  local total=0 pid f
  for pid in $(tree "$1"); do
    # Fields after the command's closing parenthesis: utime is the 12th.
    f=$(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null) || continue
    set -- $f
    total=$(( total + ${12} + ${13} ))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
# "RSS HWM" in MiB, summed over a process tree.
memory_mib() {
  local pid rss=0 hwm=0 a b
  for pid in $(tree "$1"); do
    a=$(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
    b=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
    rss=$(( rss + ${a:-0} )); hwm=$(( hwm + ${b:-0} ))
  done
  awk -v r="$rss" -v h="$hwm" 'BEGIN { printf "%.1f %.1f", r / 1024, h / 1024 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# 1. Build and install ---------------------------------------------------
if [ -n "${PODIUM_BIN:-}" ]; then
  bin=$PODIUM_BIN
else
  log "building the release binary"
  cargo build --release --quiet --bin podium
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/podium"
fi
[ -x "$bin" ] || die "no podium binary at $bin"

if [ ! -x "$MAUBOT_VENV/bin/python" ] || [ ! -f "$MAUBOT_VENV/.podium-complete" ]; then
  log "installing maubot${MAUBOT_VERSION:+==$MAUBOT_VERSION} from PyPI into $MAUBOT_VENV"
  rm -rf "$MAUBOT_VENV"
  "$PY" -m venv "$MAUBOT_VENV"
  "$MAUBOT_VENV/bin/pip" install -q --upgrade pip
  "$MAUBOT_VENV/bin/pip" install -q "maubot${MAUBOT_VERSION:+==$MAUBOT_VERSION}"
  touch "$MAUBOT_VENV/.podium-complete"
fi
maubot_version=$("$MAUBOT_VENV/bin/python" -c 'import maubot; print(maubot.__version__)')
mautrix_version=$("$MAUBOT_VENV/bin/python" -c 'import mautrix; print(mautrix.__version__)')
python_version=$("$MAUBOT_VENV/bin/python" -c 'import platform; print(platform.python_version())')

# 2. Synapse, users, rooms ------------------------------------------------
log "starting Synapse"
hs=$(SYNAPSE_DATA="$work/synapse" SYNAPSE_PORT=0 SYNAPSE_PARENT=$$ \
  SYNAPSE_USERS="reshost:reshostpass:user respodium:respodiumpass:user resmaubot:resmaubotpass:user" \
  scripts/synapse-up.sh | tail -n 1) || die "Synapse did not start (see above)"
access_log="$work/synapse/homeserver.log"
t=$(now)
"${helper[@]}" rooms "$hs" "$ROOMS" "$work/rooms.txt"
log "$ROOMS rooms created, both bots joined, in $(awk -v a="$t" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"

# 3. maubot, set up through its API --------------------------------------
mb="$work/maubot"
mkdir -p "$mb/plugins"
mb_port=$(free_port)
cat > "$mb/config.yaml" <<EOF
database: sqlite:$mb/maubot.db
plugin_directories:
  upload: $mb/plugins
  load: [$mb/plugins]
  trash: delete
plugin_databases:
  sqlite: $mb/plugins
server:
  hostname: 127.0.0.1
  port: $mb_port
  public_url: http://127.0.0.1:$mb_port
  unshared_secret: generate
homeservers: {}
admins:
  root: ""
  admin: adminpass
logging:
  version: 1
  formatters:
    normal:
      format: "[%(asctime)s] [%(levelname)s@%(name)s] %(message)s"
  handlers:
    file:
      class: logging.FileHandler
      formatter: normal
      filename: $mb/maubot.log
  root:
    level: INFO
    handlers: [file]
EOF
(cd scripts/maubot-ping && "$PY" -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.write("maubot.yaml"); z.write("ping.py")' "$mb/ping.mbp")

start_maubot() {
  ( cd "$mb" && exec "$MAUBOT_VENV/bin/python" -m maubot -c "$mb/config.yaml" ) \
    >> "$mb/stdout.log" 2>&1 &
  maubot_pid=$!
  started+=("$maubot_pid")
}
wait_maubot_api() {
  local code
  for _ in $(seq 1 600); do
    # Any HTTP answer will do (without a token it is 401).
    code=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' \
      "http://127.0.0.1:$mb_port/_matrix/maubot/v1/version" 2>/dev/null || true)
    [ "${code:-000}" != 000 ] && return 0
    kill -0 "$maubot_pid" 2>/dev/null || { tail -20 "$mb/stdout.log" "$mb/maubot.log" >&2; die "maubot died"; }
    sleep 0.1
  done
  die "maubot's API did not answer in 60 s"
}

log "setting maubot up (plugin, client, instance)"
start_maubot
wait_maubot_api
mb_token=$("${helper[@]}" login "$hs" resmaubot resmaubotpass MAUBOT)
"${helper[@]}" maubot-setup "http://127.0.0.1:$mb_port" "$mb/ping.mbp" "$hs" "$mb_token" MAUBOT
for _ in $(seq 1 300); do
  grep -q "Started instance of" "$mb/maubot.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "Started instance of" "$mb/maubot.log" || die "maubot's plugin instance did not start; see $mb/maubot.log"
stop_pid "$maubot_pid"
sqlite3 "$mb/maubot.db" "UPDATE client SET next_batch = ''"

# 4. Podium ---------------------------------------------------------------
pd="$work/podium"
mkdir -p "$pd"
"${helper[@]}" schedule "$ROOMS" "$(date -u -d tomorrow '+%Y-%m-%d %H:00')" "$work/rooms.txt" \
  > "$pd/debates.yaml"
"$bin" check "$pd/debates.yaml" >/dev/null 2>&1 || die "the generated schedule does not check: $pd/debates.yaml"
web_port=$(free_port)

start_podium() {
  env -u RUST_LOG PODIUM_SCHEDULE="$pd/debates.yaml" PODIUM_DATA_DIR="$pd/data" \
    PODIUM_WEB_ADDR="127.0.0.1:$web_port" PODIUM_PUBLIC_URL="http://127.0.0.1:$web_port" \
    PODIUM_MATRIX_HOMESERVER="$hs" PODIUM_MATRIX_USER=@respodium:localhost \
    PODIUM_MATRIX_PASSWORD=respodiumpass "$bin" run 2> "$1" &
  podium_pid=$!
  started+=("$podium_pid")
}

log "starting podium run"
t_podium=$(now)
start_podium "$pd/podium.log"

# Waits for WHO's first /sync in Synapse's access log; sets sync_start/sync_end.
wait_first_sync() {
  local user=$1 since=$2 pid=$3 out
  for _ in $(seq 1 1200); do
    if out=$("${helper[@]}" first-sync "$access_log" "$user" "$since" 2>/dev/null); then
      read -r sync_start sync_end <<<"$out"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || die "$user's process died before its first sync"
    sleep 0.1
  done
  die "no /sync of $user answered within 120 s"
}
wait_first_sync @respodium:localhost "$t_podium" "$podium_pid"
podium_startup=$(awk -v a="$t_podium" -v b="$sync_end" 'BEGIN{printf "%.2f", b-a}')
podium_sync_sent=$(awk -v a="$t_podium" -v b="$sync_start" 'BEGIN{printf "%.2f", b-a}')
for _ in $(seq 1 600); do
  grep -q "syncing with the homeserver" "$pd/podium.log" && break
  sleep 0.1
done
joined=$(grep -c " joined" "$pd/podium.log" || true)
[ "$joined" = "$ROOMS" ] || die "podium joined $joined of $ROOMS rooms; see $pd/podium.log"
# Podium's own account of its start, from its log's timestamps.
since_podium() { awk -v a="$t_podium" -v b="$(date -d "$1" +%s.%N)" 'BEGIN{printf "%.2f", b-a}'; }
podium_logged_in=$(since_podium "$(grep -m1 " logged in " "$pd/podium.log" | cut -d' ' -f1)")
podium_last_join=$(since_podium "$(grep " joined " "$pd/podium.log" | tail -n 1 | cut -d' ' -f1)")
podium_syncing=$(since_podium "$(grep -m1 "syncing with the homeserver" "$pd/podium.log" | cut -d' ' -f1)")
log "podium: first /sync answered $podium_startup s after its start"

log "starting maubot"
t_maubot=$(now)
start_maubot
wait_first_sync @resmaubot:localhost "$t_maubot" "$maubot_pid"
maubot_startup=$(awk -v a="$t_maubot" -v b="$sync_end" 'BEGIN{printf "%.2f", b-a}')
maubot_sync_sent=$(awk -v a="$t_maubot" -v b="$sync_start" 'BEGIN{printf "%.2f", b-a}')
log "maubot: first /sync answered $maubot_startup s after its start"

# 6. Idle -----------------------------------------------------------------
log "settling ${SETTLE_S} s, then measuring ${IDLE_S} s idle"
sleep "$SETTLE_S"
p0=$(cpu_s "$podium_pid"); m0=$(cpu_s "$maubot_pid")
sleep "$IDLE_S"
p1=$(cpu_s "$podium_pid"); m1=$(cpu_s "$maubot_pid")
read -r p_rss p_hwm <<<"$(memory_mib "$podium_pid")"
read -r m_rss m_hwm <<<"$(memory_mib "$maubot_pid")"
m_procs=$(tree "$maubot_pid" | wc -l)
p_cpu=$(awk -v a="$p0" -v b="$p1" 'BEGIN{printf "%.2f", b-a}')
m_cpu=$(awk -v a="$m0" -v b="$m1" 'BEGIN{printf "%.2f", b-a}')
p_total=$p1; m_total=$m1
kill -0 "$podium_pid" 2>/dev/null || die "podium exited while idle"
kill -0 "$maubot_pid" 2>/dev/null || die "maubot exited while idle"
stop_pid "$podium_pid"; stop_pid "$maubot_pid"

# Restarts: each resumes its saved session and sync position, so its first
# /sync is a long poll that Synapse answers only when it times out (30 s);
# the figure is when Synapse received it (the answer's time minus the
# time it was held), one bot after the other.
log "restarting podium, then maubot (each first /sync is a 30 s long poll)"
t=$(now)
start_podium "$pd/podium-restart.log"
wait_first_sync @respodium:localhost "$t" "$podium_pid"
podium_restart=$(awk -v a="$t" -v b="$sync_start" 'BEGIN{printf "%.2f", b-a}')
stop_pid "$podium_pid"
t=$(now)
start_maubot
wait_first_sync @resmaubot:localhost "$t" "$maubot_pid"
maubot_restart=$(awk -v a="$t" -v b="$sync_start" 'BEGIN{printf "%.2f", b-a}')
stop_pid "$maubot_pid"

# 7. Binary size ----------------------------------------------------------
bin_size=$(stat -c %s "$bin")
strip -o "$work/podium.stripped" "$bin"
stripped_size=$(stat -c %s "$work/podium.stripped")
venv_size=$(du -sb "$MAUBOT_VENV" | cut -f1)
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b / 1048576}'; }

# 8. Database per 1,000 answers -----------------------------------------
cat > "$work/rehearse.yaml" <<'EOF'
timezone: UTC
debates:
  - id: sizes
    rooms: ["#sizes:example.org"]
    title: Database sizes
    starts: 2030-01-01 20:00
    duration: 10h
    remind: []
    questions: ["What should the store keep?"]
EOF
"${helper[@]}" answers "$ANSWERS" > "$work/answers.txt" 2> "$work/answers.raw"
raw_bytes=$(cat "$work/answers.raw")

# Rehearses with N answers on BACKEND (URL for postgres); sets `size` to the
# database's bytes. Not run in a subshell, so that the cleanup knows its pid.
rehearse_size() {
  local n=$1 backend=$2 url=${3:-} dir="$work/rehearse-$1-$2" stored=0 pid
  mkdir -p "$dir"
  mkfifo "$dir/in"
  local env=(PODIUM_DATA_DIR="$dir/data")
  [ "$backend" = postgres ] && env+=(PODIUM_DATABASE_URL="$url")
  env -u RUST_LOG "${env[@]}" "$bin" rehearse sizes --speed 1 --file "$work/rehearse.yaml" \
    < "$dir/in" > "$dir/out" 2> "$dir/err" &
  pid=$!
  started+=("$pid")
  exec 3> "$dir/in"
  for _ in $(seq 1 600); do
    grep -q "What should the store keep" "$dir/out" && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/err" >&2; die "podium rehearse exited"; }
    sleep 0.1
  done
  grep -q "What should the store keep" "$dir/out" || die "the rehearsal did not ask its question; see $dir"
  head -n "$n" "$work/answers.txt" >&3
  for _ in $(seq 1 1200); do
    if [ "$backend" = sqlite ]; then
      stored=$(sqlite3 -readonly "file:$dir/data/podium.db?mode=ro" "SELECT count(*) FROM replies" 2>/dev/null || echo 0)
    else
      stored=$(psql "$url" -Atc "SELECT count(*) FROM replies" 2>/dev/null || echo 0)
    fi
    [ "$stored" -ge "$n" ] && break
    sleep 0.5
  done
  [ "$stored" -ge "$n" ] || die "$stored of $n answers stored on $backend; see $dir"
  stop_pid "$pid"
  exec 3>&-
  if [ "$backend" = sqlite ]; then
    sqlite3 "$dir/data/podium.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    local wal=0
    [ -f "$dir/data/podium.db-wal" ] && wal=$(stat -c %s "$dir/data/podium.db-wal")
    size=$(( $(stat -c %s "$dir/data/podium.db") + wal ))
  else
    size=$(psql "$url" -Atc "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm', 'p')")
  fi
}

declare -A db_delta db_size
for backend in $BACKENDS; do
  case "$backend" in
    sqlite)
      log "database size: rehearsals with 0 and $ANSWERS answers on SQLite"
      rehearse_size 0 sqlite; empty=$size
      rehearse_size "$ANSWERS" sqlite; full=$size ;;
    postgres)
      log "database size: rehearsals with 0 and $ANSWERS answers on PostgreSQL"
      pg_data=/var/tmp/podium-resources-pg.$$
      pg_url=$(POSTGRES_DATA="$pg_data" POSTGRES_PARENT=$$ scripts/postgres-up.sh | tail -n 1) \
        || die "PostgreSQL did not start (see above)"
      for db in res_empty res_full; do psql "$pg_url" -qc "CREATE DATABASE $db" ; done
      rehearse_size 0 postgres "${pg_url%/*}/res_empty"; empty=$size
      rehearse_size "$ANSWERS" postgres "${pg_url%/*}/res_full"; full=$size ;;
    *) die "BACKENDS: sqlite and/or postgres" ;;
  esac
  db_delta[$backend]=$(( full - empty ))
  db_size[$backend]="$empty $full"
done

# Report ------------------------------------------------------------------
per_k() { awk -v b="$1" -v n="$ANSWERS" 'BEGIN{printf "%.0f", b * 1000 / n}'; }
raw_k=$(per_k "$raw_bytes")
cat <<EOF

Resources next to maubot ($(date -u '+%Y-%m-%d'), $(nproc) cores, $(uname -m)):
$("$bin" --version 2>/dev/null | head -n 1)${PODIUM_BIN:+ ($PODIUM_BIN)}; maubot $maubot_version
(mautrix $mautrix_version, Python $python_version) with one plugin
(org.podium.bench.ping), SQLite; Synapse $("$BASE/synapse-venv/bin/python" -c 'import synapse; print(synapse.__version__)' 2>/dev/null || echo '?'), $ROOMS rooms.

| figure | Podium | anchor | Podium / anchor |
|---|---|---|---|
| start-up to first /sync answered (s) | $podium_startup | maubot $maubot_startup | $(ratio "$podium_startup" "$maubot_startup") |
| restart to first /sync received (s) | $podium_restart | maubot $maubot_restart | $(ratio "$podium_restart" "$maubot_restart") |
| VmRSS idle in $ROOMS rooms (MiB) | $p_rss | maubot $m_rss | $(ratio "$p_rss" "$m_rss") |
| VmHWM (MiB) | $p_hwm | maubot $m_hwm | $(ratio "$p_hwm" "$m_hwm") |
| CPU idle over ${IDLE_S} s (s) | $p_cpu | maubot $m_cpu | $(ratio "$p_cpu" "$m_cpu") |
| CPU since start (s) | $p_total | maubot $m_total | $(ratio "$p_total" "$m_total") |
| binary (MiB) | $(mib "$bin_size") | maubot's virtualenv $(mib "$venv_size") | $(ratio "$bin_size" "$venv_size") |
| binary, stripped (MiB) | $(mib "$stripped_size") | maubot's virtualenv $(mib "$venv_size") | $(ratio "$stripped_size" "$venv_size") |
EOF
for backend in $BACKENDS; do
  read -r e f <<<"${db_size[$backend]}"
  echo "| database per 1,000 answers, $backend (bytes) | $(per_k "${db_delta[$backend]}") | raw text $raw_k | $(ratio "${db_delta[$backend]}" "$raw_bytes") |"
done
cat <<EOF

Start-up detail: the first /sync was sent $podium_sync_sent s (Podium) and
$maubot_sync_sent s (maubot) after the start. Podium's log: logged in at
+$podium_logged_in s, last room joined at +$podium_last_join s, "syncing with the
homeserver" at +$podium_syncing s. maubot ran as $m_procs process(es).
CPU figures are in clock ticks of 1/$(getconf CLK_TCK) s.
Database: $ANSWERS answers, $raw_bytes bytes of names and bodies;
EOF
for backend in $BACKENDS; do
  read -r e f <<<"${db_size[$backend]}"
  echo "  $backend: $e bytes empty, $f bytes with the answers"
done
