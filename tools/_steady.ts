/**
 * Warming a benchmark up until its steps run at a steady speed.
 *
 * V8 optimises tfjs's JavaScript and moves the WASM loops from its baseline compiler to
 * its optimising one over the first hundreds of steps: measured here, the MLP's training
 * step went from 3.0 ms to 1.8 ms per step over its first 1,200 steps, about 3 s. A fixed
 * warm-up either stops before that (then we compare a warming process with PyTorch's steady
 * state) or wastes time on models that are steady sooner; this one stops when the speed
 * stops improving.
 *
 * @example
 * ```ts
 * import { untilSteady } from "./_steady.ts";
 * let x = 0;
 * const warm = await untilSteady(() => {
 *   for (let i = 0; i < 1e5; i++) x += Math.sqrt(i);
 * }, { minMs: 100, maxMs: 1000, windowMs: 50 });
 * console.log(warm.steps > 0); // true
 * ```
 *
 * @module
 */

/** How {@linkcode untilSteady} decides that the speed is steady. */
export interface SteadyOptions {
  /** Warm up at least this long (ms; default 2000). */
  minMs?: number;
  /** And at most this long (ms; default 15000), steady or not. */
  maxMs?: number;
  /** Each window of steps lasts at least this long (ms; default 500) and 10 steps. */
  windowMs?: number;
  /** Steady: this many windows in a row (default 2) no faster than the best by over 2%. */
  patience?: number;
}

/** What a warm-up took. */
export interface SteadyResult {
  /** Steps run. */
  steps: number;
  /** Milliseconds per step in the last window. */
  msPerStep: number;
  /** Whether it stopped because the speed was steady (false: it ran out of time). */
  steady: boolean;
}

/**
 * Run `step` in windows until the time per step is steady: `patience` windows in a row
 * no faster than the best window so far by more than 2%, after at least `minMs`.
 */
export async function untilSteady(
  step: () => void | Promise<void>,
  options: SteadyOptions = {},
): Promise<SteadyResult> {
  const { minMs = 2000, maxMs = 15000, windowMs = 500, patience = 2 } = options;
  const start = performance.now();
  let best = Infinity, calm = 0, steps = 0, msPerStep = NaN;
  while (true) {
    const t0 = performance.now();
    let n = 0;
    while (n < 10 || performance.now() - t0 < windowMs) {
      await step();
      n++;
    }
    steps += n;
    msPerStep = (performance.now() - t0) / n;
    if (msPerStep < best * 0.98) calm = 0;
    else calm++;
    best = Math.min(best, msPerStep);
    const elapsed = performance.now() - start;
    if (elapsed >= minMs && calm >= patience) return { steps, msPerStep, steady: true };
    if (elapsed >= maxMs) return { steps, msPerStep, steady: false };
  }
}
