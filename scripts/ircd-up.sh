#!/usr/bin/env bash
# Starts a throwaway IRC server (InspIRCd 3, Debian's `inspircd` package) on
# loopback for Podium's tests, and prints where it listens on stdout (and
# nothing else there), as lines a shell can `eval`:
#   IRCD_PORT=6667
#   IRCD_TLS_PORT=6697
#   IRCD_ADDR=127.0.0.1:6667
#   IRCD_TLS_ADDR=127.0.0.1:6697
#
#   scripts/ircd-up.sh                    # defaults below
#   IRCD_DATA=/tmp/x IRCD_PORT=0 IRCD_TLS_PORT=0 scripts/ircd-up.sh   # 0: pick free ports
#   scripts/ircd-up.sh --install-only     # just install InspIRCd (CI does this first)
#
# - Installs `inspircd` and `openssl` (and `python3`, which picks free
#   ports) with apt-get when missing. Debian's package would start its own
#   daemon on 127.0.0.1:6667 wherever services may start (systemd, or
#   sysvinit without a policy-rc.d that forbids it); when this script has
#   just installed it, it stops that daemon and turns off its start at boot,
#   so no server but the tests' own is left running.
# - Data dir IRCD_DATA, default ~/.cache/podium/test-servers/ircd-data: the
#   config (rewritten at each start), a self-signed certificate for
#   `localhost` and 127.0.0.1 (made once), the pid, the logs (stdout.log,
#   ircd.log) and the ports (`port`, `tls-port`).
# - IRCD_PORT (default 6667) and IRCD_TLS_PORT (default 6697): 0 picks a
#   free loopback port, remembered in the data dir so a restart comes back
#   on the same one. Both listen on 127.0.0.1 only.
# - IRCv3: cap, server-time, message-tags (client tags such as
#   +draft/reply, TAGMSG), msgid, echo-message, account-tag, batch,
#   labeled-response, multi-prefix, userhost-in-names, invite-notify,
#   cap-notify, chghost, away-notify, account-notify, extended-join,
#   monitor. No `sasl`: InspIRCd's SASL module only relays to a services
#   package (Anope, Atheme), and none is installed. No CHATHISTORY either:
#   channel mode +H replays recent lines on JOIN instead.
# - The first user to join a channel is its operator (+o); channels are
#   created +nt. Oper: `OPER admin adminpass` (every privilege, including
#   SAMODE, SAJOIN, SAPART, KILL, and no flood limits for the oper).
# - IRCD_FLOOD picks the flood protection of the one connect class:
#   relaxed (default): none to speak of (a test client may send 10,000
#     lines at once).
#   strict: Debian's package defaults (/etc/inspircd/inspircd.conf, plus
#     InspIRCd's own defaults for what it leaves out): threshold 10,
#     commandrate 1000 (one command a second once the 10 are spent),
#     fakelag on, recvq 8192, softsendq 8192, hardsendq 262144, pingfreq
#     120, timeout 60. Measured (tests/irc_server.rs): a burst of 20
#     PRIVMSGs right after JOIN is not cut off but delayed: 8 relayed at
#     once, then one a second (the 20th after 12 s); a burst over the
#     recvq (8192 bytes not yet processed; 400 lines of ~35 bytes) ends
#     the connection with "RecvQ exceeded".
#   strict-nofakelag: the same without fakelag: a client whose penalty
#     passes the threshold is killed ("Excess Flood"): right after JOIN a
#     burst of 8 lines at once is too many (7 are fine), after 10 s of
#     quiet 11 are (10 are fine); at a steady rate anything above one line
#     a second ends the same way sooner or later (4 at once, then one
#     every 500 ms: killed after 10 or 11 lines).
#   The one departure from Debian in every mode: localmax/globalmax (3
#   clients per address in Debian's file) are 1000, since every test
#   client comes from 127.0.0.1.
# - IRCD_SERVICES=yes: accounts without a services package. The server
#   also listens for one server link on 127.0.0.1:IRCD_LINK_PORT (0, the
#   default, picks a free port; printed as IRCD_LINK_ADDR), with the
#   password `linkpass`, for `services.localhost` (SID 0AA, U-lined), and
#   loads services_account: a test links in as that server (InspIRCd's
#   protocol 1205: CAPAB START 1205 / CAPAB END / SERVER services.localhost
#   linkpass 0 0AA :Services / BURST <unix time> / ENDBURST) and logs users
#   in with `:0AA METADATA <uid> accountname :<account>`, after which their
#   messages carry `account=<account>` (account-tag) as with real services.
# - IRCD_MAXCHANS (default 2000): how many channels one client may be in
#   (InspIRCd's own default is 20), advertised as CHANLIMIT=#:N; a bot
#   hosting a thousand channels fits, and a test can set it low to see what
#   a bot does with more channels than the server allows.
# - IRCD_PINGFREQ (seconds, default 120): how often the server PINGs each
#   client; one that has not answered by the next PING is disconnected
#   ("Ping timeout"). A short one shows within seconds a client that
#   stopped reading.
# - No ident (the module is not loaded), no reverse DNS
#   (resolvehostnames="no"); still, InspIRCd completes a registration at
#   its once-a-second tick, so a client gets its 001 about 1 s after
#   NICK/USER (or CAP END): connect test clients in parallel. Started and
#   listening in ~30-50 ms.
# - Starts it in the background (`--nofork --runasroot`, in the data dir,
#   with core dumps off: Debian's 3.15 build segfaults on SIGTERM when TLS
#   is loaded, which is harmless), waits until the plain port accepts
#   connections.
# - IRCD_PARENT=PID: stop the server (and delete IRCD_DATA) once that
#   process has exited, so a test binary's server never outlives it.
# Stop it with scripts/ircd-down.sh (same IRCD_DATA).
set -euo pipefail

