#!/usr/bin/env bash
# Checks, without a container engine, what can make the Dockerfile's build
# stages fail (run by .ci/run):
#
# 1. The Dockerfile makes its dependency layer with scripts/docker-stand-ins.sh
#    and builds with `cargo build --release --locked --bin podium`; so what
#    follows replays what the image build does, not something else.
# 2. .dockerignore leaves out no file git tracks: the image is built from the
#    same sources as CI builds (a bench or template left out of the context
#    would break the build there only).
# 3. The dependency stage, replayed in a temporary directory holding only
#    what the plan stage gives it (Cargo.toml, Cargo.lock, the generated
#    stand-ins): Cargo loads the manifest with them (every declared target
#    has its file) and the lock file needs no update (--locked). This is the
#    step that failed ("can't find `irc` bench").
# 4. The build stage's own build: `--bin podium` alone, without the
#    dev-dependencies, so with the features the image gets (a feature only
#    the tests' dependencies switch on would break the image, not CI).
#
# 3 and 4 are `cargo check`: what they prove (manifest, lock file, the code
# against the features it gets) does not need machine code. They share the
# cargo target directory with the rest of CI; the first run on a machine
# checks the dependencies without dev-dependency features once (minutes on
# two cores), later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "check-dockerfile: $*" >&2
  exit 1
}

echo "-- the Dockerfile builds through the generated stand-ins"
grep -q '^RUN sh scripts/docker-stand-ins.sh /stand-ins$' Dockerfile ||
  fail "the plan stage no longer runs 'sh scripts/docker-stand-ins.sh /stand-ins'; update this check with it"
grep -q '^COPY --from=plan /stand-ins/ ./$' Dockerfile ||
  fail "the build stage no longer starts from the plan stage's stand-ins"
[ "$(grep -c 'cargo build --release --locked --bin podium' Dockerfile)" -eq 2 ] ||
  fail "the Dockerfile's two builds are no longer 'cargo build --release --locked --bin podium'"

echo "-- .dockerignore leaves out no tracked file"
patterns=()
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%%#*}
  line=${line//[[:space:]]/}
  [ -n "$line" ] && patterns+=("${line#/}")
done <.dockerignore
excluded=()
while IFS= read -r -d '' file; do
  for pattern in "${patterns[@]}"; do
    # shellcheck disable=SC2053 # the pattern is a glob on purpose
    if [[ $file == $pattern || $file == $pattern/* ]]; then
      excluded+=("$file (by '$pattern')")
    fi
  done
done < <(git ls-files -z)
[ ${#excluded[@]} -eq 0 ] || fail ".dockerignore leaves out tracked files: ${excluded[*]}"

echo "-- the dependency stage, from the stand-ins alone"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh scripts/docker-stand-ins.sh "$tmp/src"
(cd "$tmp/src" && cargo check --locked --bin podium --quiet)

echo "-- the build stage: the binary with the features the image gets"
cargo check --locked --bin podium --quiet
echo "check-dockerfile: ok"
