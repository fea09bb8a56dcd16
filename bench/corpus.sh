# Sourced by the benchmark scripts: `corpus_tree CORPUS WORK` prints the
# C source tree of CORPUS, unpacking it into WORK when it is a tarball.
corpus_tree() {
    local corpus=$1 work=$2
    if [ -f "$corpus" ]; then
        tar xf "$corpus" -C "$work"
        echo "$work"
    else
        (cd "$corpus" && pwd)
    fi
}

# `no_cache BINARY` prints `--no-cache` when that refsan has a results
# cache: timings and comparisons measure cold runs (an earlier build given
# as a baseline may predate the flag).
no_cache() {
    if "$1" check --help 2>/dev/null | grep -q -- '--no-cache'; then
        echo "--no-cache"
    fi
}