BASE=${PODIUM_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/podium/test-servers}
DATA=${IRCD_DATA:-$BASE/ircd-data}
PORT=${IRCD_PORT:-6667}
TLS_PORT=${IRCD_TLS_PORT:-6697}
FLOOD=${IRCD_FLOOD:-relaxed}
PINGFREQ=${IRCD_PINGFREQ:-120}
MAXCHANS=${IRCD_MAXCHANS:-2000}
SERVICES=${IRCD_SERVICES:-no}
LINK_PORT=${IRCD_LINK_PORT:-0}
WAIT_S=${IRCD_WAIT_S:-30}
INSPIRCD=${INSPIRCD:-/usr/sbin/inspircd}
PY=${PYTHON:-python3}

log() { echo "[ircd-up] $*" >&2; }

# 1. Install what is missing; Debian's own daemon is not left running.
need=()
[ -x "$INSPIRCD" ] || need+=(inspircd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v "$PY" >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  t0=$(date +%s)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  if [[ " ${need[*]} " == *" inspircd "* ]]; then
    # The package enables its service and starts it where it can (as user
    # irc, with /etc/inspircd/inspircd.conf, on 127.0.0.1:6667).
    if [ -d /run/systemd/system ]; then
      systemctl disable --now inspircd >/dev/null 2>&1 || true
    else
      update-rc.d inspircd disable >/dev/null 2>&1 || true
    fi
    for pid in $(pgrep -x inspircd || true); do
      if [ "$(stat -c %U "/proc/$pid" 2>/dev/null)" = irc ]; then
        log "stopping the daemon the package started (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  fi
  log "installed in $(( $(date +%s) - t0 ))s: $("$INSPIRCD" --version)"
fi
if [ "${1:-}" = "--install-only" ]; then exit 0; fi

# 2. Free ports when asked for them (0), remembered with the data dir.
mkdir -p "$DATA/data"
# A server already running keeps its ports, whatever was asked for now.
if [ -f "$DATA/inspircd.pid" ] && kill -0 "$(cat "$DATA/inspircd.pid")" 2>/dev/null \
    && [ -f "$DATA/port" ] && [ -f "$DATA/tls-port" ]; then
  PORT=$(cat "$DATA/port"); TLS_PORT=$(cat "$DATA/tls-port")
fi
if [ "$PORT" = 0 ] && [ -f "$DATA/port" ]; then PORT=$(cat "$DATA/port"); fi
if [ "$TLS_PORT" = 0 ] && [ -f "$DATA/tls-port" ]; then TLS_PORT=$(cat "$DATA/tls-port"); fi
if [ "$PORT" = 0 ] || [ "$TLS_PORT" = 0 ]; then
  read -r free1 free2 < <("$PY" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
  [ "$PORT" = 0 ] && PORT=$free1
  [ "$TLS_PORT" = 0 ] && TLS_PORT=$free2
fi
echo "$PORT" > "$DATA/port"
echo "$TLS_PORT" > "$DATA/tls-port"
if [ "$SERVICES" = yes ]; then
  if [ "$LINK_PORT" = 0 ] && [ -f "$DATA/link-port" ]; then LINK_PORT=$(cat "$DATA/link-port"); fi
  if [ "$LINK_PORT" = 0 ]; then
    LINK_PORT=$("$PY" -c '
import socket
a = socket.socket(); a.bind(("127.0.0.1", 0)); print(a.getsockname()[1])')
  fi
  echo "$LINK_PORT" > "$DATA/link-port"
fi

# 3. A self-signed certificate, made once per data dir.
if [ ! -f "$DATA/cert.pem" ] || [ ! -f "$DATA/key.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DATA/key.pem" -out "$DATA/cert.pem" >/dev/null 2>&1
fi

# 4. The config, rewritten at each start.
case "$FLOOD" in
  relaxed) FLOOD_ATTRS='threshold="1000000" commandrate="100000000" fakelag="no"
         recvq="4194304" softsendq="4194304" hardsendq="16777216"' ;;
  strict) FLOOD_ATTRS='threshold="10" commandrate="1000" fakelag="yes"
         recvq="8192" softsendq="8192" hardsendq="262144"' ;;
  strict-nofakelag) FLOOD_ATTRS='threshold="10" commandrate="1000" fakelag="no"
         recvq="8192" softsendq="8192" hardsendq="262144"' ;;
  *) log "unknown IRCD_FLOOD=$FLOOD (relaxed, strict or strict-nofakelag)"; exit 2 ;;
