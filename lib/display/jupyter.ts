/**
 * Kernel detection: the one place in this project that knows whether code runs
 * inside Deno's Jupyter kernel.
 *
 * `Deno.jupyter` only works under `deno jupyter --kernel`: under `deno run` and
 * `deno test` reading it throws ("only available in `deno jupyter`
 * subcommand"), in older Deno versions it is `undefined`. {@linkcode inJupyter}
 * reads it guarded and checks that its `broadcast` is a function.
 *
 * @example
 * ```ts
 * import { inJupyter, kernelSink } from "./jupyter.ts";
 * console.log(inJupyter() ? "in a notebook" : "plain text");
 * const sink = kernelSink(); // null outside the kernel
 * if (sink) await sink.broadcast("display_data", { data: { "text/plain": "hi" }, metadata: {}, transient: {} });
 * ```
 *
 * @module
 */
import type { MimeBundle } from "./displayable.ts";
import { installCellEndFlush } from "./_cell_end.ts";

/** The content of a `display_data` / `update_display_data` message. */
export interface DisplayMessage {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  /** `display_id` ties later `update_display_data` messages to the output they replace. */
  transient: { display_id?: string };
}

/** Where rich outputs go: the kernel's IOPub channel, or a fake in tests. */
export interface DisplaySink {
  broadcast(
    msgType: "display_data" | "update_display_data",
    content: DisplayMessage,
  ): Promise<void>;
}

interface DenoJupyter {
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
  display?(obj: unknown, options?: Record<string, unknown>): Promise<void>;
}

/** `Deno.jupyter`, or null where it does not exist or throws when read. */
export function denoJupyter(): DenoJupyter | null {
  try {
    const j = (Deno as unknown as { jupyter?: DenoJupyter }).jupyter;
    return j && typeof j.broadcast === "function" ? j : null;
  } catch {
    return null; // deno run / deno test: the getter throws
  }
}

// In the kernel, make every cell's outputs arrive before its "idle" status (see _cell_end.ts).
if (denoJupyter()) installCellEndFlush();

/** True inside Deno's Jupyter kernel (`deno jupyter --kernel`), false under `deno run`/`deno test`. */
export function inJupyter(): boolean {
  return denoJupyter() !== null;
}

/** The kernel's broadcaster as a {@linkcode DisplaySink}, or null outside the kernel. */
export function kernelSink(): DisplaySink | null {
  const j = denoJupyter();
  if (!j) return null;
  return {
    broadcast: (msgType, content) =>
      j.broadcast(msgType, content as unknown as Record<string, unknown>),
  };
}

/** True when text output should carry no ANSI colour codes (`NO_COLOR` set, or not a terminal). */
export function plainText(): boolean {
  try {
    if (Deno.noColor) return true;
    if (Deno.env.get("NO_COLOR")) return true;
  } catch {
    // no env permission: decide by the terminal alone
  }
  try {
    return !Deno.stdout.isTerminal();
  } catch {
    return true;
  }
}

/**
 * A short pause after a rich output, so that it is forwarded before what the
 * cell does next (the end of every cell waits for its outputs: `_cell_end.ts`).
 */
export function settle(ms = 30): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
