#!/usr/bin/env bash
# Checks that refsan still reports every real bug of bench/cpython_real_bugs.txt
# (findings of the seeded samples that reading the code showed to be real):
# same file, function and rule, at the listed line or with it among the
# finding's related lines, at any severity. Prints the ones missing and
# exits 1 when there are any.
#
# Usage: bench/real_bugs.sh CORPUS [BINARY]
#   CORPUS  the cpython-3.11.2-c-sources.tar.xz tarball or its unpacked tree
#   BINARY  the refsan to check (default: a release build of this checkout)
set -euo pipefail

corpus=${1:?usage: bench/real_bugs.sh CORPUS [BINARY]}
here=$(cd "$(dirname "$0")/.." && pwd)
binary=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
tree=$(corpus_tree "$corpus" "$work")
if [ -z "$binary" ]; then
    cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
    binary="$here/target/release/refsan"
fi
binary=$(realpath "$binary")
(cd "$tree" && "$binary" check $(no_cache "$binary") --no-config --exit-zero --format json -o "$work/findings.json" .) \
    >/dev/null 2>&1

python3 - "$work/findings.json" "$here/bench/cpython_real_bugs.txt" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))["findings"]
seen = {}
for f in findings:
    lines = {f["line"]} | {e["line"] for e in f.get("related", [])}
    key = (f["path"].removeprefix("./"), f.get("function"), f["code"])
    seen.setdefault(key, set()).update(lines)
missing = []
total = 0
for row in open(sys.argv[2]):
    if row.startswith("#") or not row.strip():
        continue
    path, function, code, line, why = [c.strip() for c in row.split("|", 4)]
    total += 1
    if int(line) not in seen.get((path, function, code), set()):
        missing.append(f"{path}:{line} {function} {code}: {why}")
print(f"{total - len(missing)} of {total} real bugs still reported")
for m in missing:
    print("  missing:", m)
sys.exit(1 if missing else 0)
PY
