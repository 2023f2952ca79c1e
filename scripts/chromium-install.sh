#!/usr/bin/env bash
# Finds the headless browser Podium's page tests open pages in
# (tests/web.rs) and prints its path on stdout (and nothing else there);
# installs Debian's `chromium` with apt-get when none is found, as
# scripts/ircd-up.sh installs InspIRCd. The tests call it themselves when
# no browser is on PATH; CI calls it first (.ci/run).
#
#   scripts/chromium-install.sh        # prints e.g. /usr/bin/chromium
#
# - Looks on PATH for chromium, chromium-browser, google-chrome (or takes
#   CHROMIUM, a path, when set).
# - Otherwise installs the `chromium` package (apt-get install, after an
#   apt-get update if the first try fails) and prints where the package put
#   it (from dpkg), so a browser installed but not on PATH is found too.
# - Fails (status 1, saying why on stderr) without apt-get, or when the
#   install fails: run it as root, or install Chromium yourself.
set -euo pipefail

log() { echo "[chromium-install] $*" >&2; }

on_path() {
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; return 0; fi
  local b
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" 2>/dev/null; then return 0; fi
  done
  return 1
}

if on_path; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "no headless browser (chromium, chromium-browser, google-chrome) on PATH, and no apt-get to install one"
  exit 1
fi
log "no headless browser on PATH: installing Debian's chromium"
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
  || { log "apt-get could not install chromium (run as root, or install it yourself)"; exit 1; }
found=$(dpkg -L chromium 2>/dev/null | grep -E '/bin/chromium$' | head -n 1 || true)
if [ -z "$found" ] || [ ! -x "$found" ]; then
  log "chromium is installed but its program was not found (dpkg -L chromium)"
  exit 1
fi
log "ready in $(( $(date +%s) - t0 ))s: $("$found" --version 2>/dev/null || echo "$found")"
echo "$found"
