#!/usr/bin/env bash
# Functions over the state budget (analysed approximately) and statements
# no explored path reached, for two refsan builds on the same sources: how
# many each build leaves over budget, and which functions only the new one
# leaves over.
#
# Usage: bench/budget_compare.sh OLD_BINARY NEW_BINARY PATH...
#   Each PATH (a project root, a source tree) is checked on its own, as
#   `refsan check PATH` would from the command line.
set -euo pipefail

old=${1:?usage: bench/budget_compare.sh OLD_BINARY NEW_BINARY PATH...}
new=${2:?usage: bench/budget_compare.sh OLD_BINARY NEW_BINARY PATH...}
shift 2
[ $# -gt 0 ] || { echo "no PATH given" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=bench/corpus.sh
. "$(dirname "$0")/corpus.sh"

i=0
for p in "$@"; do
    i=$((i + 1))
    "$old" check $(no_cache "$old") --quiet --no-config --format json -o "$work/old$i.json" "$p" >/dev/null 2>&1 || true
    "$new" check $(no_cache "$new") --quiet --no-config --format json -o "$work/new$i.json" "$p" >/dev/null 2>&1 || true
done

python3 - "$work" "$i" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])

def load(kind):
    over, unreached = set(), 0
    for i in range(1, n + 1):
        notes = json.load(open(f"{work}/{kind}{i}.json"))["notes"]
        for note in notes:
            if "analysed approximately" in note["message"]:
                over.add((note["path"], note["function"]))
            elif "reached by no path" in note["message"]:
                unreached += int(note["message"].split()[0])
    return over, unreached

old, old_unreached = load("old")
new, new_unreached = load("new")
print(f"over budget: {len(old)} (old) -> {len(new)} (new); "
      f"newly over {len(new - old)}, no longer over {len(old - new)}")
print(f"unreached-but-reachable statements: {old_unreached} (old) -> {new_unreached} (new)")
for path, function in sorted(new - old):
    print(f"  newly over: {path} {function}")
PY
