#!/usr/bin/python3
"""Execute one notebook with Jupyter's own client (nbclient) and export it to HTML (nbconvert).

What `jupyter nbconvert --execute --to html` does, with two repairs for Deno's kernel
(deno 2.x), which the report tool and the notebook test rely on:

- Deno's kernel can publish `status: idle` on IOPub *before* a cell's last outputs
  (measured: 2 of 40 cells in a plain loop). nbclient stops listening at `idle`, so
  those outputs vanished from the saved notebook. Here, after `idle`, the client
  keeps draining IOPub for the same request for a short grace period.
- A message that fails jupyter_client's signature check (seen with multi-megabyte
  outputs) aborted the whole run with `ValueError: Invalid Signature`. Here it is
  dropped with a warning on stderr and execution goes on.

Usage (Debian's python: apt-get install jupyter-nbconvert python3-nbclient):
    /usr/bin/python3 tools/nbexec.py NOTEBOOK.ipynb --html OUT.html [--ipynb OUT.ipynb]
        [--timeout 900] [--kernel deno]
Prints one JSON line: {"notebook", "ok", "seconds", "cells", "error": {cell, ename, evalue} | null,
"warnings": [...]}. Exit status 0 when every cell ran without error, 1 when a cell failed,
2 for bad arguments or a missing kernel.
"""
import argparse
import asyncio
import json
import os
import sys
import time
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, DeadKernelError
from nbconvert import HTMLExporter

GRACE_S = 0.25  # how long to keep listening after `idle` for late outputs
WARNINGS = []


class DenoNotebookClient(NotebookClient):
    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        idle_at = None
        while True:
            timeout = None if idle_at is None else max(0.0, idle_at + GRACE_S - time.monotonic())
            try:
                msg = await self.kc.iopub_channel.get_msg(timeout=timeout)
            except Empty:
                return
            except ValueError as e:  # jupyter_client: "Invalid Signature"
                WARNINGS.append(f"cell {cell_index}: dropped an IOPub message ({e})"[:200])
                continue
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                idle_at = time.monotonic()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("--html", help="write the executed notebook as HTML here")
    ap.add_argument("--ipynb", help="write the executed notebook here")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--kernel", default="deno")
    args = ap.parse_args()

    path = os.path.abspath(args.notebook)
    if not os.path.isfile(path):
        print(json.dumps({"notebook": args.notebook, "ok": False, "error": {
            "cell": None, "ename": "FileNotFoundError", "evalue": f"{path} does not exist"}}))
        return 2
    nb = nbformat.read(path, as_version=4)
    client = DenoNotebookClient(
        nb, timeout=args.timeout, kernel_name=args.kernel, allow_errors=False,
        resources={"metadata": {"path": os.path.dirname(path)}},
    )
    t0 = time.monotonic()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        idx = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        error = {"cell": idx, "ename": getattr(e, "ename", "CellExecutionError"),
                 "evalue": getattr(e, "evalue", str(e))[:2000]}
    except DeadKernelError as e:
        error = {"cell": None, "ename": "DeadKernelError", "evalue": str(e)}
    except Exception as e:  # no such kernel, kernel failed to start, ...
        error = {"cell": None, "ename": type(e).__name__, "evalue": str(e)[:2000]}
    seconds = time.monotonic() - t0
    # Error outputs can also come without an exception (e.g. a rejected promise after the reply).
    if error is None:
        for i, c in enumerate(nb.cells):
            for o in c.get("outputs", []) if c.cell_type == "code" else []:
                if o.get("output_type") == "error":
                    error = {"cell": i, "ename": o.get("ename"), "evalue": o.get("evalue")}
                    break
            if error:
                break

    def atomic_write(dest, text):
        tmp = f"{dest}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, dest)

    if args.ipynb:
        atomic_write(args.ipynb, nbformat.writes(nb))
    if args.html:
        body, _ = HTMLExporter().from_notebook_node(nb)
        atomic_write(args.html, body)
    print(json.dumps({"notebook": args.notebook, "ok": error is None, "seconds": round(seconds, 2),
                      "cells": sum(1 for c in nb.cells if c.cell_type == "code"),
                      "error": error, "warnings": WARNINGS}))
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
