/**
 * Quick mode: `QUICK=1` shrinks data and epochs so that every notebook runs in
 * a few minutes on two cores (the notebook test and `QUICK=1 deno task report`
 * use it). The default, full mode, trains for real.
 *
 * @example
 * ```ts
 * import { quick, byMode } from "./mode.ts";
 * const epochs = byMode({ quick: 1, full: 5 });
 * console.log(quick ? "quick mode" : "full mode", epochs);
 * ```
 *
 * @module
 */

function readQuick(): boolean {
  try {
    const v = Deno.env.get("QUICK")?.trim().toLowerCase();
    return v !== undefined && v !== "" && v !== "0" && v !== "false" && v !== "no";
  } catch {
    return false; // no --allow-env: full mode
  }
}

/** True when the environment variable `QUICK` is set (to anything but 0/false/no). */
export const quick: boolean = readQuick();

/** The quick or full value, by mode: `byMode({ quick: 2_000, full: 60_000 })`. */
export function byMode<T>(values: { quick: T; full: T }): T {
  return quick ? values.quick : values.full;
}
