#!/usr/bin/env bash
# Draws the random sample of error-level RS1xx findings over the projects
# fetched by bench/projects.sh (each project root checked as its users
# would: generated files skipped) that BENCHMARKS.md classifies by hand, and
# prints the counts per trigger (what it takes for the path to happen).
#
# Usage: bench/precision_projects.sh [ROOT] [SEED] [N]
#   ROOT  where bench/projects.sh put the projects (default bench/work/projects)
#   SEED  random seed (default 20261202), N sample size (default 30)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$here/bench/work/projects}
seed=${2:-20261202}
n=${3:-30}
if [ ! -d "$root/src" ] || [ -z "$(ls -A "$root/src")" ]; then
    echo "no projects in $root/src: run bench/projects.sh first" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
for dir in "$root"/src/*/; do
    name=$(basename "$dir")
    timeout 600 "$here/target/release/refsan" check --no-cache --no-config --exit-zero \
        --format json -o "$work/$name.json" "$dir" >/dev/null 2>&1 || true
done

python3 - "$work" "$here" "$seed" "$n" <<'PY'
import collections, glob, json, os, random, sys
work, here, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
findings = []
for path in sorted(glob.glob(os.path.join(work, "*.json"))):
    findings += json.load(open(path))["findings"]
rs1 = [f for f in findings if f["code"].startswith("RS1")]
triggers = collections.Counter((f["severity"], f["trigger"]) for f in rs1)
print(f"{len(rs1)} RS1xx findings by severity and trigger:",
      ", ".join(f"{s}/{t} {v}" for (s, t), v in sorted(triggers.items())))
errors = [f for f in rs1 if f["severity"] == "error"]
print(f"# {len(errors)} error-level RS1xx findings; seeded sample (seed {seed}) of {n}")
random.seed(seed)
for i, f in enumerate(random.sample(errors, min(n, len(errors)))):
    rel = os.path.relpath(f["path"], here)
    print(f"\n## {i} {rel}:{f['line']} function `{f.get('function')}` {f['code']}: {f['message']}")
    for e in f.get("events", []):
        print(f"    {e['line']}: {e['message']}")
    for e in f.get("related", []):
        print(f"    related {e['line']}: {e['message']}")
    call = f.get("failing_call")
    if call:
        print(f"    [{f['trigger']}: `{call['name']}` fails on line {call['line']}]")
PY
