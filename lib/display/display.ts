/**
 * `display(x)`: show a value now, in the middle of a cell, like IPython's
 * `display`. In the kernel a {@linkcode Displayable} is sent as its mime
 * bundle (other values as the kernel formats them); outside the kernel its
 * text summary is printed.
 *
 * @example
 * ```ts
 * import { display } from "./display.ts";
 * import { html } from "./displayable.ts";
 * await display(html("<b>step 1 done</b>")); // prints "step 1 done" under deno run
 * ```
 *
 * @module
 */
import { DISPLAY, type Displayable, isDisplayable } from "./displayable.ts";
import { denoJupyter, type DisplaySink, kernelSink, settle } from "./jupyter.ts";

/**
 * Shows `x` now: rich in the kernel, text outside. `sink` replaces the kernel
 * (tests pass a fake one).
 */
export async function display(x: Displayable | unknown, sink?: DisplaySink | null): Promise<void> {
  const target = sink === undefined ? kernelSink() : sink;
  if (target) {
    if (isDisplayable(x)) {
      await target.broadcast("display_data", { data: x[DISPLAY](), metadata: {}, transient: {} });
      if (sink === undefined) await settle();
      return;
    }
    const j = sink === undefined ? denoJupyter() : null;
    if (j?.display) {
      await j.display(x);
      return;
    }
    await target.broadcast("display_data", {
      data: { "text/plain": typeof x === "string" ? x : Deno.inspect(x, { colors: false }) },
      metadata: {},
      transient: {},
    });
    return;
  }
  console.log(isDisplayable(x) ? x.toString() : x);
}
