#!/usr/bin/env bash
# What the runtime commands cost, against the plain program measured in the
# same run (interleaved, median of RUNS):
#   - `refsan run` in its modes (plain, --asan, --asan --full-stacks,
#     --valgrind) on an
#     object-heavy pure-Python workload that does not crash;
#   - `refsan leaks -- pytest` on the pytest suites of refsan's own tests
#     (crates/refsan/tests/leaks_fixtures/{suite,fixture_suite}, with the
#     leakcheck extension built for the interpreter), per suite and per test.
#
# Usage: bench/runtime_overhead.sh [RUNS]   (REFSAN=path to use a given binary)
# Needs: gcc, gdb, valgrind, the ASan runtime, pytest (.ci/install.sh).
set -euo pipefail

runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${REFSAN:-}" ]]; then
    cargo build --release -q -p refsan --manifest-path "$root/Cargo.toml"
    REFSAN="$root/target/release/refsan"
fi
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
work="$root/bench/work/runtime_overhead"
rm -rf "$work" && mkdir -p "$work"

cat > "$work/compute.py" <<'PY'
import sys
n = int(sys.argv[1])
d = {}
for i in range(n):
    d[str(i)] = [i, i * 2, (i, str(i))]
print(sum(len(v) for v in d.values()))
PY

fixtures="$root/crates/refsan/tests/leaks_fixtures"
include=$("$python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
suffix=$("$python" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
for suite in suite fixture_suite; do
    mkdir -p "$work/$suite"
    cp "$fixtures/$suite"/*.py "$work/$suite/"
    gcc -shared -fPIC -O2 -I"$include" "$fixtures/leakcheck.c" -o "$work/$suite/leakcheck$suffix"
done

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed FILE CMD...: appends the wall time in ns (the command's status is ignored).
timed() {
    local out=$1; shift
    local t0 t1
    t0=$(now_ns); "$@" >/dev/null 2>&1 || true; t1=$(now_ns)
    echo $((t1 - t0)) >>"$out"
}
seconds() { awk -v n="$(median <"$1")" 'BEGIN {printf "%.3f", n / 1e9}'; }
ratio() { awk -v a="$(median <"$1")" -v b="$(median <"$2")" 'BEGIN {printf "%.1f", a / b}'; }

echo "== refsan run (workload: compute.py, median of $runs)"
printf "%-34s %10s %10s\n" "" "wall (s)" "x plain"
for size in 400000 40000; do
    rm -f "$work"/*.t
    for ((i = 0; i < runs; i++)); do
        timed "$work/plain.t" "$python" "$work/compute.py" "$size"
        timed "$work/run.t" "$REFSAN" run -- "$python" "$work/compute.py" "$size"
        timed "$work/asan.t" "$REFSAN" run --asan -- "$python" "$work/compute.py" "$size"
        if [ "$size" -le 40000 ]; then
            timed "$work/full.t" "$REFSAN" run --asan --full-stacks -- "$python" "$work/compute.py" "$size"
            timed "$work/valgrind.t" "$REFSAN" run --valgrind -- "$python" "$work/compute.py" "$size"
        fi
    done
    printf "%-34s %10s %10s\n" "plain python ($size items)" "$(seconds "$work/plain.t")" "1.0"
    printf "%-34s %10s %10s\n" "refsan run" "$(seconds "$work/run.t")" "$(ratio "$work/run.t" "$work/plain.t")"
    printf "%-34s %10s %10s\n" "refsan run --asan" "$(seconds "$work/asan.t")" "$(ratio "$work/asan.t" "$work/plain.t")"
    if [ -s "$work/full.t" ]; then
        printf "%-34s %10s %10s\n" "refsan run --asan --full-stacks" "$(seconds "$work/full.t")" "$(ratio "$work/full.t" "$work/plain.t")"
    fi
    if [ -s "$work/valgrind.t" ]; then
        printf "%-34s %10s %10s\n" "refsan run --valgrind" "$(seconds "$work/valgrind.t")" "$(ratio "$work/valgrind.t" "$work/plain.t")"
    fi
done

echo
echo "== refsan leaks -- pytest (median of $runs)"
printf "%-16s %6s %10s %10s %8s %16s\n" suite tests "plain (s)" "leaks (s)" "x plain" "per test (ms)"
for suite in suite fixture_suite; do
    rm -f "$work"/*.t
    for ((i = 0; i < runs; i++)); do
        (cd "$work/$suite" && timed "$work/pytest.t" "$python" -m pytest -q -p no:cacheprovider .)
        (cd "$work/$suite" && timed "$work/leaks.t" "$REFSAN" leaks --format json -o "$work/report.json" \
            -- "$python" -m pytest -q -p no:cacheprovider .)
    done
    tests=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["targets"])' "$work/report.json")
    per_test=$(awk -v a="$(median <"$work/leaks.t")" -v b="$(median <"$work/pytest.t")" -v n="$tests" \
        'BEGIN {printf "%.0f", (a - b) / n / 1e6}')
    printf "%-16s %6s %10s %10s %8s %16s\n" "$suite" "$tests" "$(seconds "$work/pytest.t")" \
        "$(seconds "$work/leaks.t")" "$(ratio "$work/leaks.t" "$work/pytest.t")" "$per_test"
done
echo "(python: $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])'); per test: (leaks - plain) / tests)"
