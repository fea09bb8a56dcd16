"""refsan leak harness: calls a target repeatedly and measures what grows.

This file is embedded in the refsan binary and written to a temporary
directory at run time; it runs inside the user's interpreter (CPython 3.8 and
newer, release or debug build) and must not depend on anything outside the
standard library.

Method (the one CPython's own test runner uses for ``-R``): warm-up runs
first, so caches, interned strings and lazily created objects settle; then
measured runs, each followed by clearing the usual caches and ``gc.collect()``,
after which the counters are sampled.  The delta of a run is the difference
between two consecutive samples.  This file only measures; the verdict (the
noise rule) is computed by refsan from the raw deltas.

Counters sampled after every run, stored in ``array.array`` so that sampling
allocates no object that outlives the sample:

* ``refs``   ``sys.gettotalrefcount()`` (debug builds only),
* ``blocks`` ``sys.getallocatedblocks()`` (every build),
* ``bytes``  memory traced by tracemalloc (when enabled),
* the reference count of every argument passed to the target.

Live objects by type and tracemalloc allocation sites are compared between
the start and the end of the measured runs (taking those snapshots allocates
too much to do it per run).

Results travel to refsan as JSON lines in a file whose path refsan chooses,
never through the user's stdout or stderr.
"""

import array
import faulthandler
import gc
import importlib
import importlib.machinery
import json
import os
import platform
import sys
import sysconfig
import time
import traceback
import warnings

PROTOCOL_VERSION = 1

# Reference counts at or above this value are pinned (immortal objects,
# CPython 3.12+: _Py_IMMORTAL_REFCNT is UINT_MAX >> 2 on 64-bit builds).
IMMORTAL_REFCNT_FLOOR = (1 << 30) - 1

# Symbols that only an extension compiled against debug headers references:
# the inline Py_INCREF/Py_DECREF of a debug build update the total refcount.
DEBUG_HEADER_SYMBOLS = (
    b"_Py_RefTotal",
    b"_Py_IncRefTotal",
    b"_Py_DecRefTotal",
    b"_Py_NegativeRefcount",
)

MAX_EXTENSION_SCAN_BYTES = 64 * 1024 * 1024
REPR_LIMIT = 80


class HarnessError(Exception):
    """A problem with the user's request (bad target, setup that raises...)."""


class StopMeasurement(Exception):
    """Raised by an invoker when measuring makes no sense (a skipped test)."""

    def __init__(self, status, detail):
        Exception.__init__(self, detail)
        self.status = status
        self.detail = detail


class EventWriter:
    """Writes protocol events as JSON lines, flushed one by one.

    Flushing each line matters: when the process crashes, refsan still knows
    which target was running from the last ``target_start``.
    """

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8")

    def emit(self, event, **fields):
        fields["event"] = event
        self._file.write(json.dumps(fields, default=repr) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()


def interpreter_info():
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "abiflags": getattr(sys, "abiflags", ""),
        "debug_build": hasattr(sys, "gettotalrefcount"),
        "trace_refs": hasattr(sys, "getobjects"),
        "immortal_objects": sys.version_info >= (3, 12),
        "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
    }


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------
# Cache clearing between runs (after CPython's Lib/test/libregrtest).


class CacheCleaner:
    """Restores global state that code under test fills as a side effect.

    Without this, a regex compiled, a warning shown once or an ABC check
    cached during a run would look like growth.
    """

    def __init__(self):
        import copyreg

        self._warning_filters = warnings.filters[:]
        self._dispatch_table = copyreg.dispatch_table.copy()
        self._importer_cache = sys.path_importer_cache.copy()

    def clean(self):
        import copyreg

        warnings.filters[:] = self._warning_filters
        copyreg.dispatch_table.clear()
        copyreg.dispatch_table.update(self._dispatch_table)
        sys.path_importer_cache.clear()
        sys.path_importer_cache.update(self._importer_cache)
        _clear_abc_caches()
        _clear_module_caches()
        # Last: the calls above may have looked up methods again. (The
        # method cache keeps the names it was last asked about alive: not
        # cleared, it grows by a name or two on many runs.)
        clear_internal = getattr(sys, "_clear_internal_caches", None)
        if clear_internal is not None:  # 3.13 deprecates _clear_type_cache
            clear_internal()
        else:
            sys._clear_type_cache()


