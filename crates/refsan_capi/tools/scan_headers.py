#!/usr/bin/env python3
"""Report in which CPython versions the names of capi.toml are declared.

Usage: scan_headers.py CAPI_TOML VERSION=INCLUDE_DIR [VERSION=INCLUDE_DIR ...]
e.g.   scan_headers.py data/capi.toml 3.12=/usr/include/python3.12 3.13=...

Give the versions in increasing order. Headers under `internal/` are skipped
(they are not public API). For each name the script prints the first and last
version whose headers mention it and compares them with the `added` and
`removed` recorded in capi.toml, so the version groups at the end of
overrides.toml can be extended when a new CPython comes out. A mention in a
comment counts as a declaration: check the names it reports by hand.
"""
import os
import re
import sys

IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
ENTRY = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*) = \{(.*)\}$')


def identifiers(include_dir):
    found = set()
    for directory, _, files in os.walk(include_dir):
        if "internal" in directory.split(os.sep):
            continue
        for name in files:
            if name.endswith(".h"):
                with open(os.path.join(directory, name), errors="replace") as header:
                    found.update(IDENT.findall(header.read()))
    return found


def main(argv):
    if len(argv) < 3 or any("=" not in a for a in argv[2:]):
        sys.exit(__doc__)
    entries = {}
    with open(argv[1]) as capi:
        for line in capi:
            match = ENTRY.match(line.strip())
            if match:
                fields = dict(re.findall(r'(added|removed) = "([0-9.]+)"', match.group(2)))
                entries[match.group(1)] = fields
    versions = [a.split("=", 1) for a in argv[2:]]
    present = {v: identifiers(d) for v, d in versions}
    order = [v for v, _ in versions]
    for name, recorded in sorted(entries.items()):
        seen = [v for v in order if name in present[v]]
        if not seen:
            print(f"{name}: in none of the given headers (recorded {recorded or 'nothing'})")
            continue
        first = None if seen[0] == order[0] else seen[0]
        gone = None
        if seen[-1] != order[-1]:
            gone = order[order.index(seen[-1]) + 1]
        if recorded.get("added") != first or recorded.get("removed") != gone:
            print(f"{name}: headers say added={first} removed={gone}, capi.toml says {recorded}")


if __name__ == "__main__":
    main(sys.argv)
