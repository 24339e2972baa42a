// What a GradientTape records, eagerly and inside a traced function, from TensorFlow's docs:
// tf.GradientTape "Operations are recorded if they are executed within this context manager and
// at least one of their inputs is being watched", the autodiff guide's "Cases where gradient
// returns None" (a target not connected to the source on the tape gives None, or zeros with
// unconnected_gradients=ZERO) and the advanced guide's stop_recording. Each case runs the same
// code eagerly and traced (tfFunction) and checks both against TF's result.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";

await initBackend();

type Grads = (tf.Tensor | null)[];
type Values = (number[] | null)[];

function read(gs: Grads): Values {
  const out = gs.map((g) => g === null ? null : Array.from(g.dataSync()));
  tf.dispose(gs.filter((g): g is tf.Tensor => g !== null));
  return out;
}

/** `body` run eagerly and traced on `input` (default x = 3): both results, as numbers (null for None). */
function eagerAndTraced(
  body: (x: tf.Tensor) => Grads,
  input: () => tf.Tensor = () => tf.scalar(3),
): { eager: Values; traced: Values } {
  const x = input();
  const eager = read(body(x));
  const f = tfFunction((t: tf.Tensor) => body(t), { autograph: false });
  const traced = read(f(x) as unknown as Grads);
  f.dispose();
  x.dispose();
  return { eager, traced };
}

/** Both runs give TF's `expected`. */
function bothGive(
  body: (x: tf.Tensor) => Grads,
  expected: Values,
  input?: () => tf.Tensor,
): void {
  const { eager, traced } = eagerAndTraced(body, input);
  assert.deepEqual(eager, expected, "eager");
  assert.deepEqual(traced, expected, "traced");
}

Deno.test("GradientTape: a target computed outside record gets None, or zeros with unconnectedGradients 'zero' (TF records only inside the tape's context), eager and traced", () => {
  bothGive((x) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    tape.record(() => x.mul(2));
    const y = x.mul(x); // after the block: not on the tape
    const g = tape.gradient(y, x);
    const z = tape.gradient(y, x, { unconnectedGradients: "zero" });
    tape.dispose();
    return [g, z];
  }, [null, [0]]);
  bothGive((x) => {
    const y = x.mul(x); // before the tape existed
    const tape = new GradientTape();
    tape.watch(x);
    tape.record(() => x.add(1));
    return [tape.gradient(y, x)];
  }, [null]);
});

Deno.test("GradientTape: a source watched after the target was computed gets None; ops after the watch are recorded (TF records an op only if an input is watched when it runs), eager and traced", () => {
  bothGive((x) => {
    const tape = new GradientTape({ persistent: true });
    const [y, z] = tape.record(() => {
      const y = x.mul(x);
      tape.watch(x);
      return [y, x.mul(x).mul(x)];
    });
    const g = [tape.gradient(y, x), tape.gradient(z, x)]; // None, 3x² = 27
    tape.dispose();
    return g;
  }, [null, [27]]);
});

Deno.test("GradientTape: a tensor computed inside record from nothing watched is no source (None), eager and traced", () => {
  bothGive((x) => {
    const tape = new GradientTape();
    const [c, y] = tape.record(() => {
      const c = x.mul(2);
      return [c, c.mul(c)];
    });
    return [tape.gradient(y, c)];
  }, [null]);
});

Deno.test("GradientTape: ops between two record blocks of a persistent tape are not recorded (TF records only inside the with blocks), eager and traced", () => {
  bothGive((x) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    const a = tape.record(() => x.mul(x));
    const m = a.mul(2); // between the blocks: a constant for the tape
    const y = tape.record(() => m.mul(x));
    const b = tape.record(() => a.mul(x)); // a was recorded: d(x³)/dx = 3x²
    const g = [tape.gradient(y, x), tape.gradient(b, x)]; // m = 2x² = 18, 27 (not 6x² = 54)
    tape.dispose();
    return g;
  }, [[18], [27]]);
});