esac
cat > "$DATA/inspircd.conf" <<EOF
# Written by scripts/ircd-up.sh (IRCD_FLOOD=$FLOOD, IRCD_PINGFREQ=$PINGFREQ, IRCD_MAXCHANS=$MAXCHANS); rewritten at each start.
<config format="xml">
<server name="irc.localhost" description="Podium test server" network="PodiumTest">
<admin name="Podium tests" nick="admin" email="admin@localhost">
<path configdir="$DATA" datadir="$DATA/data" logdir="$DATA" moduledir="/usr/lib/inspircd/modules">
<pid file="$DATA/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$DATA/ircd.log">

<bind address="127.0.0.1" port="$PORT" type="clients">
<module name="ssl_gnutls">
<sslprofile name="Clients" provider="gnutls" certfile="$DATA/cert.pem" keyfile="$DATA/key.pem"
            dhfile="" hash="sha256" requestclientcert="no">
<bind address="127.0.0.1" port="$TLS_PORT" type="clients" sslprofile="Clients">
# WHOIS says 671 "is using a secure connection" for TLS clients.
<module name="sslinfo">

# Debian's connect class (timeout, pingfreq, queues, flood) as IRCD_FLOOD says;
# no ident, no reverse DNS: registration is immediate.
<connect name="main" allow="*"
         timeout="60" pingfreq="$PINGFREQ"
         $FLOOD_ATTRS
         localmax="1000" globalmax="1000" maxchans="$MAXCHANS" limit="5000"
         resolvehostnames="no" useident="no">
# Never ask the machine's resolver (there are no lookups anyway).
<dns server="127.0.0.1" timeout="1">
<performance softlimit="4096" somaxconn="128">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes" pingwarning="15"
         splitwhois="no" exemptchanops="" defaultmodes="not">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no"
          hideulines="no" hidebans="no" maxtargets="20" announceinvites="dynamic">
<channels users="$MAXCHANS" opers="$MAXCHANS">
<limits maxline="512" maxnick="30" maxchan="64" maxmodes="20" maxident="10" maxhost="64"
        maxquit="255" maxtopic="307" maxkick="255" maxreal="128" maxaway="200">
