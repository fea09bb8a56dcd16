#!/usr/bin/env bash
# Flame graph of `refsan check` over Modules/*.c and Objects/*.c of the
# CPython 3.11.2 sources (the files the speed target compares with gcc).
#
# Usage: bench/flamegraph.sh CORPUS [OUT.svg]
#   CORPUS  the cpython-3.11.2-c-sources.tar.xz tarball or its unpacked tree
#   OUT     default: bench/flamegraph-cpython.svg
#
# Needs `perf` and inferno (`cargo install inferno`). Builds the
# `profiling` profile (release with line tables) and samples every thread;
# the thread pool's own frames are left out, so each file's work is one
# tower whatever thread ran it.
set -euo pipefail

corpus=${1:?usage: bench/flamegraph.sh CORPUS [OUT.svg]}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$here/bench/flamegraph-cpython.svg}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
tree=$(corpus_tree "$corpus" "$work")
for tool in perf inferno-collapse-perf inferno-flamegraph; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done

cargo build --profile profiling --quiet --manifest-path "$here/Cargo.toml" -p refsan
refsan="$here/target/profiling/refsan"

(cd "$tree" && perf record -q -F 499 -g --call-graph dwarf,16384 -o "$work/perf.data" \
    "$refsan" check --no-cache -q Modules/*.c Objects/*.c >/dev/null 2>&1 || true)
perf script -i "$work/perf.data" 2>/dev/null \
    | inferno-collapse-perf \
    | sed -E 's/;[^;]*rayon[^;]*//g' \
    | sort \
    | inferno-flamegraph --title "refsan check: CPython 3.11.2 Modules/*.c + Objects/*.c" --width 1600 --minwidth 2 \
    >"$out"
echo "wrote $out"
