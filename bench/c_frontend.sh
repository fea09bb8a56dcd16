#!/usr/bin/env bash
# Cost of the C/C++ front-end (refsan_c) alone, single-threaded: plain
# tree-sitter parse of the raw files, the front-end's prepare + parse, and
# the full lowering, over every .c/.h file of a source tree.
#
# Usage: bench/c_frontend.sh CORPUS [RUNS]
#   CORPUS  a source tree (e.g. CPython 3.11.2) or a .tar.xz/.tar.gz of one
#   RUNS    timed runs (default 3); each run's numbers are printed
set -euo pipefail

corpus=${1:?usage: bench/c_frontend.sh CORPUS [RUNS]}
runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=bench/corpus.sh
. "$here/bench/corpus.sh"
tree=$(corpus_tree "$corpus" "$work")

cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan_c --example lower_corpus
for run in $(seq 1 "$runs"); do
    echo "--- run $run"
    "$here/target/release/examples/lower_corpus" "$tree"
done
