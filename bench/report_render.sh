#!/usr/bin/env bash
# Time to render a large synthetic run in each output format (release build).
# Usage: bench/report_render.sh [FILES] [FINDINGS_PER_FILE]   (default 200 50)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p refsan_report --example render_throughput -- "$@"
