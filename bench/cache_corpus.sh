#!/usr/bin/env bash
# The results cache over the CPython 3.11.2 C sources: a cold run (empty
# cache), warm runs (nothing changed), and a run after editing one header.
#
# Usage: bench/cache_corpus.sh CORPUS [RUNS]
#   CORPUS  the cpython-3.11.2-c-sources.tar.xz tarball or its unpacked tree
#   RUNS    timed runs of each kind (default 3; the median is reported)
#
# Checks that every warm run prints exactly the cold run's report, that the
# edited header re-checks exactly the files that include it (and the header
# itself) and nothing outside its directory, and that the report after the
# edit equals a run without cache.
# Reports the wall time of each kind and warm/cold.
set -euo pipefail

corpus=${1:?usage: bench/cache_corpus.sh CORPUS [RUNS]}
runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
src=$(corpus_tree "$corpus" "$work/unpacked")
# A copy: the header edit must not touch the corpus.
mkdir -p "$work/tree"
cp -r "$src/." "$work/tree/"
tree=$work/tree

cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
refsan="$here/target/release/refsan"
cache=$work/cache

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run NAME ARGS...: one timed run; report in $work/NAME.json, counts in
# $work/NAME.err, wall seconds appended to $work/NAME.times.
run() {
    local name=$1; shift
    (cd "$tree" && /usr/bin/time -q -f "%e" -o "$work/t" "$refsan" check --no-config \
        --format json --exit-zero -v "$@" . >"$work/$name.json" 2>"$work/$name.err") || true
    tail -n 1 "$work/t" >>"$work/$name.times"
}

for _ in $(seq 1 "$runs"); do
    rm -rf "$cache"
    run cold --cache-dir "$cache"
    run warm --cache-dir "$cache"
done
cmp -s "$work/cold.json" "$work/warm.json" || { echo "FAIL: the warm report differs from the cold one" >&2; exit 1; }
grep -h "files checked" "$work/cold.err" | tail -n 1 | sed 's/^/cold: /'
grep -h "files checked" "$work/warm.err" | tail -n 1 | sed 's/^/warm: /'

# Edit a header several sources include: they and the header itself are
# checked again (and files whose callees' sources include it), nothing
# else.
header=Modules/_sqlite/util.h
includers=$(cd "$tree/Modules/_sqlite" && grep -l '#include "util.h"' ./*.c ./*.h | sed 's|^\./|Modules/_sqlite/|' | sort)
echo "/* edited */" >>"$tree/$header"
run edited --cache-dir "$cache"
run nocache --no-cache
cmp -s "$work/edited.json" "$work/nocache.json" || { echo "FAIL: the report after the edit differs from a run without cache" >&2; exit 1; }
sed -n 's/^refsan: not in the cache, checked: //p' "$work/edited.err" | sort >"$work/checked"
echo "after editing $header: checked again:" $(cat "$work/checked")
for f in $header $includers; do
    grep -qx "$f" "$work/checked" || { echo "FAIL: $f was not checked again" >&2; exit 1; }
done
if grep -v '^Modules/_sqlite/' "$work/checked"; then
    echo "FAIL: files outside Modules/_sqlite checked again" >&2; exit 1
fi

cold=$(median <"$work/cold.times")
warm=$(median <"$work/warm.times")
echo "cold run (empty cache):   ${cold} s (median of $runs)"
echo "warm run (nothing edited): ${warm} s (median of $runs)"
awk -v c="$cold" -v w="$warm" 'BEGIN {printf "warm / cold: %.1f%%\n", 100 * w / c}'
