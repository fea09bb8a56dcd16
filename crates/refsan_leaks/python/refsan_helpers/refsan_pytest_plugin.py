"""refsan's pytest plugin: runs each test repeatedly and measures growth.

refsan writes this file to a temporary directory and enables it with
``-p refsan_helpers.refsan_pytest_plugin``; the user installs nothing.  Its
settings come from the JSON file named by ``REFSAN_LEAKS_CONFIG``; without
that variable the plugin does nothing.

For every test the measurement runs in a forked child process: the child
runs the whole test protocol (fixture setup, call, teardown) through the
warm-up and measured runs of the leak harness, writes its result to a file
and exits.  A test that crashes or hangs in the child is therefore reported
and does not take the suite down.  Then the parent runs the test once more,
normally, so its pass/fail outcome and output are pytest's own; a test that
crashed or hung in the child is failed with refsan's explanation instead of
being run again.
"""

import faulthandler
import functools
import gc
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings

import pytest

from refsan_helpers import leak_harness

CONFIG_ENV = "REFSAN_LEAKS_CONFIG"

# Seconds the parent waits beyond the configured timeout before it kills a
# child whose own watchdog (faulthandler.dump_traceback_later) did not fire.
KILL_GRACE_SECONDS = 5.0
STDERR_TAIL_BYTES = 16000


def pytest_configure(config):
    path = os.environ.get(CONFIG_ENV)
    # Also reached through the installed `refsan` package's plugin: one
    # leak hunter per session.
    if not path or config.pluginmanager.has_plugin("refsan-leak-hunter"):
        return
    settings = leak_harness.load_config(path)
    config.pluginmanager.register(LeakHunter(config, settings), "refsan-leak-hunter")


class LeakHunter:
    def __init__(self, config, settings):
        self.config = config
        self.options = settings["options"]
        self.timeout = float(settings.get("timeout_seconds") or 0)
        self.events = leak_harness.EventWriter(settings["events"])
        self.workdir = tempfile.mkdtemp(prefix="refsan-leaks-pytest-")
        self.pending = {}
        self.outcomes = {}
        self.events.emit(
            "hello",
            protocol=leak_harness.PROTOCOL_VERSION,
            interpreter=leak_harness.interpreter_info(),
        )
        self.helper_files = [os.path.abspath(__file__), os.path.abspath(leak_harness.__file__)]
        self.transparent_dirs = _package_dirs("_pytest", "pluggy")
        self.abi_warned = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.events.emit("target_start", target=item.nodeid, kind="test")
        if hasattr(os, "fork"):
            result = self._measure_in_child(item)
        else:
            result = self._measure_here(item)
        self.pending[item.nodeid] = result
        if result["status"] in ("crashed", "timed_out"):
            message = _failure_message(item.nodeid, result)
            item.runtest = lambda: pytest.fail(message, pytrace=False)
        # The test may have imported the extension in the measuring child
        # only: the child lists what it saw too.
        for message in leak_harness.abi_problems() + result.pop("abi_problems", []):
            if message not in self.abi_warned:
                self.abi_warned.add(message)
                self.events.emit("setup_problem", message=message)
        # None: pytest's own protocol now runs the test once, normally.
        return None

    def pytest_collectreport(self, report):
        # An extension built for a debug interpreter fails to import here.
        if not report.failed:
            return
        lines = str(getattr(report, "longrepr", "")).splitlines()
        text = next((line for line in lines if "undefined symbol" in line), "")
        problem = leak_harness.debug_build_mismatch(text.lstrip("E").strip())
        if problem and problem not in self.abi_warned:
            self.abi_warned.add(problem)
            self.events.emit("setup_problem", message="%s: %s" % (report.nodeid, problem))

    def pytest_runtest_logreport(self, report):
        outcome = self.outcomes.get(report.nodeid, "passed")
        if report.failed:
            outcome = "failed"
        elif report.skipped and outcome == "passed":
            outcome = "skipped"
        self.outcomes[report.nodeid] = outcome

    def pytest_runtest_logfinish(self, nodeid, location):
        result = self.pending.pop(nodeid, None)
        if result is None:
            return
        result["outcome"] = self.outcomes.pop(nodeid, "passed")
        self.events.emit("target_result", target=nodeid, kind="test", **result)

    def pytest_sessionfinish(self, session, exitstatus):
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.events.emit("session_finish", exit_status=int(exitstatus))
        self.events.emit("done")
        self.events.close()

    # -- measurement ------------------------------------------------------

    def _measure_here(self, item):
        failures = leak_harness.FailureLog()
        # A test calls native code from its own lines, which are the sites.
        attribution = leak_harness.SiteAttribution(
            helper_files=self.helper_files,
            transparent_dirs=self.transparent_dirs,
            native_lines=[],
            native_label="<native code of %s>" % item.nodeid,
        )
        try:
            result = leak_harness.measure(
                make_test_invoker(item, failures),
                self.options,
                attribution,
                failures=failures,
            )
        except leak_harness.StopMeasurement as stop:
            return {"status": stop.status, "detail": stop.detail}
        result["status"] = "measured"
        result["raised"] = failures.as_json()
        result["abi_problems"] = leak_harness.abi_problems()
        return result

    def _measure_in_child(self, item):
        handle, result_path = tempfile.mkstemp(suffix=".json", dir=self.workdir)
        os.close(handle)
        handle, log_path = tempfile.mkstemp(suffix=".log", dir=self.workdir)
        os.close(handle)
        started = time.monotonic()
        _flush_std_streams()
        # pytest's faulthandler_timeout watchdog thread does not exist in
        # the child, which would wait forever on its lock: stopped here,
        # armed again for the test's normal run.
        watchdog = _faulthandler_timeout(self.config)
        if watchdog:
            faulthandler.cancel_dump_traceback_later()
        # The child's collections need not walk (and so copy, page by page)
        # the whole of the parent's heap.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            _child_main(self, item, result_path, log_path)
        gc.unfreeze()
        status, timed_out = _wait_child(pid, self._kill_deadline())
        if watchdog:
            faulthandler.dump_traceback_later(watchdog, exit=False, file=sys.stderr)
        elapsed = time.monotonic() - started
        log_tail = _tail(log_path)
        result = _read_child_result(result_path)
        for path in (result_path, log_path):
            try:
                os.unlink(path)
            except OSError:
                pass
        if timed_out or (result is None and "Timeout (" in log_tail):
            return {
                "status": "timed_out",
                "detail": "no result after %.1f s (--timeout %g)" % (elapsed, self.timeout),
                "stderr_tail": log_tail,
            }
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            return {
                "status": "crashed",
                "signal": number,
                "signal_name": _signal_name(number),
                "detail": "killed by %s" % _signal_name(number),
                "stderr_tail": log_tail,
            }
        if result is None:
            return {
                "status": "crashed",
                "signal": None,
                "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "detail": "measurement process exited without a result",
                "stderr_tail": log_tail,
            }
        return result

    def _kill_deadline(self):
        if self.timeout <= 0:
            return None
        return time.monotonic() + self.timeout + KILL_GRACE_SECONDS


