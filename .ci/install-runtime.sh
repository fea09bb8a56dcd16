#!/usr/bin/env bash
# Installs what refsan's runtime tests (refsan run / build / doctor) need on
# a Debian bookworm machine, as root. Idempotent.
#   apt: gdb, valgrind, gcc (with libasan), python3-dev, python3-dbg (Debian's
#        debug interpreter and the CPython gdb helpers for it)
#   pip: setuptools and Cython for the `python3` on PATH (the tests build
#        extensions against it)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt_packages=(gdb valgrind gcc libc6-dev libasan8 python3-dev python3-dbg python3-setuptools)

missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=$(command -v python3)
if ! "$python" -c 'import setuptools, Cython' 2>/dev/null; then
    "$python" -m pip install --quiet --disable-pip-version-check setuptools cython
fi

# Report what the tests will find: gdb with Python, the ASan runtime, the
# helpers. A missing piece here fails loudly in the tests that need it.
gdb --version | head -n1
valgrind --version
gcc -print-file-name=libasan.so
"$python" -c 'import sys, setuptools, Cython; print(sys.executable, sys.version.split()[0], "setuptools", setuptools.__version__, "Cython", Cython.__version__)'
python3-dbg -c 'import sys; print(sys.executable, "debug build:", hasattr(sys, "gettotalrefcount"))'
