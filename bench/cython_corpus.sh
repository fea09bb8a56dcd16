#!/usr/bin/env bash
# Robustness and speed of the Cython front-end on the Cython sources of
# large public packages (pinned sdists from PyPI): every .pyx/.pxd/.pxi file
# is lowered (no panic, no hang, every function valid) and checked with
# `refsan check`; reports files, lines, time, parse problems, approximate
# functions and findings per rule.
#
# Usage: bench/cython_corpus.sh [RUNS]
#   RUNS  timed runs of each command (default 3; the median is reported)
# Downloads go to $REFSAN_CYTHON_CORPUS (default bench/work/cython-corpus)
# and are reused; each archive is checked against its pinned sha256.
set -euo pipefail

runs=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${REFSAN_CYTHON_CORPUS:-$here/bench/work/cython-corpus}
mkdir -p "$cache/dl" "$cache/src"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name version sdist-url sha256 (URLs as PyPI's simple index lists them).
packages=(
"lxml 5.3.0 https://files.pythonhosted.org/packages/e7/6b/20c3a4b24751377aaa6307eb230b66701024012c29dd374999cc92983269/lxml-5.3.0.tar.gz 4e109ca30d1edec1ac60cdbe341905dc3b8f55b16855e03a54aaf59e51ec8c6f"
"pyyaml 6.0.2 https://files.pythonhosted.org/packages/54/ed/79a089b6be93607fa5cdaedf301d7dfb23af5f25c398d5ead2525b063e17/pyyaml-6.0.2.tar.gz d584d9ec91ad65861cc08d42e834324ef890a082e591037abe114850ff7bbc3e"
"msgpack 1.1.0 https://files.pythonhosted.org/packages/cb/d0/7555686ae7ff5731205df1012ede15dd9d927f6227ea151e901c7406af4f/msgpack-1.1.0.tar.gz dd432ccc2c72b914e4cb77afce64aab761c1137cc698be3984eee260bcb2896e"
"uvloop 0.21.0 https://files.pythonhosted.org/packages/af/c0/854216d09d33c543f12a44b393c402e89a920b1a0a7dc634c42de91b9cf6/uvloop-0.21.0.tar.gz 3bf12b0fda68447806a7ad847bfa591613177275d35b6724b1ee573faa3704e3"
"pandas 2.2.3 https://files.pythonhosted.org/packages/9c/d6/9f8431bacc2e19dca897724cd097b1bb224a6ad5433784a44b587c7c13af/pandas-2.2.3.tar.gz 4f18ba62b61d7e192368b84517265a99b4d7ee8912f8708660fb4a366cc82667"
"scikit-learn 1.5.2 https://files.pythonhosted.org/packages/37/59/44985a2bdc95c74e34fef3d10cb5d93ce13b0e2a7baefffe1b53853b502d/scikit_learn-1.5.2.tar.gz b4237ed7b3fdd0a4882792e68ef2545d5baa50aca3bb45aa7df468138ad8f94d"
)

for entry in "${packages[@]}"; do
    read -r name version url sha <<<"$entry"
    archive="$cache/dl/$(basename "$url")"
    if [ ! -f "$archive" ] || ! echo "$sha  $archive" | sha256sum -c --status; then
        echo "downloading $name $version"
        curl -fsSL --retry 3 -o "$archive.part" "$url"
        echo "$sha  $archive.part" | sha256sum -c --status \
            || { echo "sha256 mismatch for $name $version" >&2; exit 1; }
        mv "$archive.part" "$archive"
    fi
    dest="$cache/src/$name-$version"
    if [ ! -d "$dest" ]; then
        mkdir -p "$dest.part"
        # The Cython sources, their Tempita templates, and the files that
        # mark the project's root (refsan reads a file with its project).
        tar -xzf "$archive" -C "$dest.part" --wildcards '*.pyx' '*.pxd' '*.pxi' \
            '*.pyx.in' '*.pxd.in' '*.pxi.in' '*.pyx.tp' '*.pxd.tp' '*.pxi.tp' \
            '*/pyproject.toml' '*/setup.py' '*/setup.cfg' '*/meson.build' 2>/dev/null || true
        mv "$dest.part" "$dest"
    fi
done

tree="$cache/src"
echo "== corpus"
for d in "$tree"/*; do
    files=$(find "$d" \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) | wc -l)
    lines=$(find "$d" \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -print0 | xargs -0 cat | wc -l)
    printf '  %-22s %4d files %7d lines\n' "$(basename "$d")" "$files" "$lines"
done

cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p refsan_cython --example pyx_lower_corpus
refsan="$here/target/release/refsan"
lower="$here/target/release/examples/pyx_lower_corpus"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== front-end alone (one thread): lowering, parse problems, approximate functions"
timeout 600 "$lower" "$tree" 2>"$work/lower_err" | tee "$work/lower_out"


echo "== refsan check (all CPUs, $(nproc) here), $runs runs"
: >"$work/times"
for run in $(seq 1 "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/t" timeout 600 "$refsan" check $(no_cache "$refsan") --quiet --no-config \
        --format json -o "$work/report.json" "$tree" >/dev/null 2>"$work/check_err" || true
    tail -n 1 "$work/t" >>"$work/times"
    if grep -q panicked "$work/check_err"; then
        echo "refsan panicked:" >&2; cat "$work/check_err" >&2; exit 1
    fi
done
wall=$(awk '{print $1}' "$work/times" | median)
rss=$(awk '{print $2}' "$work/times" | median)
lines=$(find "$tree" \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -print0 | xargs -0 cat | wc -l)
echo "  wall ${wall}s (median), peak RSS ${rss} KiB, $(awk -v l="$lines" -v w="$wall" 'BEGIN{printf "%.0f", l/w}') lines/s"
python3 - "$work/report.json" <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
fs = d.get("findings", [])
errors = d.get("errors", [])
by = collections.Counter(f["code"] for f in fs)
print(f"  findings {len(fs)}: " + (", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"))
print(f"  per-file errors {len(errors)}, notes {len(d.get('notes', []))}")
notes = d.get("notes", [])
unreached = [n for n in notes if "reached by no path" in n["message"]]
approx = [n for n in notes if "analysed approximately" in n["message"]]
stmts = sum(int(n["message"].split()[0]) for n in unreached)
print(f"  unreached-but-reachable statements: {stmts} in {len(unreached)} functions; "
      f"functions over budget: {len(approx)}")
PY
