#!/usr/bin/env bash
# Installs what the Cython front-end's tests need beyond Rust:
#   - gcc and the headers of the system Python (python3-dev),
#   - Debian's debug interpreter (python3-dbg, with its headers): its
#     reference-count checks turn the seed article's stolen-reference bug
#     into a fatal error the runtime test can observe,
#   - Cython and setuptools for the default python3 (pyenv's build).
# Idempotent: every step checks first and does nothing when satisfied.
set -euo pipefail

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
dpkg -s python3-dev >/dev/null 2>&1 || need_apt+=(python3-dev)
command -v python3-dbg >/dev/null 2>&1 || need_apt+=(python3-dbg)
if ((${#need_apt[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}"
fi

py_missing=()
python3 -c 'import Cython' >/dev/null 2>&1 || py_missing+=(cython)
python3 -c 'import setuptools' >/dev/null 2>&1 || py_missing+=(setuptools)
if ((${#py_missing[@]})); then
    python3 -m pip install --quiet --disable-pip-version-check "${py_missing[@]}"
fi
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi

python3 -c 'import Cython, setuptools'
python3-dbg -c 'import sys; assert hasattr(sys, "gettotalrefcount"), "python3-dbg is not a debug build"'
python3-dbg -c 'import sysconfig, os; assert os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")), "python3-dbg headers missing"'
echo "install-cython: python3 $(python3 -c 'import sys,Cython;print(sys.version.split()[0], "Cython", Cython.__version__)'), python3-dbg $(python3-dbg -c 'import sys;print(sys.version.split()[0])')"
