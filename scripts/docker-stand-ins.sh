#!/bin/sh
# Writes into OUT what the Dockerfile's dependency layer is built from:
# Cargo.toml, Cargo.lock and a stand-in source file for every target that
# `cargo metadata` lists for this package (the library, the binary, the
# build script, every bench, test and example), empty for the library and
# `fn main() {}` for the rest. Run from the project's root, where the real
# sources are.
#
# Why generated: Cargo will not load a manifest whose declared targets have
# no file (`can't find `irc` bench`), so a hand-written list of stand-ins
# breaks as soon as Cargo.toml gains a target. Generated from the manifest
# itself, the list cannot drift from it. The output depends only on the
# manifest, the lock file and the targets' paths, so Docker reuses the
# dependency layer until one of those changes.
#
# Usage: scripts/docker-stand-ins.sh OUT   (OUT must not exist or be empty)
# Needs only cargo, grep and sed (the rust image has them); no network.
set -eu

out=${1:?usage: scripts/docker-stand-ins.sh OUT}
root=$(pwd)
mkdir -p "$out"
if [ -n "$(ls -A "$out")" ]; then
  echo "docker-stand-ins: $out is not empty" >&2
  exit 1
fi
cp Cargo.toml Cargo.lock "$out/"

metadata=$(cargo metadata --no-deps --format-version 1 --locked)
# Each target is a JSON object without nested objects, the only ones with
# a "src_path"; one per line.
targets=$(printf '%s' "$metadata" | grep -o '{[^{}]*"src_path":"[^"]*"[^{}]*}')
if [ -z "$targets" ]; then
  echo "docker-stand-ins: cargo metadata lists no targets" >&2
  exit 1
fi
printf '%s\n' "$targets" | while IFS= read -r target; do
  path=$(printf '%s' "$target" | sed 's/.*"src_path":"\([^"]*\)".*/\1/')
  kind=$(printf '%s' "$target" | sed 's/.*"kind":\[\([^]]*\)\].*/\1/')
  case "$path" in
    "$root"/*) relative=${path#"$root"/} ;;
    *)
      echo "docker-stand-ins: target $path is outside $root" >&2
      exit 1
      ;;
  esac
  mkdir -p "$out/$(dirname "$relative")"
  case "$kind" in
    *lib* | *proc-macro*) : >"$out/$relative" ;;
    *) echo 'fn main() {}' >"$out/$relative" ;;
  esac
done
