#!/usr/bin/env bash
# Benchmark of `refsan check` over the CPython 3.11.2 C sources, with
# `gcc -fsyntax-only` over Modules/*.c and Objects/*.c measured in the same
# run as the baseline.
#
# Usage: bench/check_corpus.sh CORPUS [RUNS] [BASELINE]
#   CORPUS    the cpython-3.11.2-c-sources.tar.xz tarball or its unpacked tree
#   RUNS      timed runs of each command (default 3; the median is reported)
#   BASELINE  another refsan binary (an earlier build): run in turn with this
#             one on the whole tree, and the median of the paired ratios
#             (this build / baseline) of wall time and CPU time is reported
#
# Reports files, lines, wall time, lines/second and peak RSS of refsan on
# the whole tree, and the ratio against gcc on Modules/ and Objects/ with the
# same parallelism (one job per CPU).
set -euo pipefail

corpus=${1:?usage: bench/check_corpus.sh CORPUS [RUNS] [BASELINE]}
runs=${2:-3}
baseline=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
tree=$(corpus_tree "$corpus" "$work")
[ -d "$tree/Modules" ] || { echo "no Modules/ in $tree" >&2; exit 2; }

cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
refsan="$here/target/release/refsan"
jobs=$(nproc)

# gcc needs a pyconfig.h: take the running interpreter's.
inc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
mkdir -p "$work/cfg"
cp "$inc/pyconfig.h" "$work/cfg/"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# time_cmd OUTFILE CMD...: appends "wall_seconds max_rss_kb" per run.
time_cmd() {
    local out=$1; shift
    /usr/bin/time -q -f "%e %M %U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || true
    tail -n 1 "$work/t" >>"$out"
}

all_files=$(cd "$tree" && find . \( -name '*.c' -o -name '*.h' \) | wc -l)
all_lines=$(cd "$tree" && find . \( -name '*.c' -o -name '*.h' \) -print0 | xargs -0 cat | wc -l)
base_files=$(cd "$tree" && ls Modules/*.c Objects/*.c | wc -l)
base_lines=$(cd "$tree" && cat Modules/*.c Objects/*.c | wc -l)

gcc_run() {
    (cd "$tree" && ls Modules/*.c Objects/*.c | xargs -P "$1" -n 4 \
        gcc -fsyntax-only -w -I"$work/cfg" -I. -IInclude -IInclude/internal -DPy_BUILD_CORE_MODULE 2>/dev/null || true)
}
export -f gcc_run
export tree jobs work

: >"$work/refsan_all" ; : >"$work/refsan_base" ; : >"$work/gcc" ; : >"$work/gcc1" ; : >"$work/baseline"
"$refsan" check $(no_cache "$refsan") --quiet --no-config --format json -o /dev/null "$tree" || true   # warm-up
for _ in $(seq "$runs"); do
    time_cmd "$work/refsan_all" "$refsan" check $(no_cache "$refsan") --quiet --no-config --format json -o "$work/out.json" "$tree"
    if [ -n "$baseline" ]; then
        time_cmd "$work/baseline" "$baseline" check $(no_cache "$baseline") --quiet --no-config --format json -o /dev/null "$tree"
    fi
    # The same files as gcc's (Modules/*.c, Objects/*.c; not their
    # subdirectories).
    time_cmd "$work/refsan_base" bash -c "cd \"\$tree\" && \"\$0\" check $(no_cache "$refsan") --quiet --no-config --format json -o /dev/null Modules/*.c Objects/*.c" "$refsan"
    time_cmd "$work/gcc" bash -c "gcc_run $jobs"
    time_cmd "$work/gcc1" bash -c "gcc_run 1"
done

wall_all=$(cut -d' ' -f1 "$work/refsan_all" | median)
rss_all=$(cut -d' ' -f2 "$work/refsan_all" | median)
wall_base=$(cut -d' ' -f1 "$work/refsan_base" | median)
wall_gcc=$(cut -d' ' -f1 "$work/gcc" | median)
wall_gcc1=$(cut -d' ' -f1 "$work/gcc1" | median)
findings=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["findings"]), d["summary"])' "$work/out.json")

echo "refsan check, whole CPython 3.11.2 tree ($all_files files, $all_lines lines, $jobs CPUs, median of $runs):"
echo "  wall ${wall_all}s, $(awk -v l="$all_lines" -v w="$wall_all" 'BEGIN{printf "%.0f", l/w}') lines/s, peak RSS $((rss_all / 1024)) MiB"
echo "  findings: $findings"
# The guard against silently dropped paths: statements the control flow
# reaches that no explored path did (must be 0), and functions analysed
# approximately (over budget, where that count does not apply).
python3 - "$work/out.json" <<'PY'
import json, sys
notes = json.load(open(sys.argv[1]))["notes"]
unreached = [n for n in notes if "reached by no path" in n["message"]]
approx = [n for n in notes if "analysed approximately" in n["message"]]
stmts = sum(int(n["message"].split()[0]) for n in unreached)
print(f"  unreached-but-reachable statements: {stmts} in {len(unreached)} functions; "
      f"functions over budget: {len(approx)}")
PY
echo "Modules/*.c + Objects/*.c ($base_files files, $base_lines lines):"
echo "  refsan check        ${wall_base}s"
echo "  gcc -fsyntax-only   ${wall_gcc1}s (one file after another), ${wall_gcc}s ($jobs at a time)"
echo "  ratio gcc/refsan    $(awk -v a="$wall_gcc1" -v b="$wall_base" 'BEGIN{printf "%.1f", a/b}')x against gcc one file after another, $(awk -v a="$wall_gcc" -v b="$wall_base" 'BEGIN{printf "%.1f", a/b}')x against gcc with the same parallelism"
if [ -n "$baseline" ]; then
    paste -d' ' "$work/refsan_all" "$work/baseline" | awk '{
        printf "%f %f\n", $1 / $5, ($3 + $4) / ($7 + $8) }' >"$work/ratios"
    echo "Paired against $baseline (whole tree, $runs pairs, this build / baseline, median):"
    echo "  wall $(cut -d' ' -f1 "$work/ratios" | median), CPU $(cut -d' ' -f2 "$work/ratios" | median)"
fi