def _clear_abc_caches():
    abc_module = sys.modules.get("collections.abc")
    if abc_module is None:
        return
    import inspect

    for name in getattr(abc_module, "__all__", ()):
        cls = getattr(abc_module, name, None)
        if cls is None or not inspect.isabstract(cls):
            continue
        for klass in cls.__subclasses__() + [cls]:
            clear = getattr(klass, "_abc_caches_clear", None)
            if clear is not None:
                clear()


def _clear_module_caches():
    for module in list(sys.modules.values()):
        if module is not None and hasattr(module, "__warningregistry__"):
            try:
                del module.__warningregistry__
            except (AttributeError, TypeError):
                pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    modules = sys.modules
    if "re" in modules:
        modules["re"].purge()
    if "_strptime" in modules:
        modules["_strptime"]._regex_cache.clear()
    if "urllib.parse" in modules:
        modules["urllib.parse"].clear_cache()
    if "linecache" in modules:
        modules["linecache"].clearcache()
    if "mimetypes" in modules:
        modules["mimetypes"]._default_mime_types()
    if "filecmp" in modules:
        modules["filecmp"]._cache.clear()
    if "struct" in modules:
        modules["struct"]._clearcache()
    if "doctest" in modules:
        modules["doctest"].master = None
    if "ctypes" in modules:
        reset = getattr(modules["ctypes"], "_reset_cache", None)
        if reset is not None:
            reset()
    typing = modules.get("typing")
    if typing is not None:
        for cleanup in getattr(typing, "_cleanups", ()):
            cleanup()


def collect_garbage():
    # Finalizers can resurrect objects or free more on a later pass; a pass
    # that finds nothing unreachable ends it.
    for _ in range(3):
        if gc.collect() == 0:
            break


# ---------------------------------------------------------------------------
# Arguments whose reference counts are watched.


def is_immortal(obj):
    check = getattr(sys, "_is_immortal", None)
    if check is not None:
        return bool(check(obj))
    if sys.version_info < (3, 12):
        return False
    return sys.getrefcount(obj) >= IMMORTAL_REFCNT_FLOOR


def safe_repr(obj):
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not stop measuring
        text = "<repr failed: %s>" % type(exc).__name__
    if len(text) > REPR_LIMIT:
        text = text[: REPR_LIMIT - 3] + "..."
    return text


def type_label(tp):
    module = getattr(tp, "__module__", None) or "?"
    name = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", "?")
    return "%s.%s" % (module, name)


class WatchedArguments:
    """Arguments passed to the target, with a guard against early frees.

    The guard adds extra references to every argument for the whole
    measurement: a target that releases a borrowed argument on every call
    (an extra Py_DECREF) then shrinks its reference count on every run, which
    is reported, instead of freeing it mid-measurement and crashing.

    The extra references are taken through the C API (``Py_IncRef``), not by
    storing the argument in a container: the cyclic garbage collector of a
    debug build checks that no object is referenced by more containers than
    its reference count says, and an argument that lost references would
    fail that check.  After an argument lost references the process must not
    finalize it: ``damaged`` tells the caller to leave with ``os._exit``.
    """

    def __init__(self, args, kwargs, total_calls):
        self.objects = list(args) + list(kwargs.values())
        self.labels = ["args[%d]" % i for i in range(len(args))] + [
            "kwargs[%r]" % key for key in kwargs
        ]
        self.guard_size = total_calls + 16
        self.guarded = False
        self.guard_error = None
        try:
            import ctypes

            self._incref = ctypes.pythonapi.Py_IncRef
            self._decref = ctypes.pythonapi.Py_DecRef
            self._incref.argtypes = [ctypes.py_object]
            self._decref.argtypes = [ctypes.py_object]
        except (ImportError, AttributeError, OSError) as exc:
            self.guard_error = "%s: %s" % (type(exc).__name__, exc)
            return
        for obj in self.objects:
            for _ in range(self.guard_size):
                self._incref(obj)
        self.guarded = True

    def release(self):
        """Drops the guard references (only when no argument was damaged)."""
        if not self.guarded:
            return
        self.guarded = False
        for obj in self.objects:
            for _ in range(self.guard_size):
                self._decref(obj)

    def describe(self):
        return [
            {
                "label": label,
                "type": type_label(type(obj)),
                "repr": safe_repr(obj),
                "immortal": is_immortal(obj),
            }
            for label, obj in zip(self.labels, self.objects)
        ]


