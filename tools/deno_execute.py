"""An nbconvert ExecutePreprocessor for Deno's Jupyter kernel.

Deno 2.9's kernel sometimes sends a cell's last IOPub messages (its
execute_result, a final update_display_data) only after the cell's "idle"
status, and holds them until the kernel gets its next request. nbclient stops
listening at "idle", so those outputs are lost from the saved notebook and the
HTML report. After each cell, this preprocessor sends a kernel_info request,
which releases the held messages, and adds the ones for the cell to it before
moving on; a message for an earlier cell that still comes later is added to
that cell.

When the kernel dies in a cell (a `Deno.exit()` in the notebook, a crash),
nbclient raises DeadKernelError and nbconvert writes nothing. This
preprocessor instead records an error output on that cell (ename
"KernelDied"), skips the cells after it, and lets nbconvert write the
notebook, so that the report names the cell.

`HTMLToo`, a postprocessor, then exports the executed notebook to HTML
beside it in the same process: the page a second `jupyter nbconvert --to html`
of the written notebook would make, without starting Python and importing
nbconvert again (about a second per notebook). When that export fails, the
executed notebook is still there and stderr says "HTML export failed: ...".

Used by tools/report.ts:
  PYTHONPATH=tools jupyter nbconvert --to notebook \
    --Exporter.preprocessors deno_execute.DenoExecutePreprocessor \
    --DenoExecutePreprocessor.enabled=True \
    --NbConvertApp.postprocessor_class=deno_execute.HTMLToo ...
"""
import os
import queue
import sys
import traceback

from nbclient.exceptions import CellExecutionComplete, DeadKernelError
from nbformat.v4 import new_output
from nbconvert.postprocessors import PostProcessorBase
from nbconvert.preprocessors import ExecutePreprocessor

try:
    from nbclient.util import ensure_async
except ImportError:  # newer nbclient: the helper lives in jupyter_core
    from jupyter_core.utils import ensure_async

# Seconds to keep listening for stragglers after the kernel_info round trip of every cell.
# A straggler that comes later still is routed to its cell while the next cells run
# (`_route`). Waiting after the last cell only (4-6 s less idle kernel per chapter) lost the
# late half of a cell's output under load (tests/notebooks_test.ts, issue 14), so every
# cell waits.
GRACE = 0.15


class DenoExecutePreprocessor(ExecutePreprocessor):
    """ExecutePreprocessor that collects IOPub messages sent after a cell's idle status."""

    def preprocess_cell(self, cell, resources, index):
        """Executes the cell; after a dead kernel, records it on the cell and skips the rest."""
        if getattr(self, "_dead_in", None) is not None:
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError as e:
            self._dead_in = index
            cell.setdefault("outputs", []).append(new_output(
                "error",
                ename="KernelDied",
                evalue="the kernel exited while running this cell (a Deno.exit() call, or a "
                       f"crash); the cells after it did not run ({e})",
                traceback=[],
            ))
            return cell, resources

    def _route(self, msg, cells):
        """Adds `msg` to the earlier cell it belongs to; True when it did."""
        target = cells.get(msg["parent_header"].get("msg_id"))
        if target is None or msg["msg_type"] == "status":
            return False
        try:
            self.process_message(msg, target[0], target[1])
        except CellExecutionComplete:
            pass
        return True

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        if not hasattr(self, "_done_cells"):
            self._done_cells = {}
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    self._done_cells[parent_msg_id] = (cell, cell_index)
                    await self._collect_late(GRACE)
                    return
            else:
                self._route(msg, self._done_cells)

    async def _collect_late(self, grace):
        """Send kernel_info; route late messages of finished cells until it is answered,
        then until none came for `grace` seconds."""
        info_id = self.kc.kernel_info()
        timeout = self.iopub_timeout or 10
        answered = False
        while True:
            if answered and grace <= 0:
                return
            try:
                msg = await ensure_async(
                    self.kc.iopub_channel.get_msg(timeout=grace if answered else timeout))
            except queue.Empty:
                return
            except Exception:  # noqa: BLE001 - channel closed: nothing more is coming
                return
            if self._route(msg, self._done_cells):
                continue
            if msg["parent_header"].get("msg_id") == info_id and msg["msg_type"] == "status" \
                    and msg["content"].get("execution_state") == "idle":
                answered = True
        # The kernel_info reply on the shell channel is skipped by nbclient's reply
        # poller, which only looks for the execute_reply of the cell it runs.


class HTMLToo(PostProcessorBase):
    """Exports the written notebook to `<name>.html` beside it, as `jupyter nbconvert --to html`."""

    def postprocess(self, input):
        """Runs a second, fresh NbConvertApp (its own config, no preprocessors) in this process."""
        from nbconvert.nbconvertapp import NbConvertApp

        input = os.fspath(input)
        name = os.path.splitext(os.path.basename(input))[0]
        app = NbConvertApp()
        try:
            app.initialize(["--to", "html", "--output-dir", os.path.dirname(input) or ".",
                            "--output", name, input])
            app.convert_notebooks()
        except (Exception, SystemExit) as e:  # noqa: BLE001 - reported, the notebook stays
            traceback.print_exc()
            print(f"HTML export failed: {type(e).__name__}: {e}", file=sys.stderr)
