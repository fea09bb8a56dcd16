#!/usr/bin/env bash
# Installs everything refsan's test suite needs beyond Rust, on a Debian
# bookworm machine, as root: gdb, valgrind, the ASan runtime, Debian's debug
# interpreter (python3-dbg), Cython, pytest and setuptools, and the SARIF
# validator. Idempotent: each step checks first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for part in runtime leaks cython report; do
    if [ -f "$here/install-$part.sh" ]; then
        echo "== .ci/install-$part.sh"
        bash "$here/install-$part.sh"
    fi
done
