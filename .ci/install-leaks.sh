#!/usr/bin/env bash
# Installs what `refsan leaks` tests need beyond Rust:
#   - Debian's debug interpreter (python3-dbg) and the headers for both the
#     release and the debug build of the system Python (python3-dev,
#     python3.X-dbg ships the debug headers),
#   - Cython, pytest and setuptools for the default `python3` (pyenv's build),
#   - pytest and setuptools for python3-dbg, so the debug-interpreter tests can
#     build extensions and run the pytest mode there too.
# Idempotent: every step checks first and does nothing when already satisfied.
set -euo pipefail

need_apt=()
command -v python3-dbg >/dev/null 2>&1 || need_apt+=(python3-dbg)
dpkg -s python3-dev >/dev/null 2>&1 || need_apt+=(python3-dev)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)

if ((${#need_apt[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}"
fi

# pytest and setuptools for the debug interpreter come from Debian so they are
# built for its ABI-independent pure-Python path (both are pure Python).
dbg_missing=()
python3-dbg -c 'import pytest' >/dev/null 2>&1 || dbg_missing+=(python3-pytest)
python3-dbg -c 'import setuptools' >/dev/null 2>&1 || dbg_missing+=(python3-setuptools)
if ((${#dbg_missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${dbg_missing[@]}"
fi

# The default python3 (pyenv's release build).
py_missing=()
python3 -c 'import Cython' >/dev/null 2>&1 || py_missing+=(cython)
python3 -c 'import pytest' >/dev/null 2>&1 || py_missing+=(pytest)
python3 -c 'import setuptools' >/dev/null 2>&1 || py_missing+=(setuptools)
if ((${#py_missing[@]})); then
    python3 -m pip install --quiet --disable-pip-version-check "${py_missing[@]}"
fi
# pyenv puts console scripts behind shims; refresh them so `cython` is found.
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi

python3-dbg -c 'import sys; assert hasattr(sys, "gettotalrefcount"), "python3-dbg is not a debug build"'
python3 -c 'import Cython, pytest, setuptools'
python3-dbg -c 'import pytest, setuptools'
echo "install-leaks: python3-dbg $(python3-dbg -c 'import sys;print(sys.version.split()[0], sys.abiflags)'), python3 $(python3 -c 'import sys,Cython;print(sys.version.split()[0], "Cython", Cython.__version__)')"
