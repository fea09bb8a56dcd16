"""refsan finds reference-counting bugs in Python extensions written in C,
C++ and Cython.

The command is a native program that pip installs next to the
interpreter's other scripts; ``find_refsan_bin()`` finds it, and
``python -m refsan`` runs it.
"""

import os
import sys
import sysconfig

__all__ = ["find_refsan_bin"]


def find_refsan_bin() -> str:
    """The path of the installed ``refsan`` executable."""
    exe = "refsan" + (sysconfig.get_config_var("EXE") or "")
    candidates = [sysconfig.get_path("scripts")]
    # `pip install --user`
    user_scheme = {"posix": "posix_user", "nt": "nt_user"}.get(os.name)
    if sys.platform == "darwin" and sys._framework:  # type: ignore[attr-defined]
        user_scheme = "osx_framework_user"
    if user_scheme:
        try:
            candidates.append(sysconfig.get_path("scripts", scheme=user_scheme))
        except KeyError:
            pass
    # `pip install --target DIR`: the scripts are in DIR/bin.
    candidates.append(os.path.join(os.path.dirname(os.path.dirname(__file__)), "bin"))
    for directory in candidates:
        if directory:
            path = os.path.join(directory, exe)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(
        f"the refsan executable is not installed next to this package "
        f"(looked in {', '.join(d for d in candidates if d)})"
    )
