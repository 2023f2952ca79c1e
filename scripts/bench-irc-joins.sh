#!/usr/bin/env bash
# How long a `podium` binary takes to join N IRC channels (default 1000),
# from registering to being in every one as /healthz says, then again
# after the server restarts, and its resident memory once in all of them.
# Any build can be measured (main's, a branch's; debug or release):
#
#   scripts/bench-irc-joins.sh path/to/podium [N]
#
# Starts its own InspIRCd (scripts/ircd-up.sh, relaxed flood limits,
# loopback, free ports) in a temporary directory, and one debate an hour
# away in N channels named `#bench0-debate-0001`... (19 bytes each).
# Podium keeps its default send queue (4 lines at once, then one every
# 1.5 s) unless PODIUM_IRC_SEND_INTERVAL / PODIUM_IRC_SEND_BURST are set
# (as for a server that exempts the bot from its flood limits). `cargo bench --bench irc -- joins` measures the same with the
# bench (release) build.
set -euo pipefail
BIN=$(realpath "$1"); N=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
export IRCD_DATA=$DIR/ircd IRCD_PORT=0 IRCD_TLS_PORT=0 IRCD_FLOOD=relaxed
eval "$("$HERE/ircd-up.sh" 2>/dev/null)"
start=$(date -u -d '+1 hour' '+%Y-%m-%d %H:%M:%S')
rooms=$(for i in $(seq 1 "$N"); do printf '"#bench0-debate-%04d", ' "$i"; done)
cat > "$DIR/debates.yaml" <<Y
timezone: UTC
debates:
  - id: joins
    title: Joins
    starts: $start
    duration: 10m
    remind: []
    rooms: [${rooms%, }]
    questions:
      - {text: One?, at: 0s}
Y
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
env -i PATH="$PATH" HOME="$HOME" PODIUM_SCHEDULE="$DIR/debates.yaml" PODIUM_DATA_DIR="$DIR/data" \
  PODIUM_WEB_ADDR="127.0.0.1:$PORT" PODIUM_PUBLIC_URL="http://127.0.0.1:$PORT" \
  PODIUM_IRC_SERVER="$IRCD_ADDR" PODIUM_IRC_TLS=false PODIUM_IRC_NICK=podium1 \
  ${PODIUM_IRC_SEND_INTERVAL:+PODIUM_IRC_SEND_INTERVAL=$PODIUM_IRC_SEND_INTERVAL} \
  ${PODIUM_IRC_SEND_BURST:+PODIUM_IRC_SEND_BURST=$PODIUM_IRC_SEND_BURST} \
  RUST_LOG=podium=debug,warn "$BIN" run > "$DIR/podium.log" 2>&1 &
PID=$!
detail() {
  curl -s "http://127.0.0.1:$PORT/healthz" | python3 -c 'import sys, json
try: print(json.load(sys.stdin)["networks"]["irc"]["detail"])
except Exception: print("")'
}
# Seconds from "connected as" to "in N of N channels" on /healthz.
measure() {
  local t0="" d now
  while :; do
    d=$(detail); now=$(date +%s.%N)
    if [ -z "$t0" ] && [[ $d == connected\ as* ]]; then t0=$now; fi
    if [ -n "$t0" ] && [[ $d == *"in $N of $N channels"* ]]; then
      python3 -c "print(f'{$now - $t0:.1f}')"; return
    fi
    sleep 0.05
  done
}
first=$(measure)
sleep 2
rss=$(awk '/VmRSS/{print $2}' "/proc/$PID/status")
"$HERE/ircd-down.sh" >/dev/null 2>&1
while [[ $(detail) == connected\ as* ]]; do sleep 0.05; done
eval "$("$HERE/ircd-up.sh" 2>/dev/null)"
again=$(measure)
echo "$N channels: registered to in every one ${first} s; after the server restarted ${again} s;" \
  "resident memory $((rss / 1024)) MiB; $(grep -o 'asking to join.*' "$DIR/podium.log" | tr '\n' ';')"
kill -TERM "$PID"; wait "$PID" || true
"$HERE/ircd-down.sh" >/dev/null 2>&1
rm -rf "$DIR"
