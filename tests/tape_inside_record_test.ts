/**
 * `tape.gradient()` inside the tape's own `record` block, as TF2's
 * `GradientTape.gradient` (backprop.py): a non-persistent tape stops recording
 * first; a persistent one keeps recording, the gradient computation included
 * (higher derivatives inside one tape), with a warning logged once.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { GradientTape } from "../lib/tape.ts";
import { tfFunction } from "../lib/function.ts";

await initBackend();

const close = (t: tf.Tensor | null, want: number) => {
  assert.ok(t !== null, "expected a gradient, got null");
  const got = t.dataSync()[0];
  assert.ok(Math.abs(got - want) < 1e-3 * Math.max(1, Math.abs(want)), `${got} != ${want}`);
};

/** Runs `fn` with console.warn captured; returns the warnings. */
function warnings(fn: () => void): string[] {
  const seen: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void seen.push(a.join(" "));
  try {
    fn();
  } finally {
    console.warn = warn;
  }
  return seen;
}

Deno.test("GradientTape.gradient inside a persistent tape's block: the gradient is recorded, so the same tape gives the second and third derivatives (x³ at 2: 12, 12, 6)", () => {
  const x = tf.variable(tf.scalar(2));
  const tape = new GradientTape({ persistent: true });
  let d1: tf.Tensor | null = null, d2: tf.Tensor | null = null;
  tape.record(() => {
    const y = x.pow(3);
    d1 = tf.keep(tape.gradient(y, x)!); // 3x² = 12 (record's tidy frees what is not kept)
    d2 = tape.gradient(d1!, x); // 6x = 12, itself recorded
    return tf.keep(d2!);
  });
  const d3 = tape.gradient(d2!, x); // 6
  close(d1, 12);
  close(d2, 12);
  close(d3, 6);
  tf.dispose([d1!, d2!, d3!]);
  tape.dispose();
  x.dispose();
});

Deno.test("GradientTape.gradient inside a persistent tape's block logs TF's warning once (logging.log_first_n(..., 1)); a non-persistent tape does not warn", () => {
  const x = tf.variable(tf.scalar(1.5));
  const run = (persistent: boolean) => {
    const tape = new GradientTape({ persistent });
    tape.record(() => {
      const g = tape.gradient(x.square(), x)!;
      g.dispose();
    });
    tape.dispose();
  };
  const first = warnings(() => run(true));
  const later = warnings(() => {
    run(true);
    run(false);
  });
  // The warning is logged at most once per process: another test may have logged it first.
  assert.ok(first.length <= 1 && later.length === 0, `${first.length}, ${later.length}`);
  assert.ok(first.every((w) => /persistent tape inside its context/.test(w)));
  x.dispose();
});

Deno.test("GradientTape.gradient inside a non-persistent tape's block stops the recording: the rest of the block is not on the tape, a second gradient raises as for any used non-persistent tape", () => {
  const x = tf.scalar(3);
  const outer = new GradientTape({ persistent: true });
  outer.watch(x);
  const tape = new GradientTape();
  let dy: tf.Tensor | null = null;
  const z = outer.record(() =>
    tape.record(() => {
      tape.watch(x);
      const y = x.square();
      dy = tf.keep(tape.gradient(y, x)!); // 2x = 6
      return y.mul(x); // x³, no longer on `tape`; still on `outer`
    })
  );
  close(dy, 6);
  assert.throws(() => tape.gradient(z, x), /only be called once on a non-persistent/);
  assert.throws(() => tape.record(() => x.square()), /already computed its gradient/);
  close(outer.gradient(z, x), 27); // the outer tape recorded the whole block: 3x²
  close(outer.gradient(dy!, x), 2); // and the inner gradient: d(2x)/dx
  tf.dispose([x, z, dy!]);
  tape.dispose();
  outer.dispose();
});

Deno.test("GradientTape.gradient inside record leaks no tensors (100 persistent and non-persistent blocks, memory flat)", () => {
  const x = tf.variable(tf.tensor1d([0.5, -1, 2]));
  const cycle = () => {
    const p = new GradientTape({ persistent: true });
    const r = p.record(() => {
      const y = x.exp().sum();
      const g = p.gradient(y, x)!;
      return g.mul(g).sum();
    });
    const h = p.gradient(r, x)!;
    p.dispose();
    const n = new GradientTape();
    const g2 = n.record(() => {
      const y = x.tanh().sum();
      const g = n.gradient(y, x)!;
      return tf.keep(g);
    });
    n.dispose();
    tf.dispose([r, h, g2]);
  };
  warnings(cycle); // first cycle: the warning, and tfjs's one-time allocations
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) cycle();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

Deno.test("GradientTape.gradient inside record checks against closed forms: d/dx sum((e^x)²) computed through an in-block gradient of e^x is 4e^{2x}", () => {
  const x = tf.variable(tf.tensor1d([0.3, -0.2]));
  const tape = new GradientTape({ persistent: true });
  const r = tape.record(() => {
    const g = tape.gradient(x.exp().sum(), x)!; // e^x
    return g.square().sum(); // sum(e^{2x})
  });
  const h = tape.gradient(r, x)!;
  const want = [0.3, -0.2].map((v) => 2 * Math.exp(2 * v));
  h.dataSync().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `${v} != ${want[i]}`));
  tf.dispose([r, h]);
  tape.dispose();
  x.dispose();
});

Deno.test("tf.function: GradientTape.gradient inside a persistent tape's block in a traced function gives the second derivative (x³: 6x), and a non-persistent one stops recording there", () => {
  const f = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    let d1: tf.Tensor | null = null;
    tape.record(() => {
      d1 = tape.gradient(x.pow(3), x);
    });
    return [d1!, tape.gradient(d1!, x)!];
  });
  const g = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    return tape.record(() => {
      const d = tape.gradient(x.square(), x)!; // 2x
      const after = x.mul(d); // not recorded: the tape stopped
      return [d, after];
    });
  });
  const x = tf.scalar(2);
  const [a, b] = f(x) as tf.Tensor[];
  const [c, d] = g(x) as tf.Tensor[];
  close(a, 12);
  close(b, 12);
  close(c, 4);
  close(d, 8);
  tf.dispose([x, a, b, c, d]);
  f.dispose();
  g.dispose();
});
