"""refsan run --asan: imports the AddressSanitizer builds of `refsan build --asan`.

`refsan build --asan` builds a project's extension modules into
build/refsan-asan/ and lists them in its manifest.json, leaving the in-place
modules alone (an ASan module cannot be imported without the ASan runtime
preloaded). `refsan run --asan` puts this file's directory first on
PYTHONPATH and names the manifests in REFSAN_ASAN_MANIFESTS: every module
listed is then imported from its ASan build, whatever sys.path says. The
user's own sitecustomize, if any, runs afterwards.
"""
import importlib.machinery
import importlib.util
import json
import os
import sys


def _load_manifests():
    modules = {}
    for path in os.environ.get("REFSAN_ASAN_MANIFESTS", "").split(os.pathsep):
        if not path:
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                listed = json.load(handle).get("modules", {})
        except (OSError, ValueError):
            continue
        for name, library in listed.items():
            modules.setdefault(name, library)
    return modules


class _AsanBuilds:
    def __init__(self, modules):
        self.modules = modules

    def find_spec(self, fullname, path=None, target=None):
        library = self.modules.get(fullname)
        if library is None or not os.path.isfile(library):
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, library)
        return importlib.util.spec_from_file_location(fullname, library, loader=loader)


_modules = _load_manifests()
if _modules:
    sys.meta_path.insert(0, _AsanBuilds(_modules))

# The user's sitecustomize, which this module shadows.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
if _spec is not None and _spec.origin and os.path.abspath(_spec.origin) != os.path.abspath(__file__):
    _user = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_user)
