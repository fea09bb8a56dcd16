#!/usr/bin/env bash
# What a new user does, on a clean clone of the committed tree:
#   1. the README's first command, exactly as written;
#   2. checks that the README's test command is the one CI runs;
#   3. `pip install .` into a fresh virtual environment, then `refsan`
#      from another directory: check, check --format sarif (validated
#      with Microsoft's SARIF Multitool), leaks, and the pytest plugin;
#   4. the pre-commit hook through `pre-commit try-repo`;
#   5. bad input: a clear one-line error, exit 2, nothing on stdout.
# Run by crates/refsan/tests/first_contact.rs (system tier); needs git,
# python3 with venv and pip, network access to PyPI (maturin, pytest,
# pre-commit), and the SARIF Multitool of .ci/install-report.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One target directory for the three builds (README command, wheel, hook).
export CARGO_TARGET_DIR="${REFSAN_FIRST_CONTACT_TARGET:-$work/target}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

fail() { echo "first contact: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "a clean clone"
git clone -q "$root" "$work/clone"
cd "$work/clone"

step "the README's first command, as written"
first=$(awk '/^## Try it/ { on = 1 } on && /^```sh/ { getline; print; exit }' README.md)
[ "$first" = "cargo run --release -- check examples/" ] || fail "unexpected first command: $first"
set +e
bash -c "$first" >"$work/first.out" 2>"$work/first.err"
status=$?
set -e
[ "$status" = 1 ] || { cat "$work/first.err" >&2; fail "first command exited $status (expected 1: the examples have bugs)"; }
grep -q "^Found .* findings" "$work/first.out" || fail "first command printed no summary"
grep -q "error\[RS101\]" "$work/first.out" || fail "first command found no RS101"

step "the README's test command is the one CI runs"
second=$(awk '/^## Try it/ { on = 1 } on && /^```sh/ { n++ } on && n == 2 && !/^```/ { print; exit }' README.md)
grep -qF -- "${second#*&& }" .ci/run || fail "README test command not in .ci/run: $second"

step "pip install . into a fresh venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q . pytest >"$work/pip.log" 2>&1 || { tail -30 "$work/pip.log" >&2; fail "pip install . failed"; }
refsan="$work/venv/bin/refsan"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
"$refsan" --version | grep -q "^refsan " || fail "refsan --version"
set +e
"$refsan" check "$work/clone/examples/wordstats" --format concise >"$work/check.out"
status=$?
set -e
[ "$status" = 1 ] && grep -q "\[RS101\]" "$work/check.out" || fail "installed refsan check (exit $status)"
"$work/venv/bin/python" -m refsan --version | grep -q "^refsan " || fail "python -m refsan"

step "SARIF of a real run, validated"
(cd "$work/clone" && "$refsan" check --format sarif --exit-zero examples/ >"$work/real.sarif")
tool=${REFSAN_SARIF_MULTITOOL:-/opt/refsan-ci/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool}
[ -x "$tool" ] || fail "SARIF Multitool not found at $tool (.ci/install-report.sh installs it)"
"$tool" validate --rule-kind "Sarif;Gh" --level "Error;Warning" --output "$work/verdict.sarif" "$work/real.sarif" >/dev/null 2>&1 || true
python3 - "$work/verdict.sarif" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
bad = [r for run in runs for r in run.get("results", []) if r.get("level") in ("error", "warning")]
for r in bad:
    print(r.get("ruleId"), r["message"].get("text", "")[:200], file=sys.stderr)
sys.exit(1 if bad else 0)
PY

step "refsan leaks and the pytest plugin"
cat >"$work/elsewhere/test_cache.py" <<'PY'
CACHE = []
def test_grows():
    CACHE.append(object())
def test_clean():
    assert sum([1, 2]) == 3
PY
set +e
"$refsan" leaks --python "$work/venv/bin/python" -- "$work/venv/bin/python" -m pytest -q -p no:cacheprovider test_cache.py >"$work/leaks.out" 2>&1
status=$?
set -e
[ "$status" = 1 ] && grep -q "test_grows" "$work/leaks.out" || { cat "$work/leaks.out" >&2; fail "refsan leaks (exit $status)"; }
set +e
"$work/venv/bin/python" -m pytest -q -p refsan --refsan-leaks -p no:cacheprovider test_cache.py >"$work/plugin.out" 2>&1
status=$?
set -e
grep -q "LEAK" "$work/plugin.out" || { cat "$work/plugin.out" >&2; fail "pytest -p refsan --refsan-leaks (exit $status)"; }

step "pre-commit try-repo"
"$work/venv/bin/pip" install -q pre-commit >>"$work/pip.log" 2>&1 || fail "pip install pre-commit"
mkdir -p "$work/project"
cd "$work/project"
git init -q
cp "$work/clone/tests/fixtures/c/rs101_bad.c" leaky.c
git add leaky.c
set +e
"$work/venv/bin/pre-commit" try-repo "$work/clone" refsan --all-files >"$work/hook.out" 2>&1
status=$?
set -e
[ "$status" = 1 ] && grep -q "RS101" "$work/hook.out" || { tail -40 "$work/hook.out" >&2; fail "pre-commit hook (exit $status)"; }

step "bad input: one line on stderr, exit 2, nothing on stdout"
expect_usage_error() {
    local what=$1; shift
    set +e
    "$@" >"$work/bad.out" 2>"$work/bad.err" </dev/null
    local status=$?
    set -e
    [ "$status" = 2 ] || fail "$what: exit $status"
    [ ! -s "$work/bad.out" ] || fail "$what: printed on stdout: $(head -c 200 "$work/bad.out")"
    grep -q . "$work/bad.err" || fail "$what: no error message"
}
expect_usage_error "unknown option value" "$refsan" check --format xml .
expect_usage_error "unknown rule" "$refsan" check --select RS999 --format json .
mkdir -p "$work/nosources"
expect_usage_error "directory without sources" "$refsan" check --format json "$work/nosources"
# (root reads any file: a dangling link is the unreadable file every user
# can make)
ln -s "$work/missing.c" "$work/unreadable.c"
expect_usage_error "unreadable file" "$refsan" check --format json "$work/unreadable.c"
set +e
printf 'int \377x;\n' | "$refsan" check - --format json >"$work/bad.out" 2>"$work/bad.err"
status=$?
set -e
[ "$status" = 2 ] && [ ! -s "$work/bad.out" ] && grep -q "not UTF-8" "$work/bad.err" || fail "stdin that is not UTF-8"

echo "first contact: all good"
