"""Records the order of a kernel's IOPub messages, cell by cell, with a raw Jupyter client.

Runs every code cell of a notebook on the Deno kernel (jupyter_client, no
front end), one at a time as a learner would, and prints one JSON line per cell:
its messages in arrival order (status messages as "busy"/"idle") and how many
output messages came after the cell's "idle" status, which interactive front
ends drop. The last line is a summary. This is the minimal reproduction of
issue 14's lost outputs:

  printf '%s' '{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"code",
    "metadata":{},"source":"for (let i = 0; i < 100; i++) console.log(i);\\n\\"done\\""}]}' > late.ipynb
  python3 tools/kernel_order.py late.ipynb     # Deno 2.9.6: most lines and "done" after idle

Options: --wait S (seconds to keep listening after idle, default 1.5),
--kernel NAME (default deno). The kernel runs in the notebook's folder with
this process's environment (set QUICK=1 for the chapters' quick mode).
"""
import argparse
import json
import os
import queue
import sys
import time

from jupyter_client.manager import start_new_kernel

OUTPUTS = {"stream", "display_data", "update_display_data", "execute_result", "error"}


def code_cells(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            out.append("".join(src) if isinstance(src, list) else src)
    return out


def run_cell(kc, code, wait, timeout=1800):
    """Executes `code`; returns (message types in order, count of outputs after idle)."""
    msg_id = kc.execute(code)
    order, idle, late = [], False, 0
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=wait if idle else max(1, deadline - time.time()))
        except queue.Empty:
            break
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status":
            kind = msg["content"]["execution_state"]
            idle = idle or kind == "idle"
        elif idle and kind in OUTPUTS:
            late += 1
        order.append(kind)
    return order, late


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("--wait", type=float, default=1.5)
    ap.add_argument("--kernel", default="deno")
    args = ap.parse_args(argv)
    cells = code_cells(args.notebook)
    cwd = os.path.dirname(os.path.abspath(args.notebook))
    km, kc = start_new_kernel(kernel_name=args.kernel, cwd=cwd)
    total_late = 0
    try:
        for i, code in enumerate(cells, 1):
            order, late = run_cell(kc, code, args.wait)
            total_late += late
            print(json.dumps({"cell": i, "order": order, "late": late}), flush=True)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps({"cells": len(cells), "late": total_late}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
