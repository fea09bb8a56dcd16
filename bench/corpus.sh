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