# ---------------------------------------------------------------------------
# Live objects by type.


def live_objects():
    getobjects = getattr(sys, "getobjects", None)
    if getobjects is not None:  # Py_TRACE_REFS builds list every object
        return getobjects(0)
    return gc.get_objects()


def count_types(exclude=()):
    """Live objects by type; ``exclude``: objects of the harness's own."""
    skip = set()
    skip.add(id(skip))
    skip.add(id(exclude))
    for obj in exclude:
        skip.add(id(obj))
    counts = {}
    skip.add(id(counts))
    for obj in live_objects():
        if id(obj) in skip:
            continue
        tp = type(obj)
        counts[tp] = counts.get(tp, 0) + 1
    return counts


def type_growth(before, after, top):
    # By name: a class a test defines on every run is a new type object
    # each time, and its instances must still add up to one row.
    by_label = {}
    for counts, sign in ((after, 1), (before, -1)):
        for tp, count in counts.items():
            label = type_label(tp)
            by_label[label] = by_label.get(label, 0) + sign * count
    growth = [(diff, label) for label, diff in by_label.items() if diff > 0]
    growth.sort(key=lambda item: (-item[0], item[1]))
    return [{"type": label, "growth": diff} for diff, label in growth[:top]]


# ---------------------------------------------------------------------------
# tracemalloc allocation sites.


class AllocationSites:
    """Compares tracemalloc snapshots and names the site of each growth.

    The site of a trace is found from its most recent frame:

    * a line of the invoker that calls the target: the allocation happened in
      native code (a C or Cython function has no Python frame), so the site
      is the target itself;
    * any other line of refsan's helpers: refsan's own bookkeeping, ignored;
    * pytest and pluggy frames are looked through to the frame that called
      them;
    * anything else is the user's code: that file and line.
    """

    def __init__(self, nframe, helper_files, transparent_dirs, native_lines, native_label):
        import tracemalloc

        self._tracemalloc = tracemalloc
        self._helper_files = set(os.path.normcase(p) for p in helper_files)
        self._helper_files.add(os.path.normcase(tracemalloc.__file__))
        self._transparent = tuple(
            os.path.normcase(os.path.join(d, "")) for d in transparent_dirs
        )
        self._native_lines = set(
            (os.path.normcase(f), line) for f, line in native_lines
        )
        self._native_label = native_label
        self._nframe = nframe
        self._before = None
        self._started = False

    def start(self):
        self._started = not self._tracemalloc.is_tracing()
        if self._started:
            self._tracemalloc.start(self._nframe)

    def stop(self):
        """Stops tracing if ``start`` started it."""
        if self._started:
            self._started = False
            self._tracemalloc.stop()

    def traced_bytes(self):
        return self._tracemalloc.get_traced_memory()[0]

    def snapshot_before(self):
        self._before = self._take()

    def _take(self):
        snapshot = self._tracemalloc.take_snapshot()
        return snapshot.filter_traces(
            [self._tracemalloc.Filter(False, self._tracemalloc.__file__)]
        )

    def _site_of(self, traceback_frames):
        """(file, line, native) of a traceback, or None for refsan's own."""
        # Frames are ordered oldest first; the most recent is last.
        for frame in reversed(traceback_frames):
            filename = os.path.normcase(frame.filename)
            if (filename, frame.lineno) in self._native_lines:
                return (self._native_label, 0, True)
            if filename in self._helper_files:
                return None
            if filename.startswith(self._transparent):
                continue
            return (frame.filename, frame.lineno, False)
        return None

    def growth(self, top):
        after = self._take()
        sites = {}
        for diff in after.compare_to(self._before, "traceback"):
            if diff.size_diff == 0 and diff.count_diff == 0:
                continue
            key = self._site_of(diff.traceback)
            if key is None:
                continue
            entry = sites.setdefault(key, [0, 0])
            entry[0] += diff.size_diff
            entry[1] += diff.count_diff
        self._before = None
        ranked = [
            (size, count, key) for key, (size, count) in sites.items() if size > 0
        ]
        ranked.sort(key=lambda item: (-item[0], item[2][0], item[2][1]))
        return [
            {
                "file": key[0],
                "line": key[1],
                "native": key[2],
                "size_diff": size,
                "count_diff": count,
            }
            for size, count, key in ranked[:top]
        ]


