# refsan's gdb script, run inside `gdb --batch -p PID` while the crashed
# process is held still. Prints every thread's native stack (and the Python
# stack when CPython's gdb helpers, libpython.py, are loaded) as JSON lines
# prefixed with "refsan-gdb: " for refsan to read; gdb's own chatter is
# ignored.
import json

import gdb

PREFIX = "refsan-gdb: "
MAX_FRAMES = 200


def emit(record):
    gdb.write(PREFIX + json.dumps(record) + "\n")
    gdb.flush()


def frame_record(frame):
    info = {
        "pc": None,
        "function": None,
        "file": None,
        "line": None,
        "library": None,
        "inlined": False,
    }
    try:
        info["pc"] = int(frame.pc())
    except gdb.error:
        pass
    try:
        kind = frame.type()
        info["inlined"] = kind == gdb.INLINE_FRAME
        if kind == gdb.SIGTRAMP_FRAME:
            info["function"] = "<signal handler called>"
    except gdb.error:
        pass
    if info["function"] is None:
        try:
            symbol = frame.function()
            info["function"] = symbol.print_name if symbol is not None else frame.name()
        except gdb.error:
            pass
    try:
        sal = frame.find_sal()
        if sal.symtab is not None:
            info["file"] = sal.symtab.fullname()
            info["line"] = sal.line or None
    except gdb.error:
        pass
    if info["pc"] is not None:
        try:
            info["library"] = gdb.solib_name(info["pc"]) or gdb.current_progspace().filename
        except gdb.error:
            pass
    return info


def has_command(name):
    try:
        gdb.execute("help " + name, to_string=True)
        return True
    except gdb.error:
        return False


def main():
    helpers = has_command("py-bt")
    emit({"kind": "helpers", "python_helpers": helpers})
    for inferior in gdb.inferiors():
        for thread in sorted(inferior.threads(), key=lambda t: t.num):
            try:
                thread.switch()
            except gdb.error:
                continue
            frames = []
            try:
                frame = gdb.newest_frame()
            except gdb.error:
                frame = None
            while frame is not None and len(frames) < MAX_FRAMES:
                frames.append(frame_record(frame))
                try:
                    frame = frame.older()
                except gdb.error:
                    break
            python_stack = None
            if helpers:
                try:
                    python_stack = gdb.execute("py-bt", to_string=True)
                except gdb.error as exc:
                    python_stack = "py-bt failed: %s" % exc
            emit(
                {
                    "kind": "thread",
                    "num": thread.num,
                    "lwp": thread.ptid[1],
                    "name": thread.name,
                    "frames": frames,
                    "python_stack": python_stack,
                }
            )


main()
