#!/usr/bin/env bash
# Installs what the report layer's tests need beyond Rust: Microsoft's SARIF
# Multitool (from the npm registry), which validates refsan's SARIF output
# against the SARIF 2.1.0 schema and GitHub code scanning's ingestion rules.
# Idempotent; run as root.
set -euo pipefail

VERSION=5.7.0
PREFIX="${REFSAN_CI_TOOLS:-/opt/refsan-ci}/sarif-multitool"
TOOL="$PREFIX/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"

if [ -x "$TOOL" ] && grep -q "\"version\": \"$VERSION\"" "$(dirname "$TOOL")/package.json"; then
    echo "SARIF Multitool $VERSION already installed at $TOOL"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
fi

mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --no-save "@microsoft/sarif-multitool-linux@$VERSION"
# npm may skip the package's own postinstall (which only does this).
chmod u+x "$TOOL"
DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$TOOL" --version >/dev/null 2>&1 || {
    echo "SARIF Multitool at $TOOL does not run" >&2
    exit 1
}
echo "SARIF Multitool $VERSION installed at $TOOL"
