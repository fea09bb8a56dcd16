#!/usr/bin/env bash
# Measures what `refsan leaks` costs: the harness's overhead per measured
# run (cache clearing, 3x gc.collect, sampling) and the wall time of whole
# invocations, against the bare cost of calling the same function.
#
# usage: bench/leaks_overhead.sh [PYTHON...]   (default: python3 python3-dbg)
# needs: cargo, gcc, the interpreters with their headers (.ci/install-leaks.sh)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
pythons=("$@")
((${#pythons[@]})) || pythons=(python3 python3-dbg)

cargo build --release -q -p refsan --manifest-path "$root/Cargo.toml"
refsan="$root/target/release/refsan"
work="$root/bench/work/leaks"
rm -rf "$work" && mkdir -p "$work"
cp "$root/crates/refsan/tests/leaks_fixtures/leakcheck.c" "$work/"
cp "$root/crates/refsan/tests/leaks_fixtures/suite/test_mixed.py" "$work/"

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

for py in "${pythons[@]}"; do
    include=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    suffix=$("$py" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
    gcc -shared -fPIC -O2 -I"$include" "$work/leakcheck.c" -o "$work/leakcheck$suffix"
    echo "== $py ($("$py" -c 'import sys; print(sys.version.split()[0], "debug" if hasattr(sys, "gettotalrefcount") else "release")'))"

    # Bare cost: interpreter start-up + import + 9 calls.
    start=$(now)
    (cd "$work" && "$py" -c "import leakcheck
for _ in range(9): leakcheck.new_list_fixed()")
    echo "bare interpreter + 9 calls:                $(elapsed "$start" "$(now)") s"

    for mode in "" "--no-tracemalloc"; do
        start=$(now)
        (cd "$work" && "$refsan" leaks --python "$py" $mode --format json -o "$work/report.json" \
            --call leakcheck:new_list_fixed) || true
        wall=$(elapsed "$start" "$(now)")
        "$py" - "$work/report.json" "$wall" "${mode:-tracemalloc}" <<'PY'
import json, sys
with open(sys.argv[1]) as handle:
    report = json.load(handle)
t = report["targets"][0]["timing"]
print("refsan leaks --call (%-15s) wall %s s | warm-up %.3f s | per measured run %.2f ms (calls %.3f ms, harness %.2f ms)" % (
    sys.argv[3], sys.argv[2], t["warmup_seconds"], t["seconds_per_run"] * 1e3,
    t["call_seconds"] / report["options"]["runs"] * 1e3, t["overhead_seconds_per_run"] * 1e3))
PY
    done

    if "$py" -c "import pytest" 2>/dev/null; then
        start=$(now)
        (cd "$work" && "$py" -m pytest -q -p no:cacheprovider test_mixed.py >/dev/null) || true
        plain=$(elapsed "$start" "$(now)")
        start=$(now)
        (cd "$work" && "$refsan" leaks --python "$py" --format json -o "$work/report.json" \
            -- "$py" -m pytest -q -p no:cacheprovider test_mixed.py >/dev/null 2>&1) || true
        wall=$(elapsed "$start" "$(now)")
        "$py" - "$work/report.json" "$wall" "$plain" <<'PY'
import json, sys
with open(sys.argv[1]) as handle:
    report = json.load(handle)
runs = [t["timing"]["seconds_per_run"] for t in report["targets"] if t.get("timing")]
print("pytest, 4 tests: plain %s s, refsan leaks %s s | per measured run %.1f ms (mean over tests)" % (
    sys.argv[3], sys.argv[2], 1e3 * sum(runs) / max(1, len(runs))))
PY
    fi
done