def code_lines(function):
    """(file, line) of every line of ``function``'s code."""
    import dis

    code = function.__code__
    filename = code.co_filename
    return [(filename, line) for _, line in dis.findlinestarts(code) if line]


# ---------------------------------------------------------------------------
# Failures of the target (an exception on a call is measured, not fatal:
# that is how a leak on an error path is found).


class FailureLog:
    def __init__(self):
        self.count = array.array("q", [0])
        self.first = None

    def record(self, exc):
        self.count[0] += 1
        if self.first is None:
            self.first = {
                "type": type_label(type(exc)),
                "message": safe_repr(str(exc)),
                "traceback": "".join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__)
                )[-4000:],
            }

    def reset(self):
        self.count[0] = 0
        self.first = None

    def record_text(self, kind, text):
        self.count[0] += 1
        if self.first is None:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            # pytest's long report ends with "file:line: Error" and starts
            # the failing line with "E   ".
            errors = [line[1:].strip() for line in lines if line.startswith("E ")]
            message = errors[0] if errors else (lines[-1] if lines else "")
            self.first = {"type": kind, "message": message[:300], "traceback": text[-4000:]}

    def as_json(self):
        if self.first is None:
            return None
        result = dict(self.first)
        result["calls"] = self.count[0]
        return result


# ---------------------------------------------------------------------------
# The measurement itself.


class SiteAttribution:
    """How allocation sites are named for one kind of target (see AllocationSites)."""

    def __init__(self, helper_files, transparent_dirs, native_lines, native_label):
        self.helper_files = helper_files
        self.transparent_dirs = transparent_dirs
        self.native_lines = native_lines
        self.native_label = native_label


def measure(invoke, options, attribution, watched=None, failures=None):
    """Runs ``invoke`` through warm-up and measured runs; returns raw data.

    ``invoke()`` performs one call of the target and must catch the target's
    own exceptions (see FailureLog); it may raise StopMeasurement.

    Tracing allocations makes every call several times slower, so a first
    pass runs untraced and stops as soon as no counter can be found growing
    (or shrinking) on every run any more: the noise rule would call it
    steady whatever the remaining runs show. Only a target that grew (or
    shrank) on every run of that pass is measured again, traced, for its
    bytes and allocation sites; the report of such a target is that second
    pass, so a leak is seen in two passes.
    """
    first = _measure_pass(invoke, options, attribution, watched, traced=False)
    unsettled = first.pop("unsettled")
    if not options["tracemalloc"] or not unsettled:
        return first
    if failures is not None:
        failures.reset()
    second = _measure_pass(invoke, options, attribution, watched, traced=True)
    second.pop("unsettled")
    return second


