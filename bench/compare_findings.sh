#!/usr/bin/env bash
# Compares the findings of two refsan builds on every input we have: the
# whole CPython corpus, the Cython corpus of bench/cython_corpus.sh, the rule
# fixtures and the bundled examples. Used to show that a refactoring changes
# no behaviour, or exactly which findings a fix changes.
#
# Usage: bench/compare_findings.sh BASE_REV [CORPUS]
#   BASE_REV  the git revision to compare against (built in a worktree under
#             bench/work/)
#   CORPUS    the cpython-3.11.2-c-sources.tar.xz tarball or its unpacked
#             tree (default: bench/work/cpython when it exists)
#
# Each finding is compared as (path, function, line, rule, message); the
# full records (columns, events, help) are compared too and reported
# separately. Prints the differences; exits 1 when the (path, function,
# line, rule, message) sets differ.
# The Cython corpus is read from $REFSAN_CYTHON_CORPUS (default
# bench/work/cython-corpus, filled by bench/cython_corpus.sh).
set -euo pipefail

base=${1:?usage: bench/compare_findings.sh BASE_REV [CORPUS]}
here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${2:-$here/bench/work/cpython}
cython_tree=${REFSAN_CYTHON_CORPUS:-$here/bench/work/cython-corpus}/src
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
tree=$(corpus_tree "$corpus" "$work")

rev=$(git -C "$here" rev-parse --short "$base")
wt="$here/bench/work/base-$rev"
if [ ! -d "$wt" ]; then
    git -C "$here" worktree add --detach "$wt" "$rev" >/dev/null
fi
CARGO_TARGET_DIR="$here/bench/work/target-base" \
    cargo build --release --quiet --manifest-path "$wt/Cargo.toml" -p refsan
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
old="$here/bench/work/target-base/release/refsan"
new="$here/target/release/refsan"

inputs=("$tree" "$here/tests/fixtures" "$here/examples")
[ -d "$cython_tree" ] && inputs+=("$cython_tree") \
    || echo "note: no Cython corpus at $cython_tree (run bench/cython_corpus.sh)" >&2

for side in old new; do
    bin=${!side}
    : >"$work/$side.jsonl"
    for input in "${inputs[@]}"; do
        (cd "$here" && "$bin" check $(no_cache "$bin") --quiet --no-config --format json -o "$work/$side.json" "$input") || true
        python3 - "$work/$side.json" "$input" >>"$work/$side.jsonl" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
root = sys.argv[2].rstrip("/") + "/"
def rel(p):
    return p[len(root):] if p.startswith(root) else p
for f in d["findings"]:
    key = [rel(f["path"]), f.get("function") or "", f["line"], f["code"], f["message"]]
    full = key + [f["column"], f["end_line"], f["end_column"], f.get("help"),
                  [[rel(e["path"]), e["line"], e["column"], e["message"]] for e in f["events"]]]
    print(json.dumps({"key": key, "full": full}))
for n in d.get("notes", []):
    print(json.dumps({"note": [rel(n["path"]), n["line"], n["message"]]}))
for e in d.get("errors", []):
    print(json.dumps({"error": [rel(e.get("path", "")), e.get("message", "")]}))
PY
    done
done

python3 - "$work/old.jsonl" "$work/new.jsonl" <<'PY'
import collections, json, sys
def load(p):
    keys, fulls, notes, errors = collections.Counter(), collections.Counter(), collections.Counter(), collections.Counter()
    for line in open(p):
        r = json.loads(line)
        if "key" in r:
            keys[json.dumps(r["key"])] += 1
            fulls[json.dumps(r["full"])] += 1
        elif "note" in r:
            notes[json.dumps(r["note"])] += 1
        else:
            errors[json.dumps(r["error"])] += 1
    return keys, fulls, notes, errors
old, new = load(sys.argv[1]), load(sys.argv[2])
status = 0
for i, what in enumerate(["findings (path, function, line, rule, message)",
                          "full finding records (columns, help, events)",
                          "notes", "per-file errors"]):
    gone = old[i] - new[i]
    added = new[i] - old[i]
    print(f"{what}: {sum(old[i].values())} before, {sum(new[i].values())} after, "
          f"{sum(gone.values())} gone, {sum(added.values())} new")
    for k in sorted(gone):
        print("  - " + k)
    for k in sorted(added):
        print("  + " + k)
    if i == 0 and (gone or added):
        status = 1
sys.exit(status)
PY