def make_test_invoker(item, failures):
    from _pytest.runner import runtestprotocol

    sections = getattr(item, "_report_sections", None)
    baseline_sections = len(sections) if sections is not None else 0
    state = {"first": True}

    # Tearing down towards the parent node releases the test's own
    # (function-scoped) fixtures after every run and keeps module and session
    # fixtures, as between two tests of one module.
    teardown_towards = item.parent if item.parent is not None else item

    bookkeeping = FinalizerBookkeeping(item)

    def invoke():
        with warnings.catch_warnings():
            # A warning recorded per run would pile up in pytest's own lists.
            warnings.simplefilter("ignore")
            reports = runtestprotocol(item, log=False, nextitem=teardown_towards)
        if sections is not None:
            # Captured output is appended to the item on every run.
            del sections[baseline_sections:]
        first = state["first"]
        state["first"] = False
        if first:
            bookkeeping.mark()
        else:
            bookkeeping.drop_repeated()
        if first and reports and all(r.skipped for r in reports if r.when != "teardown"):
            raise leak_harness.StopMeasurement("skipped", "the test was skipped")
        for report in reports:
            if report.failed:
                failures.record_text(
                    "test failed (%s)" % report.when, _longrepr_text(report)
                )
                break

    return invoke


class FinalizerBookkeeping:
    """pytest's own per-run growth, undone between runs.

    Every time a function-scoped fixture is set up, pytest registers
    ``functools.partial(fixturedef.finish, request=...)`` on each
    higher-scoped fixture it depends on (``FixtureDef._finalizers`` of
    ``tmp_path_factory`` when ``tmp_path`` is used), and pytest 7 also a
    ``lambda: fixturedef.finish(...)`` on the node of every higher-scoped
    fixture the run requests (the session's entry of ``SetupState.stack``).
    Those lists live until the module or the session ends, so each run of the same test leaves a partial, a bound method and
    the run's requests behind: ten blocks per run that are pytest's, not
    the test's. After the first run the lists' lengths are marked; after
    every later run the ``finish`` partials registered beyond the mark are
    removed (the first run's stay, and they finish the same fixtures).
    Other finalizers are never touched.
    """

    def __init__(self, item):
        self._item = item
        self._marks = []

    def _lists(self):
        found = []
        info = getattr(self._item, "_fixtureinfo", None)
        for defs in getattr(info, "name2fixturedefs", {}).values():
            for fixturedef in defs:
                finalizers = getattr(fixturedef, "_finalizers", None)
                if isinstance(finalizers, list):
                    found.append(finalizers)
        setupstate = getattr(self._item.session, "_setupstate", None)
        stack = getattr(setupstate, "stack", None)
        if isinstance(stack, dict):
            for entry in stack.values():
                if isinstance(entry, tuple) and entry and isinstance(entry[0], list):
                    found.append(entry[0])
        return found

    def mark(self):
        self._marks = [(finalizers, len(finalizers)) for finalizers in self._lists()]

    def drop_repeated(self):
        for finalizers, length in self._marks:
            if len(finalizers) > length:
                finalizers[length:] = [
                    f for f in finalizers[length:] if not _is_fixture_finish(f)
                ]


