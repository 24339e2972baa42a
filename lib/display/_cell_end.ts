/**
 * Makes a cell's outputs reach the front end before the kernel says the cell
 * is finished.
 *
 * Deno 2.9's kernel runs the cell on a REPL thread; console output,
 * `Deno.jupyter.broadcast` messages and the cell's `execute_result` go into a
 * queue that a separate task forwards to IOPub, about a millisecond per
 * message. The kernel publishes the cell's `idle` status as soon as the REPL
 * has handed over the cell's result, without waiting for that queue: whatever
 * is still in it arrives after `idle`, and interactive front ends (Jupyter
 * Notebook, JupyterLab, VS Code) drop it. A cell that prints 100 lines and
 * ends with a value loses most of them (see the README for the reproduction).
 *
 * The kernel does wait for the REPL's result publisher,
 * `Deno[Deno.internal].jupyter.broadcastResult`, before it replies and goes
 * idle. {@linkcode installCellEndFlush} wraps that function: after the result
 * is queued, it waits long enough for the queue to drain, estimated from the
 * messages and bytes the cell produced ({@linkcode drainWaitMs}). Console
 * calls and `Deno.jupyter.broadcast`/`display` are counted by light wrappers.
 * Where the kernel has no such function (other Deno versions), nothing is
 * installed and {@linkcode installCellEndFlush} returns false.
 *
 * @example
 * ```ts
 * import { drainWaitMs } from "./_cell_end.ts";
 * console.log(drainWaitMs({ messages: 100, bytes: 2000 })); // 30 + 2 ms a message + bytes
 * ```
 *
 * @module
 */

/** What a cell queued for IOPub so far. */
export interface QueuedOutput {
  messages: number;
  bytes: number;
}

/** Milliseconds a queued message takes to forward, generously (measured: about 1 ms). */
export const MS_PER_MESSAGE = 2;
/** Bytes per millisecond forwarded, conservatively (measured: about 70,000). */
export const BYTES_PER_MS = 10_000;
/** The base wait, and the longest (a cell that printed for minutes still ends). */
export const BASE_MS = 30;
export const MAX_MS = 10_000;

/** How long to wait after a cell's last output for the kernel's queue to drain. */
export function drainWaitMs(q: QueuedOutput): number {
  const ms = BASE_MS + q.messages * MS_PER_MESSAGE + q.bytes / BYTES_PER_MS;
  return Math.min(MAX_MS, Math.ceil(ms));
}

const INSTALLED = Symbol.for("tfjs-notebooks.cellEndFlush");
const counter: QueuedOutput = { messages: 0, bytes: 0 };

/** Counts one message of about `bytes` bytes queued by the current cell. */
export function countOutput(bytes: number): void {
  counter.messages++;
  counter.bytes += Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
}

function sizeOf(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (ArrayBuffer.isView(value)) return value.byteLength * 2;
  try {
    return JSON.stringify(value)?.length ?? 16;
  } catch {
    return 1024;
  }
}

type Fn = (...args: unknown[]) => unknown;
interface Internal {
  jupyter?: { broadcastResult?: Fn };
}

/**
 * Wraps the kernel's result publisher so that `idle` comes after the cell's
 * outputs; true when installed (now or earlier), false outside Deno's kernel
 * or where the kernel has no such hook.
 */
export function installCellEndFlush(): boolean {
  const g = globalThis as unknown as Record<symbol, unknown>;
  if (g[INSTALLED]) return true;
  let internal: Internal | undefined;
  let jupyter: Record<string, unknown> | undefined;
  try {
    const d = Deno as unknown as Record<PropertyKey, unknown>;
    internal = d[d.internal as PropertyKey] as Internal | undefined;
    jupyter = d.jupyter as Record<string, unknown> | undefined;
  } catch {
    return false; // deno run / deno test: Deno.jupyter throws
  }
  const original = internal?.jupyter?.broadcastResult;
  if (!internal?.jupyter || typeof original !== "function" || !jupyter) return false;

  internal.jupyter.broadcastResult = async (...args: unknown[]) => {
    try {
      if (args[1] !== undefined) countOutput(sizeOf(args[1]));
      return await original(...args);
    } finally {
      const wait = drainWaitMs(counter);
      counter.messages = 0;
      counter.bytes = 0;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  for (const name of ["broadcast", "display"]) {
    const fn = jupyter[name];
    if (typeof fn !== "function") continue;
    jupyter[name] = (...args: unknown[]) => {
      countOutput(sizeOf(args[1]) + sizeOf(args[0]));
      return (fn as Fn).apply(jupyter, args);
    };
  }
  const c = console as unknown as Record<string, unknown>;
  for (const name of ["log", "info", "warn", "error", "debug", "table", "dir"]) {
    const fn = c[name];
    if (typeof fn !== "function") continue;
    c[name] = (...args: unknown[]) => {
      countOutput(args.reduce<number>((n, a) => n + (typeof a === "string" ? a.length : 64), 1));
      return (fn as Fn).apply(console, args);
    };
  }
  g[INSTALLED] = true;
  return true;
}
