#!/usr/bin/env bash
# Wall-time overhead of `refsan run` on workloads that do not crash.
#
# For each workload, runs (RUNS times each, interleaved) the plain program,
# the program with the instrumentation refsan sets (PYTHONMALLOC=debug,
# PYTHONFAULTHANDLER=1) but without refsan, and `refsan run`; prints the
# median wall time of each and the ratios: refsan/plain is what a user pays,
# refsan/instrumented is the cost of refsan's supervision itself (ptrace,
# stderr tee).
#
# Usage: bench/run_overhead.sh [RUNS]     (REFSAN=path to use a given binary)
set -euo pipefail

runs=${1:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${REFSAN:-}" ]]; then
    cargo build --release -q -p refsan --manifest-path "$root/Cargo.toml"
    REFSAN="$root/target/release/refsan"
fi
# The real interpreter, not a pyenv shim: refsan looks through shims, the
# plain runs would not, and the comparison would measure pyenv.
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
work="$root/bench/work/run_overhead"
mkdir -p "$work"

cat > "$work/compute.py" <<'PY'
# Object-heavy pure Python: allocation, dicts, lists, strings.
d = {}
for i in range(400_000):
    d[str(i)] = [i, i * 2, (i, str(i))]
print(sum(len(v) for v in d.values()))
PY
cat > "$work/threads.py" <<'PY'
# Threads and a little I/O on stderr.
import sys, threading
def work(n):
    s = 0
    for i in range(150_000):
        s += i % n
    sys.stderr.write("done %d\n" % n)
ts = [threading.Thread(target=work, args=(k,)) for k in range(2, 10)]
for t in ts: t.start()
for t in ts: t.join()
PY
cat > "$work/subprocesses.py" <<'PY'
# Child processes (each one traced too).
import subprocess, sys
for _ in range(20):
    subprocess.run([sys.executable, "-c", "pass"], check=True)
PY
cat > "$work/startup.py" <<'PY'
pass
PY

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "%-14s %12s %14s %12s %10s %14s\n" workload "plain (s)" "instrumented" "refsan (s)" "x plain" "x instrumented"
for workload in startup compute threads subprocesses; do
    : > "$work/plain.t"; : > "$work/instr.t"; : > "$work/refsan.t"
    for ((i = 0; i < runs; i++)); do
        t0=$(now_ns); "$python" "$work/$workload.py" >/dev/null 2>&1; t1=$(now_ns)
        echo $((t1 - t0)) >> "$work/plain.t"
        t0=$(now_ns); PYTHONMALLOC=debug PYTHONFAULTHANDLER=1 "$python" "$work/$workload.py" >/dev/null 2>&1; t1=$(now_ns)
        echo $((t1 - t0)) >> "$work/instr.t"
        t0=$(now_ns); "$REFSAN" run -- "$python" "$work/$workload.py" >/dev/null 2>&1; t1=$(now_ns)
        echo $((t1 - t0)) >> "$work/refsan.t"
    done
    p=$(median < "$work/plain.t"); m=$(median < "$work/instr.t"); r=$(median < "$work/refsan.t")
    awk -v w="$workload" -v p="$p" -v m="$m" -v r="$r" 'BEGIN {
        printf "%-14s %12.3f %14.3f %12.3f %10.2f %14.2f\n", w, p/1e9, m/1e9, r/1e9, r/p, r/m }'
done
echo "($runs runs each, median wall time; python: $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])'))"