def _measure_pass(invoke, options, attribution, watched, traced):
    """One pass of warm-up and measured runs. Untraced, it stops early once
    every counter is settled (see ``measure``)."""
    warmup = int(options["warmup"])
    runs = int(options["runs"])
    calls_per_run = int(options["calls_per_run"])
    top = int(options["top"])
    debug_build = hasattr(sys, "gettotalrefcount")
    interned_size = getattr(sys, "getunicodeinternedsize", None)
    stop_early = not traced

    sites = None
    if traced:
        sites = AllocationSites(
            int(options["tracemalloc_frames"]),
            attribution.helper_files,
            attribution.transparent_dirs,
            attribution.native_lines,
            attribution.native_label,
        )
        # Started before the warm-up so that tracemalloc's own tables settle.
        sites.start()

    cleaner = CacheCleaner()
    # Warm-up and measured runs go through the same loop, so that the loop's
    # own code is warm too (CPython 3.11+ specializes bytecode on first use).
    # Everything the loop touches exists before the first sample: a float or
    # an iterator created after it would count as growth.
    total_runs = warmup + runs
    samples = total_runs + 1
    refs = array.array("q", [0] * samples)
    blocks = array.array("q", [0] * samples)
    traced_bytes = array.array("q", [0] * samples)
    call_started = array.array("d", [0.0] * samples)
    call_ended = array.array("d", [0.0] * samples)
    arg_objects = watched.objects if watched is not None else []
    width = len(arg_objects)
    arg_counts = array.array("q", [0] * (samples * width))
    # Per counter (refs, blocks, then each argument): whether it may still
    # grow (every delta so far >= 1) or shrink (every delta <= -1).
    may_grow = array.array("b", [1] * (2 + width))
    may_shrink = array.array("b", [1] * (2 + width))
    if not debug_build:
        may_grow[0] = may_shrink[0] = 0
    counters = list(range(2 + width))
    last = array.array("q", [0])
    call_range = list(range(calls_per_run))
    arg_range = list(range(width))
    snapshots = [None]
    getrefcount = sys.getrefcount
    getallocatedblocks = sys.getallocatedblocks
    gettotalrefcount = getattr(sys, "gettotalrefcount", None)
    clock = time.perf_counter

    def sample(index):
        interned = interned_size() if interned_size is not None else 0
        blocks[index] = getallocatedblocks() - interned
        if gettotalrefcount is not None:
            refs[index] = gettotalrefcount() - interned * 2
        if sites is not None:
            traced_bytes[index] = sites.traced_bytes()
        for j in arg_range:
            arg_counts[index * width + j] = getrefcount(arg_objects[j])

    def settled(index):
        # True when no counter grew (or shrank) on every run up to index:
        # the noise rule of refsan's noise.rs, which judges the deltas.
        for c in counters:
            if c == 0:
                delta = refs[index] - refs[index - 1]
            elif c == 1:
                delta = blocks[index] - blocks[index - 1]
            else:
                j = c - 2
                delta = arg_counts[index * width + j] - arg_counts[(index - 1) * width + j]
            if delta < 1:
                may_grow[c] = 0
            if delta > -1:
                may_shrink[c] = 0
        for c in counters:
            if may_grow[c] or may_shrink[c]:
                return False
        return True

    def snapshot_live_objects():
        # Allocates a lot; its result lives until the end, so the sample
        # before the first measured run is taken again after it. Types are
        # counted before tracemalloc's snapshot exists, and again after it
        # is gone, so that its own tuples are in neither count.
        snapshots[0] = count_types()
        if sites is not None:
            sites.snapshot_before()
        cleaner.clean()
        collect_garbage()

    run_iterator = iter(range(1, samples))
    # Bound before the first sample: binding a name to an int takes a
    # reference that a debug build's total would count.
    index = 0
    _ = call_range[-1] if call_range else None
    cleaner.clean()
    collect_garbage()
    # What exists now outlives the runs: the collector need not scan it
    # again after every run (a collection of a suite's objects costs
    # milliseconds; of what a run leaves, microseconds).
    frozen = hasattr(gc, "freeze")
    if frozen:
        gc.freeze()
    started = clock()
    sample(0)
    for index in run_iterator:
        if index == warmup + 1:
            snapshot_live_objects()
            sample(warmup)
        call_started[index] = clock()
        for _ in call_range:
            invoke()
        call_ended[index] = clock()
        cleaner.clean()
        collect_garbage()
        sample(index)
        last[0] = index
        if stop_early and index > warmup and settled(index):
            break
    finished = clock()
    measured_runs = max(0, last[0] - warmup)

    site_growth = []
    if sites is not None:
        site_growth = sites.growth(top)
        sites.stop()
        collect_garbage()
    type_before = snapshots[0]
    snapshots[0] = None
    # Counted as the first count was: frozen objects left out.
    type_after = count_types(exclude=[type_before, site_growth] + site_growth)
    if frozen:
        gc.unfreeze()
    types = type_growth(type_before, type_after, top)
    del type_before, type_after

    measured = range(warmup + 1, warmup + 1 + measured_runs)

    def deltas(series):
        return [series[k] - series[k - 1] for k in measured]

    unsettled = False
    for c in counters:
        if may_grow[c] or may_shrink[c]:
            unsettled = True
    arguments = []
    if watched is not None:
        for j, description in enumerate(watched.describe()):
            description["deltas"] = [
                arg_counts[k * width + j] - arg_counts[(k - 1) * width + j]
                for k in measured
            ]
            arguments.append(description)

    # The time outside the calls (cache clearing, gc, sampling) is the
    # harness's overhead.
    first_measured = call_started[warmup + 1] if measured_runs else finished
    return {
        "warmup": warmup,
        "runs": measured_runs,
        "calls_per_run": calls_per_run,
        "unsettled": unsettled,
        "series": {
            "refs": deltas(refs) if debug_build else None,
            "blocks": deltas(blocks),
            "bytes": deltas(traced_bytes) if sites is not None else None,
        },
        "arguments": arguments,
        "types": types,
        "sites": site_growth,
        "timing": {
            "warmup_seconds": first_measured - started,
            "measure_seconds": finished - first_measured,
            "call_seconds": sum(call_ended[k] - call_started[k] for k in measured),
        },
    }


