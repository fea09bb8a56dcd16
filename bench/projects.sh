#!/usr/bin/env bash
# Fetches pinned sdists (PyPI source tarballs) of popular Python extension
# projects: hand-written C/C++ extensions (several with vendored C
# libraries) and Cython projects (several shipping the Cython-generated
# .c/.cpp files). Each project is unpacked whole, so that its root (the
# directory holding pyproject.toml/setup.py) is $ROOT/src/<name>-<version>.
# bench/projects_report.sh runs refsan on them.
#
# Usage: bench/projects.sh [ROOT]
#   ROOT  destination (default bench/work/projects); archives go to
#         ROOT/dl and are reused, each is checked against its pinned sha256.
# Projects already unpacked are skipped.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$here/bench/work/projects}
mkdir -p "$root/dl" "$root/src"

# name version sdist-url sha256 (from https://pypi.org/pypi/<name>/<version>/json).
packages=(
# Hand-written C/C++.
"ujson 5.11.0 https://files.pythonhosted.org/packages/43/d9/3f17e3c5773fb4941c68d9a37a47b1a79c9649d6c56aefbed87cc409d18a/ujson-5.11.0.tar.gz e204ae6f909f099ba6b6b942131cee359ddda2b6e4ea39c12eb8b991fe2010e0"
"simplejson 3.20.2 https://files.pythonhosted.org/packages/41/f4/a1ac5ed32f7ed9a088d62a59d410d4c204b3b3815722e2ccfb491fa8251b/simplejson-3.20.2.tar.gz 5fe7a6ce14d1c300d80d08695b7f7e633de6cd72c80644021874d985b3393649"
"markupsafe 3.0.3 https://files.pythonhosted.org/packages/7e/99/7690b6d4034fffd95959cbe0c02de8deb3098cc577c67bb6a24fe5d7caa7/markupsafe-3.0.3.tar.gz 722695808f4b6457b320fdc131280796bdceb04ab50fe1795cd540799ebe1698"
"psutil 7.2.1 https://files.pythonhosted.org/packages/73/cb/09e5184fb5fc0358d110fc3ca7f6b1d033800734d34cac10f4136cfac10e/psutil-7.2.1.tar.gz f7583aec590485b43ca601dd9cea0dcd65bd7bb21d30ef4ddbf4ea6b5ed1bdd3"
"regex 2025.11.3 https://files.pythonhosted.org/packages/cc/a9/546676f25e573a4cf00fe8e119b78a37b6a8fe2dc95cda877b30889c9c45/regex-2025.11.3.tar.gz 1fedc720f9bb2494ce31a58a1631f9c82df6a09b49c19517ea5cc280b4541e01"
"greenlet 3.3.0 https://files.pythonhosted.org/packages/c7/e5/40dbda2736893e3e53d25838e0f19a2b417dfc122b9989c91918db30b5d3/greenlet-3.3.0.tar.gz a82bb225a4e9e4d653dd2fb7b8b2d36e4fb25bc0165422a11e48b88e9e6f78fb"
"bitarray 3.8.0 https://files.pythonhosted.org/packages/95/06/92fdc84448d324ab8434b78e65caf4fb4c6c90b4f8ad9bdd4c8021bfaf1e/bitarray-3.8.0.tar.gz 3eae38daffd77c9621ae80c16932eea3fb3a4af141fb7cc724d4ad93eff9210d"
"multidict 6.7.0 https://files.pythonhosted.org/packages/80/1e/5492c365f222f907de1039b91f922b93fa4f764c713ee858d235495d8f50/multidict-6.7.0.tar.gz c6e99d9a65ca282e578dfea819cfa9c0a62b2499d8677392e09feaf305e9e6f5"
"wrapt 2.0.1 https://files.pythonhosted.org/packages/49/2a/6de8a50cb435b7f42c46126cf1a54b2aab81784e74c8595c8e025e8f36d3/wrapt-2.0.1.tar.gz 9c9c635e78497cacb81e84f8b11b23e0aacac7a136e73b8e5b2109a1d9fc468f"
"hiredis 3.3.0 https://files.pythonhosted.org/packages/65/82/d2817ce0653628e0a0cb128533f6af0dd6318a49f3f3a6a7bd1f2f2154af/hiredis-3.3.0.tar.gz 105596aad9249634361815c574351f1bd50455dc23b537c2940066c4a9dea685"
"zstandard 0.25.0 https://files.pythonhosted.org/packages/fd/aa/3e0508d5a5dd96529cdc5a97011299056e14c6505b678fd58938792794b1/zstandard-0.25.0.tar.gz 7713e1179d162cf5c7906da876ec2ccb9c3a9dcbdffef0cc7f70c3667a205f0b"
# Cython.
"aiohttp 3.13.2 https://files.pythonhosted.org/packages/1c/ce/3b83ebba6b3207a7135e5fcaba49706f8a4b6008153b4e30540c982fae26/aiohttp-3.13.2.tar.gz 40176a52c186aefef6eb3cad2cdd30cd06e3afbe88fe8ab2af9c0b90f228daca"
"asyncpg 0.31.0 https://files.pythonhosted.org/packages/fe/cc/d18065ce2380d80b1bcce927c24a2642efd38918e33fd724bc4bca904877/asyncpg-0.31.0.tar.gz c989386c83940bfbd787180f2b1519415e2d3d6277a70d9d0f0145ac73500735"
"cytoolz 1.1.0 https://files.pythonhosted.org/packages/bd/d4/16916f3dc20a3f5455b63c35dcb260b3716f59ce27a93586804e70e431d5/cytoolz-1.1.0.tar.gz 13a7bf254c3c0d28b12e2290b82aed0f0977a4c2a2bf84854fcdc7796a29f3b0"
"httptools 0.7.1 https://files.pythonhosted.org/packages/b5/46/120a669232c7bdedb9d52d4aeae7e6c7dfe151e99dc70802e2fc7a5e1993/httptools-0.7.1.tar.gz abd72556974f8e7c74a259655924a717a2365b236c882c3f6f8a45fe94703ac9"
"yarl 1.22.0 https://files.pythonhosted.org/packages/57/63/0c6ebca57330cd313f6102b16dd57ffaf3ec4c83403dcb45dbd15c6f3ea1/yarl-1.22.0.tar.gz bebf8557577d4401ba8bd9ff33906f1376c877aa78d1fe216ad01b4d6745af71"
"frozenlist 1.8.0 https://files.pythonhosted.org/packages/2d/f5/c831fac6cc817d26fd54c7eaccd04ef7e0288806943f7cc5bbf69f3ac1f0/frozenlist-1.8.0.tar.gz 3ede829ed8d842f6cd48fc7081d7a41001a56f1f38603f9d49bf3020d59a31ad"
"propcache 0.4.1 https://files.pythonhosted.org/packages/9e/da/e9fc233cf63743258bff22b3dfa7ea5baef7b5bc324af47a0ad89b8ffc6f/propcache-0.4.1.tar.gz f48107a8c637e80362555f37ecf49abe20370e557cc4ab374f04ec4423c97c3d"
"srsly 2.5.2 https://files.pythonhosted.org/packages/cf/77/5633c4ba65e3421b72b5b4bd93aa328360b351b3a1e5bf3c90eb224668e5/srsly-2.5.2.tar.gz 4092bc843c71b7595c6c90a0302a197858c5b9fe43067f62ae6a45bc3baa1c19"
"line_profiler 5.0.0 https://files.pythonhosted.org/packages/ea/5c/bbe9042ef5cf4c6cad4bf4d6f7975193430eba9191b7278ea114a3993fbb/line_profiler-5.0.0.tar.gz a80f0afb05ba0d275d9dddc5ff97eab637471167ff3e66dcc7d135755059398c"
"marisa-trie 1.3.1 https://files.pythonhosted.org/packages/c5/e3/c9066e74076b90f9701ccd23d6a0b8c1d583feefdec576dc3e1bb093c50d/marisa_trie-1.3.1.tar.gz 97107fd12f30e4f8fea97790343a2d2d9a79d93697fe14e1b6f6363c984ff85b"
"preshed 3.0.12 https://files.pythonhosted.org/packages/bf/34/eb4f5f0f678e152a96e826da867d2f41c4b18a2d589e40e1dd3347219e91/preshed-3.0.12.tar.gz b73f9a8b54ee1d44529cc6018356896cff93d48f755f29c134734d9371c0d685"
)

for entry in "${packages[@]}"; do
    read -r name version url sha <<<"$entry"
    dest="$root/src/$name-$version"
    if [ -d "$dest" ]; then
        continue
    fi
    archive="$root/dl/$(basename "$url")"
    if [ ! -f "$archive" ] || ! echo "$sha  $archive" | sha256sum -c --status; then
        echo "downloading $name $version"
        curl -fsSL --retry 3 -o "$archive.part" "$url"
        echo "$sha  $archive.part" | sha256sum -c --status \
            || { echo "sha256 mismatch for $name $version" >&2; rm -f "$archive.part"; exit 1; }
        mv "$archive.part" "$archive"
    fi
    echo "unpacking $name $version"
    rm -rf "$dest.part"
    mkdir -p "$dest.part"
    # Every sdist has a single top directory (<name>-<version>); drop it so
    # that $dest is the project root.
    tar -xzf "$archive" -C "$dest.part" --strip-components=1
    mv "$dest.part" "$dest"
done

echo "${#packages[@]} projects in $root/src"