<whowas groupsize="10" maxgroups="1000" maxkeep="1d">

# OPER admin adminpass: every command and privilege (users/flood/* too).
<class name="All" commands="*" privs="*" usermodes="*" chanmodes="*" snomasks="*">
<type name="NetAdmin" classes="All" host="netadmin.localhost">
<oper name="admin" password="adminpass" host="*@*" type="NetAdmin">
<module name="samode">
<module name="sajoin">
<module name="sapart">

# IRCv3
<module name="cap">
<module name="ircv3">
<module name="ircv3_accounttag">
<module name="ircv3_batch">
<module name="ircv3_capnotify">
<module name="ircv3_chghost">
<module name="ircv3_ctctags">
<module name="ircv3_echomessage">
<module name="ircv3_invitenotify">
<module name="ircv3_labeledresponse">
<module name="ircv3_msgid">
<module name="ircv3_servertime">
<module name="monitor">
<module name="namesx">
<module name="uhnames">
# Channel mode +H: replays the last lines on JOIN (no CHATHISTORY in InspIRCd 3).
<module name="chanhistory">
<chanhistory maxlines="100" notice="yes" bots="yes">
EOF

if [ "$SERVICES" = yes ]; then
  cat >> "$DATA/inspircd.conf" <<EOF
# IRCD_SERVICES=yes: a stand-in for services links in here and sets accounts.
<module name="spanningtree">
<module name="services_account">
<bind address="127.0.0.1" port="$LINK_PORT" type="servers">
<link name="services.localhost" ipaddr="127.0.0.1" port="$LINK_PORT" allowmask="127.0.0.0/8"
      sendpass="linkpass" recvpass="linkpass">
<uline server="services.localhost" silent="yes">
EOF
fi

# 5. Start, unless it is already running.
if [ -f "$DATA/inspircd.pid" ] && kill -0 "$(cat "$DATA/inspircd.pid")" 2>/dev/null; then
  log "already running (pid $(cat "$DATA/inspircd.pid")), with the flood mode it was started with"
else
  for p in "$PORT" "$TLS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      log "something else listens on 127.0.0.1:$p"; exit 1
    fi
  done
  log "starting InspIRCd on 127.0.0.1:$PORT (TLS $TLS_PORT, flood $FLOOD)"
  t0=$(date +%s%N)
  # --runasroot: it refuses root otherwise; --nofork: the pid is \$!.
  # cd + ulimit -c 0: it segfaults on SIGTERM with TLS loaded; no core file.
  ( cd "$DATA" && ulimit -c 0 && exec nohup "$INSPIRCD" --config="$DATA/inspircd.conf" --nofork --runasroot ) \
    > "$DATA/stdout.log" 2>&1 < /dev/null &
  echo $! > "$DATA/inspircd.pid"
  until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    if ! kill -0 "$(cat "$DATA/inspircd.pid")" 2>/dev/null; then
      log "InspIRCd died; the end of $DATA/stdout.log:"; tail -30 "$DATA/stdout.log" >&2; exit 1
    fi
    if (( ($(date +%s%N) - t0) / 1000000000 > WAIT_S )); then log "not listening after ${WAIT_S}s"; exit 1; fi
    sleep 0.02
  done
  log "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(cat "$DATA/inspircd.pid"))"
fi

# 6. A watchdog, when asked for: the server goes when its parent does.
if [ -n "${IRCD_PARENT:-}" ]; then
  setsid nohup bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    pid=$(cat "$2/inspircd.pid" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    rm -rf "$2"' _ "$IRCD_PARENT" "$DATA" >/dev/null 2>&1 < /dev/null &
fi

echo "IRCD_PORT=$PORT"
echo "IRCD_TLS_PORT=$TLS_PORT"
echo "IRCD_ADDR=127.0.0.1:$PORT"
echo "IRCD_TLS_ADDR=127.0.0.1:$TLS_PORT"
if [ "$SERVICES" = yes ]; then echo "IRCD_LINK_ADDR=127.0.0.1:$LINK_PORT"; fi
