#!/usr/bin/env bash
# Benchmark: a cached transcript page served by Podium under load, next to
# nginx serving the same bytes as a static file. Everything runs on
# loopback (127.0.0.1) only.
#
# `podium run` will not start without a chat network, so Podium's side is
# the web bench's helper (`benches/web.rs`, release profile): it writes a
# finished public debate (ANSWERS answers, default 300) and its
# debates.yaml into a temporary data directory and serves it with the same
# router, page cache and read-only connections as `podium run`. The page is
# fetched once with curl, with the headers wrk then sends, and those exact
# bytes are given to a throwaway nginx (its own config and pid file in the
# temporary directory). Then wrk runs against each, alternating
# podium/nginx, ROUNDS times (default 2), for each ENCODINGS (default
# "identity gzip": no Accept-Encoding, as wrk sends by default, and
# `Accept-Encoding: gzip`, as browsers send; nginx then serves Podium's
# gzip bytes with gzip_static).
#
# Usage: scripts/bench-web.sh [ANSWERS]
# Environment: DURATION (15s), CONNECTIONS (50), THREADS (2), ROUNDS (2),
# ENCODINGS ("identity gzip"), NGINX_WORKERS (2), BACKEND (sqlite, or
# postgres: the debate is stored in, and served from, a PostgreSQL server
# of the helper's own started with scripts/postgres-up.sh, stopped when
# the helper exits).
# Installs nothing: needs wrk, nginx, curl and python3
# (apt-get install wrk nginx). Results: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
answers="${1:-300}"
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-50}"
threads="${THREADS:-2}"
rounds="${ROUNDS:-2}"
encodings="${ENCODINGS:-identity gzip}"
workers="${NGINX_WORKERS:-2}"
backend="${BACKEND:-sqlite}"
case "$backend" in sqlite|postgres) ;; *) echo "BACKEND: sqlite or postgres" >&2; exit 2 ;; esac

nginx_bin="$(command -v nginx || true)"
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -n "$nginx_bin" ] || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "missing: ${missing[*]}; install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi

work="$(mktemp -d)"
podium_pid=""
nginx_pid=""
cleanup() {
  for pid in "$podium_pid" "$nginx_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building the web bench (release profile)..." >&2
exe="$(cargo bench --bench web --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "web" and m.get("executable"):
        print(m["executable"])
')"
[ -x "$exe" ] || { echo "cannot build benches/web.rs" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Podium: writes the debate, then prints the page's address.
"$exe" serve "$work/data" "$answers" "$backend" >"$work/podium.url" 2>"$work/podium.log" &
podium_pid=$!
for _ in $(seq 600); do
  [ -s "$work/podium.url" ] && break
  kill -0 "$podium_pid" 2>/dev/null || { cat "$work/podium.log" >&2; exit 1; }
  sleep 0.1
done
url="$(head -1 "$work/podium.url")"
case "$url" in
  http://127.0.0.1:*) ;;
  *) echo "not a loopback address: $url" >&2; exit 1 ;;
esac
path="${url#http://127.0.0.1:*/}"
base="${url%%/transcripts/*}"
until curl -sf -o /dev/null "$base/healthz"; do sleep 0.1; done
cat "$work/podium.log" >&2

# The same bytes for nginx, at the same path.
www="$work/www"
mkdir -p "$www/$(dirname "$path")"
curl -sS -D "$work/identity.headers" -o "$www/$path" "$url"
curl -sS -H 'Accept-Encoding: gzip' -D "$work/gzip.headers" -o "$www/$path.gz" "$url"
grep -qi '^content-encoding: gzip' "$work/gzip.headers" || { echo "no gzip from podium" >&2; exit 1; }
# nginx's workers run as nobody when started by root.
chmod -R a+rX "$work"
echo "page: $(wc -c <"$www/$path") bytes, $(wc -c <"$www/$path.gz") gzipped; $answers answers, stored in $backend"

nginx_port="$(free_port)"
nginx_url="http://127.0.0.1:$nginx_port/$path"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  types { }
  default_type "text/html; charset=utf-8";
  gzip off;
  gzip_static on;
  server {
    listen 127.0.0.1:$nginx_port;
    root $www;
    add_header Cache-Control "public, no-cache";
    add_header Content-Security-Policy "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    add_header X-Content-Type-Options nosniff;
    add_header Referrer-Policy no-referrer;
    add_header X-Frame-Options DENY;
    add_header Cross-Origin-Resource-Policy same-origin;
    add_header Vary Accept-Encoding;
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
until curl -sf -o /dev/null "$nginx_url"; do
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx/error.log" >&2; exit 1; }
  sleep 0.1
done
cmp -s <(curl -sS "$nginx_url") "$www/$path" || { echo "nginx serves other bytes" >&2; exit 1; }
cmp -s <(curl -sS -H 'Accept-Encoding: gzip' "$nginx_url") "$www/$path.gz" \
  || { echo "nginx serves other gzip bytes" >&2; exit 1; }

# Requests/s and p99 (ms) from wrk's output; fails on errors or non-2xx.
measure() {
  local target="$1" encoding="$2" out
  local header=()
  [ "$encoding" = gzip ] && header=(-H 'Accept-Encoding: gzip')
  out="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "${header[@]}" "$target")"
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "$out" >&2
    echo "errors against $target" >&2
    exit 1
  fi
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000
      if (v ~ /s$/) return v * 1000
      return v
    }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    $1 == "50%" { p50 = ms($2) }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }
  ' <<<"$out"
}

echo
echo "wrk -t$threads -c$connections -d$duration --latency, alternating, $rounds rounds; wrk and both servers share $(nproc) cores"
printf '%-9s %-6s %-7s %12s %10s %10s\n' encoding round server requests/s p50_ms p99_ms
for encoding in $encodings; do
  header=()
  [ "$encoding" = gzip ] && header=(-H 'Accept-Encoding: gzip')
  # Warm both up (connections, caches) before the measured rounds.
  wrk -t"$threads" -c"$connections" -d3s "${header[@]}" "$url" >/dev/null
  wrk -t"$threads" -c"$connections" -d3s "${header[@]}" "$nginx_url" >/dev/null
  sum_p=0; sum_n=0; p99_p=(); p99_n=()
  for round in $(seq "$rounds"); do
    for server in podium nginx; do
      target="$url"; [ "$server" = nginx ] && target="$nginx_url"
      read -r rps p50 p99 < <(measure "$target" "$encoding")
      printf '%-9s %-6s %-7s %12s %10s %10s\n' "$encoding" "$round" "$server" "$rps" "$p50" "$p99"
      if [ "$server" = podium ]; then sum_p=$((sum_p + rps)); p99_p+=("$p99")
      else sum_n=$((sum_n + rps)); p99_n+=("$p99"); fi
    done
  done
  python3 - "$encoding" "$sum_p" "$sum_n" "$rounds" "${p99_p[*]}" "${p99_n[*]}" <<'EOF'
import sys
enc, sp, sn, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pp = [float(x) for x in sys.argv[5].split()]
pn = [float(x) for x in sys.argv[6].split()]
print(f"{enc}: podium {sp / rounds:.0f} req/s (p99 {', '.join(f'{x:.2f}' for x in pp)} ms), "
      f"nginx {sn / rounds:.0f} req/s (p99 {', '.join(f'{x:.2f}' for x in pn)} ms), "
      f"podium/nginx {sp / sn:.2f} (target >= 0.50: {'met' if sp / sn >= 0.5 else 'NOT met'})")
EOF
done
