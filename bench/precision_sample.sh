#!/usr/bin/env bash
# Draws the random sample of error-level RS1xx findings over CPython's
# Modules/ and Objects/ that BENCHMARKS.md classifies by hand (real bug,
# hazard, false positive), and prints the finding counts per rule and per
# trigger (what it takes for the path to happen).
#
# Usage: bench/precision_sample.sh CORPUS [SEED] [N]
#   CORPUS  the cpython-3.11.2-c-sources.tar.xz tarball or its unpacked tree
#   SEED    random seed (default 20261126), N sample size (default 32)
set -euo pipefail

corpus=${1:?usage: bench/precision_sample.sh CORPUS [SEED] [N]}
seed=${2:-20261126}
n=${3:-32}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
tree=$(corpus_tree "$corpus" "$work")

cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
"$here/target/release/refsan" check --no-cache --no-config --format json \
    "$tree/Modules" "$tree/Objects" >"$work/findings.json" || true

python3 - "$work/findings.json" "$tree" "$seed" "$n" <<'PY'
import collections, json, random, sys
path, tree, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
findings = json.load(open(path))["findings"]
per_rule = collections.Counter(f["code"] for f in findings)
print(f"{len(findings)} findings:", ", ".join(f"{k} {v}" for k, v in sorted(per_rule.items())))
all_rs1 = [f for f in findings if f["code"].startswith("RS1")]
triggers = collections.Counter((f["severity"], f["trigger"]) for f in all_rs1)
print(f"{len(all_rs1)} RS1xx findings by severity and trigger:",
      ", ".join(f"{s}/{t} {v}" for (s, t), v in sorted(triggers.items())))
rs1 = [f for f in all_rs1 if f["severity"] == "error"]
tests = sum(1 for f in rs1 if "_test" in f["path"] or "testcapi" in f["path"])
print(f"{len(rs1)} error-level RS1xx findings, {tests} of them in test modules")
random.seed(seed)
for i, f in enumerate(random.sample(rs1, min(n, len(rs1)))):
    rel = f["path"][len(tree) + 1:] if f["path"].startswith(tree) else f["path"]
    print(f"\n{i:2} {rel}:{f['line']} {f.get('function')} {f['code']}: {f['message']}")
    for e in f.get("events", []):
        print(f"      {e['line']}: {e['message']}")
    call = f.get("failing_call")
    if call:
        print(f"      [{f['trigger']}: {call['name']} fails on line {call['line']}]")
PY
