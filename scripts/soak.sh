#!/usr/bin/env bash
# The fault-schedule soak (tests/soak.rs): `podium run` on its own Synapse
# and InspIRCd (started and stopped by the test, on loopback), hosting
# back-to-back debates in 10 Matrix rooms and 10 IRC channels while
# scripted participants answer and a seeded random schedule of faults hits
# it (SIGKILL, SIGSTOP/SIGCONT, Synapse and InspIRCd restarts, the data
# directory's tmpfs filled and freed, a schedule reload with an error).
# It ends with the figures and fails on any lost acknowledged answer,
# answer stored twice, post made twice, missing post no rule explains, or
# resident memory over the ceiling.
#
#   scripts/soak.sh                      # 3 minutes, as CI runs it
#   SOAK_MINUTES=60 scripts/soak.sh      # the long run (about 200 faults, 90+ kills)
#   SOAK_SEED=133167 scripts/soak.sh     # replay a run's faults and actions
#   SOAK_RSS_MB=300                      # the resident-memory ceiling
#
# The full-disk fault needs a tmpfs, which needs root; without it the
# soak says so and leaves that fault out. Needs what `.ci/run` installs
# (Synapse's virtualenv, InspIRCd).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/podium/target}"
exec cargo test --test soak -- --nocapture "$@"