Deno.test("GradientTape: stopRecording works inside a traced function and leaves its ops off the tape (TF's stop_recording), eager and traced", () => {
  bothGive((x) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => {
      const a = tape.stopRecording(() => x.mul(x)); // a constant for the tape: x² = 9
      return a.mul(x);
    });
    return [tape.gradient(y, x)]; // 9, not 3x² = 27
  }, [[9]]);
  bothGive((x) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => tape.stopRecording(() => x.mul(x)));
    return [tape.gradient(y, x, { unconnectedGradients: "zero" })];
  }, [[0]]);
});

Deno.test("GradientTape: with watchAccessedVariables false, a variable read before its watch gives None (TF), eager and traced", () => {
  const v = tf.variable(tf.scalar(2));
  bothGive((x) => {
    const tape = new GradientTape({ watchAccessedVariables: false, persistent: true });
    const [y, z] = tape.record(() => {
      const y = v.mul(x);
      tape.watch(v);
      return [y, v.mul(v).mul(x)];
    });
    const g = [tape.gradient(y, v), tape.gradient(z, v)]; // None, 2·v·x = 12
    tape.dispose();
    return g;
  }, [null, [12]]);
  v.dispose();
});

Deno.test("GradientTape: tf.memory is flat across calls of a traced function whose tape leaves ops unrecorded", () => {
  const f = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => tape.stopRecording(() => x.mul(x)).mul(x));
    return [tape.gradient(y, x), x.mul(x)];
  }, { autograph: false });
  const x = tf.scalar(3);
  tf.dispose(f(x) as unknown as tf.Tensor[]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(x) as unknown as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
  x.dispose();
});

const pair = (): tf.Tensor => tf.tensor1d([1, 2]);

Deno.test("GradientTape: outputGradients as a list, one per target (TF's output_gradients), gives Σᵢ dyᵢ·∂yᵢ/∂x, eager and traced", () => {
  // y = x², z = 3x at x = [1, 2], dy = [10, 100], dz = [1, 2]: 2x·dy + 3·dz.
  const x = [1, 2], dy = [10, 100], dz = [1, 2];
  bothGive(
    (t) => {
      const tape = new GradientTape();
      tape.watch(t);
      const [y, z] = tape.record(() => [t.mul(t), t.mul(3)]);
      return [tape.gradient([y, z], t, { outputGradients: [tf.tensor1d(dy), tf.tensor1d(dz)] })];
    },
    [x.map((v, i) => 2 * v * dy[i] + 3 * dz[i])],
    pair,
  );
});

Deno.test("GradientTape: a constant target in a target list contributes no gradient, its outputGradients entry still counted, eager and traced", () => {
  const x = [1, 2], dy = [10, 100];
  bothGive(
    (t) => {
      const tape = new GradientTape();
      tape.watch(t);
      const y = tape.record(() => t.mul(t));
      const c = tf.tensor1d([5, 5]);
      return [
        tape.gradient([c, y], t, { outputGradients: [tf.tensor1d([7, 7]), tf.tensor1d(dy)] }),
      ];
    },
    [x.map((v, i) => 2 * v * dy[i])],
    pair,
  );
});

Deno.test("GradientTape: outputGradients of the wrong shape is a typed GradientTapeError naming the target's shape, eager and traced; the tape is not used up", () => {
  const body = (t: tf.Tensor): Grads => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => t.mul(t));
    assert.throws(
      () => tape.gradient(y, t, { outputGradients: tf.tensor1d([1, 2, 3]) }),
      (e: Error) => e.name === "GradientTapeError" && /outputGradients.*\[2\]/.test(e.message),
    );
    return [tape.gradient(y, t)]; // 2x
  };
  bothGive(body, [[2, 4]], pair);
});