def _is_fixture_finish(finalizer):
    """``partial(fixturedef.finish, request=...)``, or pytest 7's
    ``lambda: fixturedef.finish(request=subrequest)``."""
    if isinstance(finalizer, functools.partial):
        func = finalizer.func
        return getattr(func, "__name__", None) == "finish" and "request" in finalizer.keywords
    code = getattr(finalizer, "__code__", None)
    return (
        code is not None
        and code.co_name == "<lambda>"
        and getattr(finalizer, "__module__", None) == "_pytest.fixtures"
        and "finish" in code.co_names
        and "fixturedef" in code.co_freevars
    )


def _longrepr_text(report):
    text = getattr(report, "longreprtext", None)
    if text:
        return text
    return str(report.longrepr)


def _child_main(hunter, item, result_path, log_path):
    """Body of the forked measurement process; never returns."""
    code = 0
    try:
        log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")
        # Everything this process writes at the C level (fatal errors,
        # faulthandler) goes to its own log, the crash report's stderr tail.
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = log
        sys.stderr = log
        _capture_privately(item.config)
        faulthandler.enable(file=log, all_threads=True)
        if hunter.timeout > 0:
            faulthandler.dump_traceback_later(hunter.timeout, exit=True, file=log)
        result = hunter._measure_here(item)
        faulthandler.cancel_dump_traceback_later()
        with open(result_path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, default=repr)
    except BaseException:  # the child must never return into pytest
        code = 3
        try:
            import traceback

            sys.__stderr__.write(traceback.format_exc())
        except Exception:
            pass
    finally:
        _flush_std_streams()
        os._exit(code)


def _capture_privately(config):
    """Gives the forked process capture files of its own.

    The parent's capture files are shared with this process (same file
    offsets): reading them here would steal the parent's output. A new
    sys-level capture keeps the tests' prints out of the terminal while
    C-level stderr still reaches the log.
    """
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None or not hasattr(capman, "_global_capturing"):
        return
    capman._global_capturing = None
    if getattr(capman, "_method", "no") != "no":
        capman._method = "sys"
    capman.start_global_capturing()


def _faulthandler_timeout(config):
    """pytest's faulthandler_timeout (seconds; 0 when unset)."""
    try:
        return float(config.getini("faulthandler_timeout") or 0)
    except (ValueError, KeyError):
        return 0.0


def _wait_child(pid, deadline):
    """Waits for the child; kills it at ``deadline``. Returns (status, timed_out)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status, False
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            return status, True
        time.sleep(0.005)


def _read_child_result(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _tail(path):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - STDERR_TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def _failure_message(nodeid, result):
    if result["status"] == "timed_out":
        head = "refsan leaks: %s hung while it was run repeatedly: %s" % (
            nodeid,
            result.get("detail", ""),
        )
    else:
        head = "refsan leaks: %s crashed while it was run repeatedly: %s" % (
            nodeid,
            result.get("detail", ""),
        )
    tail = result.get("stderr_tail") or ""
    if tail:
        head += "\n--- stderr of the measurement process (tail) ---\n" + tail
    return head


def _package_dirs(*names):
    dirs = []
    for name in names:
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if filename:
            dirs.append(os.path.dirname(os.path.abspath(filename)))
    return dirs


def _flush_std_streams():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
