#!/usr/bin/env python3
"""`refsan server` over a source tree, driven as an editor drives it.

Usage: bench/server_corpus.py REFSAN TREE [LARGEST]

Opens every C file of TREE that uses the Python C API (one after another:
didOpen, wait for its diagnostics, didClose), then reports the latency of
the LARGEST (default 20) largest files (p50, p95, max: open to
diagnostics), the latency of an edit of the largest file (didChange to
diagnostics, debounce excluded), and the server's peak resident memory
(VmHWM) after every file was checked once.
"""
import json
import os
import subprocess
import sys
import threading
import queue
import time


def main():
    refsan, tree = sys.argv[1], os.path.abspath(sys.argv[2])
    largest = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    files = []
    for root, _, names in os.walk(tree):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    text = f.read()
                if b"Py" in text:
                    files.append((p, text.decode("utf-8", "replace")))
    files.sort()
    proc = subprocess.Popen([refsan, "server", "--debounce", "0"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    inbox = queue.Queue()

    def reader():
        out = proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            inbox.put(json.loads(out.read(length)))

    threading.Thread(target=reader, daemon=True).start()

    def send(msg):
        body = json.dumps(msg).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()

    def wait(pred):
        while True:
            m = inbox.get(timeout=600)
            if pred(m):
                return m

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
          "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    wait(lambda m: m.get("id") == 1)
    send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def diagnosed(uri):
        return lambda m: (m.get("method") == "textDocument/publishDiagnostics"
                          and m["params"]["uri"] == uri)

    latency = {}
    for path, text in files:
        uri = "file://" + path
        start = time.perf_counter()
        send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
              "params": {"textDocument": {"uri": uri, "languageId": "c", "version": 1, "text": text}}})
        wait(diagnosed(uri))
        latency[path] = time.perf_counter() - start
        send({"jsonrpc": "2.0", "method": "textDocument/didClose",
              "params": {"textDocument": {"uri": uri}}})
        wait(diagnosed(uri))

    with open(f"/proc/{proc.pid}/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))

    by_size = sorted(files, key=lambda ft: -len(ft[1]))[:largest]
    big = sorted(latency[p] for p, _ in by_size)

    def pct(xs, q):
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    # An edit of the largest file: one line added, checked again.
    path, text = by_size[0]
    uri = "file://" + path
    send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
          "params": {"textDocument": {"uri": uri, "languageId": "c", "version": 1, "text": text}}})
    wait(diagnosed(uri))
    start = time.perf_counter()
    send({"jsonrpc": "2.0", "method": "textDocument/didChange",
          "params": {"textDocument": {"uri": uri, "version": 2},
                     "contentChanges": [{"text": text + "\n/* edited */\n"}]}})
    wait(diagnosed(uri))
    edit = time.perf_counter() - start

    send({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
    wait(lambda m: m.get("id") == 2)
    send({"jsonrpc": "2.0", "method": "exit", "params": None})
    proc.wait(timeout=60)

    allv = sorted(latency.values())
    print(f"files opened: {len(files)} (every C file of the tree that mentions Py)")
    print(f"all files: p50 {pct(allv, 0.5) * 1e3:.0f} ms, p95 {pct(allv, 0.95) * 1e3:.0f} ms, "
          f"max {allv[-1] * 1e3:.0f} ms")
    print(f"the {largest} largest files: p50 {pct(big, 0.5) * 1e3:.0f} ms, "
          f"p95 {pct(big, 0.95) * 1e3:.0f} ms, max {big[-1] * 1e3:.0f} ms")
    print(f"edit of the largest ({os.path.relpath(path, tree)}, {len(text) // 1024} KB): "
          f"{edit * 1e3:.0f} ms")
    print(f"server peak memory after every file once: {hwm // 1024} MiB")
    print(f"server exit status: {proc.returncode}")


if __name__ == "__main__":
    main()