def arguments_damaged(result):
    """True when a watched argument lost references on every run."""
    for argument in result.get("arguments", ()):
        if argument["deltas"] and all(d < 0 for d in argument["deltas"]):
            return True
    return False


# ---------------------------------------------------------------------------
# Extensions built for another ABI.


def abi_problems():
    """Extension modules whose reference accounting cannot be trusted.

    On a debug interpreter, an extension compiled against release headers
    loads (through a generic ``.so`` or ``.abi3.so`` name) but its inline
    Py_INCREF/Py_DECREF skip the debug build's reference total: every count
    is then off by whatever the extension did, in either direction. That is
    a set-up problem (rebuild the extension), never a leak.
    """
    if not hasattr(sys, "gettotalrefcount"):
        return []
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    tagged_suffix = suffixes[0] if suffixes else ""
    stdlib_dirs = tuple(
        os.path.normcase(os.path.realpath(p))
        for p in {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")}
        if p
    )
    found = []
    for name, module in sorted(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if not filename or not any(filename.endswith(s) for s in suffixes):
            continue
        real = os.path.normcase(os.path.realpath(filename))
        if real.startswith(stdlib_dirs) and "site-packages" not in real:
            continue
        if filename.endswith(tagged_suffix):
            continue
        if _built_against_debug_headers(filename):
            continue
        found.append(
            "extension module %s (%s) was built for a release interpreter (no "
            "%s tag, no debug-header symbols): under this debug interpreter its "
            "Py_INCREF/Py_DECREF skip the reference total, so no count can be "
            "trusted; rebuild it for this interpreter with: refsan build "
            "--debug --python %s" % (name, filename, tagged_suffix, sys.executable)
        )
    return found


def debug_build_mismatch(text):
    """The set-up problem behind an import error (its message, ``text``) of
    an extension built for a debug interpreter, loaded by a release one (its
    Py_INCREF/Py_DECREF need the debug build's symbols); None for any other
    error."""
    if hasattr(sys, "gettotalrefcount") or "undefined symbol" not in text:
        return None
    if not any(symbol in text for symbol in ("_Py_RefTotal", "_Py_NegativeRefcount", "_Py_IncRef")):
        return None
    return (
        "it was built for a debug interpreter (%s), which this release interpreter "
        "does not provide; measure it under the debug interpreter (--python python3-dbg) "
        "or rebuild it for this one: refsan build --python %s" % (text, sys.executable)
    )


def _built_against_debug_headers(filename):
    try:
        if os.path.getsize(filename) > MAX_EXTENSION_SCAN_BYTES:
            return True  # too large to scan: do not guess
        with open(filename, "rb") as handle:
            data = handle.read()
    except OSError:
        return True
    return any(symbol in data for symbol in DEBUG_HEADER_SYMBOLS)


# ---------------------------------------------------------------------------
# Targets of the standalone harness (--call, --code).


def resolve_callable(spec, namespace):
    if ":" not in spec:
        raise HarnessError(
            "--call expects MODULE:FUNCTION (for example pkg.mod:func), got %r" % spec
        )
    module_name, _, attr_path = spec.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:
        problem = debug_build_mismatch(str(exc))
        if problem:
            raise HarnessError("cannot import %s: %s" % (module_name, problem))
        raise HarnessError(
            "cannot import %s for --call %s:\n%s"
            % (module_name, spec, traceback.format_exc())
        )
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HarnessError("%s has no attribute %r (--call %s)" % (module_name, part, spec))
    if not callable(obj):
        raise HarnessError("%s is not callable (--call %s)" % (attr_path, spec))
    namespace.setdefault(module_name.split(".")[0], sys.modules[module_name.split(".")[0]])
    return obj


def evaluate_arguments(expression, namespace):
    if not expression:
        return (), {}
    collector = "__refsan_collect_arguments__"
    namespace[collector] = lambda *args, **kwargs: (args, kwargs)
    try:
        return eval("%s(%s)" % (collector, expression), namespace)
    except SyntaxError as exc:
        raise HarnessError("--args %r is not a valid argument list: %s" % (expression, exc))
    except Exception:
        raise HarnessError(
            "--args %r raised:\n%s" % (expression, traceback.format_exc())
        )
    finally:
        del namespace[collector]


def make_call_invoker(func, args, kwargs, failures):
    def invoke():
        try:
            func(*args, **kwargs)
        except Exception as exc:
            failures.record(exc)

    return invoke


def make_code_invoker(code, namespace, failures):
    def invoke():
        try:
            exec(code, namespace)
        except Exception as exc:
            failures.record(exc)

    return invoke


def run_setup(code, namespace):
    if not code:
        return
    try:
        exec(compile(code, "<refsan --setup>", "exec"), namespace)
    except Exception:
        raise HarnessError("--setup raised:\n%s" % traceback.format_exc())


def measure_targets(config, events):
    options = config["options"]
    namespace = {"__name__": "__refsan_leaks__"}
    run_setup(config.get("setup"), namespace)
    harness_file = os.path.abspath(__file__)
    total_calls = (int(options["warmup"]) + int(options["runs"])) * int(
        options["calls_per_run"]
    )
    damaged = False
    warned = set()
    timeout = float(config.get("timeout_seconds") or 0)
    for target in config["targets"]:
        name = target["name"]
        events.emit("target_start", target=name, kind=target["kind"])
        if timeout > 0:
            # A hang anywhere (even in C code holding the GIL) ends with the
            # Python stacks on stderr and exit status 1; refsan reads it as a
            # timeout of this target.
            faulthandler.dump_traceback_later(timeout, exit=True)
        failures = FailureLog()
        watched = None
        if target["kind"] == "call":
            func = resolve_callable(target["spec"], namespace)
            args, kwargs = evaluate_arguments(config.get("args"), namespace)
            # Two passes when the first sees growth (see measure).
            watched = WatchedArguments(args, kwargs, 2 * total_calls)
            invoke = make_call_invoker(func, args, kwargs, failures)
            native_label = "<native code of %s>" % target["spec"]
        else:
            try:
                code = compile(target["code"], "<refsan --code>", "exec")
            except SyntaxError as exc:
                raise HarnessError("--code does not compile: %s" % exc)
            invoke = make_code_invoker(code, namespace, failures)
            native_label = "<native code run by --code>"
        for message in abi_problems():
            if message not in warned:
                warned.add(message)
                events.emit("setup_problem", message=message)
        attribution = SiteAttribution(
            helper_files=[harness_file],
            transparent_dirs=[],
            native_lines=code_lines(invoke),
            native_label=native_label,
        )
        result = measure(invoke, options, attribution, watched=watched, failures=failures)
        result["raised"] = failures.as_json()
        events.emit("target_result", target=name, kind=target["kind"], status="measured", **result)
        if timeout > 0:
            faulthandler.cancel_dump_traceback_later()
        if arguments_damaged(result):
            damaged = True
        elif watched is not None:
            watched.release()
        del watched, invoke
    return damaged


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m refsan_helpers.leak_harness CONFIG.json\n")
        return 2
    config = load_config(argv[0])
    events = EventWriter(config["events"])
    events.emit("hello", protocol=PROTOCOL_VERSION, interpreter=interpreter_info())
    # The user's modules are found relative to the working directory, as with
    # ``python -c``; the helper directory itself is not part of their world.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        damaged = measure_targets(config, events)
    except HarnessError as exc:
        events.emit("fatal", message=str(exc))
        events.close()
        return 3
    events.emit("done")
    events.close()
    if damaged:
        # A watched argument lost references that the guard still holds:
        # finalizing it would free memory that is still referenced.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