Deno.test("GradientTape: a watched int32 tensor and a path through a cast to int32 give None (TF: gradients need floating dtypes), zeros with unconnectedGradients 'zero', eager and traced", () => {
  bothGive(
    (t) => {
      const tape = new GradientTape();
      tape.watch(t);
      const y = tape.record(() => t.mul(t));
      return [tape.gradient(y, t)];
    },
    [null],
    () => tf.tensor1d([1, 2], "int32"),
  );
  bothGive(
    (t) => {
      const tape = new GradientTape({ persistent: true });
      tape.watch(t);
      const y = tape.record(() => t.mul(3).cast("int32"));
      const g = [tape.gradient(y, t), tape.gradient(y, t, { unconnectedGradients: "zero" })];
      tape.dispose();
      return g;
    },
    [null, [0, 0]],
    pair,
  );
});

Deno.test("GradientTape: watchedVariables() inside a traced function lists what the eager tape lists (TF's watched_variables): trainable variables read inside record and those watched, not non-trainable ones or reads outside record", () => {
  const a = tf.variable(tf.scalar(1), true, "wv_a");
  const b = tf.variable(tf.scalar(2), false, "wv_b");
  const c = tf.variable(tf.scalar(3), true, "wv_c");
  const d = tf.variable(tf.scalar(4), false, "wv_d");
  const seen: string[][] = [];
  const body = (x: tf.Tensor): Grads => {
    const tape = new GradientTape();
    const outside = c.mul(x);
    tape.watch(d);
    const y = tape.record(() => a.mul(b).mul(x).add(outside));
    seen.push(tape.watchedVariables().map((v) => v.name).sort());
    return [tape.gradient(y, a)]; // b·x = 6
  };
  bothGive(body, [[6]]);
  assert.deepEqual(seen, [["wv_a", "wv_d"], ["wv_a", "wv_d"]]);
  tf.dispose([a, b, c, d]);
});

Deno.test("GradientTape.jacobian and batchJacobian inside a tf.function equal the eager ones (TF computes them in a traced function): one trace, flat memory; a target whose shape is unknown when tracing is a typed error", () => {
  const jac = (x: tf.Tensor, w: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch([x, w]);
    const y = tape.record(() => tf.matMul(x.reshape([1, 3]), w).reshape([2]).sigmoid());
    return tape.jacobian(y, [x, w]) as tf.Tensor[];
  };
  const batchJac = (x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => x.pow(3));
    return tape.batchJacobian(y, x) as tf.Tensor;
  };
  const x = tf.tensor1d([0.5, -1, 2]), w = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const xb = tf.tensor2d([[1, 2], [3, 4]]);
  const eager = [...jac(x, w), batchJac(xb)];
  const traced = tfFunction(jac), tracedBatch = tfFunction(batchJac);
  const take = () => [...(traced(x, w) as tf.Tensor[]), tracedBatch(xb) as tf.Tensor];
  tf.dispose(take());
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const got = take();
    got.forEach((g, k) => {
      assert.deepEqual(g.shape, eager[k].shape);
      const [a, b] = [g.dataSync(), eager[k].dataSync()];
      a.forEach((v, j) =>
        assert.ok(Math.abs(v - b[j]) < 1e-6, `output ${k}[${j}]: ${v} vs ${b[j]}`)
      );
    });
    tf.dispose(got);
  }
  assert.equal(tf.memory().numTensors, before, "flat across calls");
  assert.equal(traced.traceCount, 1);
  assert.deepEqual(eager[2].arraySync(), [[[3, 0], [0, 12]], [[27, 0], [0, 48]]]); // 3x² per example
  // An unknown batch size: the number of backward passes is not known when tracing.
  const unknown = tfFunction(batchJac, { inputSignature: [{ shape: [null, 2] }] });
  assert.throws(() => unknown(xb), /shape must be known when tracing/);
  tf.dispose([x, w, xb, ...eager]);
  [traced, tracedBatch, unknown].forEach((f) => f.dispose());
});
