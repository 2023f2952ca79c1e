#!/usr/bin/env bash
# Finds the headless browser Podium's page tests open pages in
# (tests/web.rs) and prints its path on stdout (and nothing else there);
# installs Debian's `chromium` with apt-get when none is found, as
# scripts/ircd-up.sh installs InspIRCd. The live page test drives the
# browser over WebDriver, through chromedriver (Debian's `chromium-driver`,
# the same version as the browser): it is installed too when missing. The
# tests call this themselves when no browser is on PATH; CI calls it first
# (.ci/run).
#
#   scripts/chromium-install.sh            # prints e.g. /usr/bin/chromium
#   scripts/chromium-install.sh --driver   # prints e.g. /usr/bin/chromedriver
#
# - Looks on PATH for chromium, chromium-browser, google-chrome (or takes
#   CHROMIUM, a path, when set), and for chromedriver (or CHROMEDRIVER).
# - Otherwise installs the `chromium` and `chromium-driver` packages
#   (apt-get install, after an apt-get update if the first try fails) and
#   prints where the package put the program (from dpkg), so one installed
#   but not on PATH is found too.
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

driver_on_path() {
  if [ -n "${CHROMEDRIVER:-}" ] && [ -x "$CHROMEDRIVER" ]; then echo "$CHROMEDRIVER"; return 0; fi
  command -v chromedriver 2>/dev/null
}

want=browser
if [ "${1:-}" = "--driver" ]; then want=driver; fi

# What is missing: both packages come from one source and must be of one
# version, so a browser without its driver gets both (an upgrade, if need be).
browser=$(on_path || true)
driver=$(driver_on_path || true)
if [ -n "$browser" ] && [ -n "$driver" ]; then
  if [ "$want" = driver ]; then echo "$driver"; else echo "$browser"; fi
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  if [ "$want" = browser ] && [ -n "$browser" ]; then
    log "no chromedriver on PATH (the live page test needs it), and no apt-get to install it"
    echo "$browser"
    exit 0
  fi
  log "no headless browser and chromedriver on PATH, and no apt-get to install them"
  exit 1
fi
log "installing Debian's chromium and chromium-driver"
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
packages=(chromium chromium-driver)
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; } \
  || { log "apt-get could not install ${packages[*]} (run as root, or install them yourself)"; exit 1; }
found_browser=$(dpkg -L chromium 2>/dev/null | grep -E '/bin/chromium$' | head -n 1 || true)
found_driver=$(dpkg -L chromium-driver 2>/dev/null | grep -E '/bin/chromedriver$' | head -n 1 || true)
if [ -z "$found_browser" ] || [ ! -x "$found_browser" ]; then
  log "chromium is installed but its program was not found (dpkg -L chromium)"
  exit 1
fi
if [ -z "$found_driver" ] || [ ! -x "$found_driver" ]; then
  log "chromium-driver is installed but chromedriver was not found (dpkg -L chromium-driver)"
  exit 1
fi
log "ready in $(( $(date +%s) - t0 ))s: $("$found_browser" --version 2>/dev/null || echo "$found_browser")"
if [ "$want" = driver ]; then echo "$found_driver"; else echo "$found_browser"; fi
