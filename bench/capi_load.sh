#!/usr/bin/env bash
# Load time of the C-API knowledge base (refsan_capi): first builtin() call,
# repeated parses of the embedded capi.toml, and lookup cost.
# Usage: bench/capi_load.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p refsan_capi --example load_time -- "${1:-50}"
