"""refsan's pytest plugin, installed with the ``refsan`` package.

``pytest -p refsan --refsan-leaks [ARGS]`` hunts leaks in every test: it runs
``refsan leaks -- pytest ARGS``, which calls each test repeatedly in a child
process and reports the tests whose reference counts, memory blocks or
objects grow on every run. Under ``refsan leaks`` (which names its
settings file in ``REFSAN_LEAKS_CONFIG``) the plugin measures the tests;
otherwise it does nothing.
"""

import os
import subprocess
import sys

CONFIG_ENV = "REFSAN_LEAKS_CONFIG"


def pytest_addoption(parser):
    group = parser.getgroup("refsan")
    group.addoption(
        "--refsan-leaks",
        action="store_true",
        default=False,
        help="run the tests under `refsan leaks`: report the tests that leak "
        "references or memory on every repeated run",
    )


def pytest_cmdline_main(config):
    if not config.getoption("refsan_leaks") or os.environ.get(CONFIG_ENV):
        return None
    from refsan import find_refsan_bin

    args = [a for a in config.invocation_params.args if a != "--refsan-leaks"]
    command = [find_refsan_bin(), "leaks", "--", sys.executable, "-m", "pytest", *args]
    return subprocess.call(command, cwd=str(config.invocation_params.dir))


def pytest_configure(config):
    if not os.environ.get(CONFIG_ENV):
        return
    # Under `refsan leaks`: measure every test.
    from refsan_helpers import refsan_pytest_plugin

    refsan_pytest_plugin.pytest_configure(config)
