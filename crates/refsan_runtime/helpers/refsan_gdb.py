# refsan's gdb script, run inside `gdb --batch -p PID` while the crashed
# process is held still. Prints every thread's native stack (and the Python
# stack when CPython's gdb helpers, libpython.py, are loaded) as JSON lines
# prefixed with "refsan-gdb: " for refsan to read; gdb's own chatter is
# ignored.
import json
import os

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


# General-purpose registers that can hold an object pointer (x86-64, aarch64).
POINTER_REGISTERS = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
    "r12", "r13", "r14", "r15",
] + ["x%d" % i for i in range(31)]
FREED_WORD = 0xDDDDDDDDDDDDDDDD


def crashing_thread_registers():
    """(name, value) of the crashing thread's pointer-like registers."""
    tid = int(os.environ.get("REFSAN_GDB_TID") or 0)
    for inferior in gdb.inferiors():
        for thread in inferior.threads():
            if thread.ptid[1] == tid:
                thread.switch()
    try:
        frame = gdb.newest_frame()
    except gdb.error:
        return []
    found = []
    for name in POINTER_REGISTERS:
        try:
            value = int(frame.read_register(name)) & 0xFFFFFFFFFFFFFFFF
        except (gdb.error, ValueError):
            continue
        # User-space, canonical, past the zero page, not a fill pattern.
        if value < 0x10000 or value >> 47 or value == FREED_WORD:
            continue
        if all(value != v for _, v in found):
            found.append((name, value))
    return found


def describe_with_asan():
    """Asks AddressSanitizer's allocator about every register that may point
    to a heap block: the answer (freed by, allocated by) goes to ASan's log."""
    for name, value in crashing_thread_registers():
        try:
            gdb.execute("call (void)__asan_describe_address(%d)" % value, to_string=True)
        except gdb.error:
            continue
        emit({"kind": "described", "register": name, "value": value})


def find_freed_pointers():
    """Registers pointing to memory the debug allocator filled as freed (an
    object whose refcount and type both read 0xDD...)."""
    inferior = gdb.selected_inferior()
    for name, value in crashing_thread_registers():
        try:
            data = bytes(inferior.read_memory(value, 16))
        except (gdb.error, gdb.MemoryError):
            continue
        if data == b"\xdd" * 16:
            emit({"kind": "freed_pointer", "register": name, "value": value})


def main():
    mode = os.environ.get("REFSAN_GDB_MODE", "")
    if mode == "asan":
        describe_with_asan()
        return
    if mode == "plain":
        find_freed_pointers()
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
