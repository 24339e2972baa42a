/**
 * Adam as one kernel per variable on WASM.
 *
 * tfjs's `AdamOptimizer.applyGradients` builds each update from about a dozen
 * element-wise ops (`mul`, `add`, `square`, `div`, `sqrt`, ...), each a separate
 * kernel call with its own output buffer. On WASM that costs about 0.9 ms a
 * step for the 101,770 parameters of the MNIST MLP, a quarter of the whole
 * step. `AdamUpdate` does the same arithmetic in one pass over the backend's
 * heap and returns the new value and both moments; {@linkcode installFusedAdam}
 * makes every `tf.train.adam` optimizer (including `compile({ optimizer:
 * "adam" })`) use it while the active backend is WASM. On any other backend,
 * or for a non-float32 variable, the stock code runs. The optimizer lets the
 * kernel write over each variable and its moments in place, as TensorFlow's
 * `ResourceApplyAdam` does, unless another tensor shares their buffers; large
 * variables are split between the two threads.
 *
 * The results match the stock optimizer to float32 rounding: each
 * intermediate the stock ops would store as float32 is rounded with
 * `Math.fround` in the same order.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs the fused Adam on WASM
 * await initBackend({ prefer: "wasm" });
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const opt = tf.train.adam(0.1);
 * opt.minimize(() => w.square().sum() as tf.Scalar);
 * w.print(); // [0.9, 1.9]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend, Info } from "./_kernel_util.ts";
import { assemble, backendMemory, F32, I32, instantiate, op, simd, V128 } from "./_wasm.ts";
import { floatParts, runParts, SPLIT_MIN } from "./_parallel.ts";

/** Attributes of the `AdamUpdate` kernel. */
export interface AdamUpdateAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** `1 − beta1^t` (the bias correction of the first moment), as float32. */
  correction1: number;
  /** `1 − beta2^t`, as float32. */
  correction2: number;
  /**
   * The outputs may take the buffers of `x`, `m` and `v` (when no other tensor shares
   * them): the caller replaces those tensors by the outputs. Default false.
   */
  inPlace?: boolean;
}

/** The WASM backend's reference counts of tensor buffers. */
interface SharedBuffers {
  refCount(dataId: object): number;
  incRef(dataId: object): void;
}

const f = Math.fround;

/**
 * One Adam step on flat float32 arrays, written to `xOut`, `mOut`, `vOut` (each may
 * be its own input, `x`, `m` or `v`, and alias nothing else). Rounds like the stock
 * op-by-op update.
 */
export function adamUpdateInto(
  x: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  xOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  a: AdamUpdateAttrs,
): void {
  const b1 = f(a.beta1), b2 = f(a.beta2), c1 = f(1 - a.beta1), c2 = f(1 - a.beta2);
  const k1 = f(a.correction1), k2 = f(a.correction2), eps = f(a.epsilon);
  const step = f(-a.learningRate);
  for (let i = 0; i < x.length; i++) {
    const gi = g[i];
    const mi = f(f(m[i] * b1) + f(gi * c1));
    const vi = f(f(v[i] * b2) + f(f(gi * gi) * c2));
    mOut[i] = mi;
    vOut[i] = vi;
    const denom = f(f(Math.sqrt(f(vi / k2))) + eps);
    xOut[i] = f(f(f(f(mi / k1) / denom) * step) + x[i]);
  }
}

// The same update, four lanes at a time, in WebAssembly on the backend's heap
// (JavaScript's float64 division and square root made the loop above slower
// than the stock ops). Params: x, m, v, g, xOut, mOut, vOut (byte offsets),
// bytes (a multiple of 16), then b1, c1, b2, c2, k1, k2, eps, step.
const [X, M, V, G, XO, MO, VO, BYTES] = [0, 1, 2, 3, 4, 5, 6, 7];
const I = 16, SPLAT = 17, GI = 25, MI = 26, VI = 27; // locals
const [B1, C1, B2, C2, K1, K2, EPS, STEP] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => SPLAT + k);
const at = (ptr: number) => [...op.get(ptr), ...op.get(I), ...op.i32Add];
const ADAM_WASM = assemble([{
  name: "adam",
  params: [I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32],
  locals: [I32, ...Array(8).fill(V128), V128, V128, V128],
  body: [
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((k) => [...op.get(8 + k), ...simd.splat, ...op.set(SPLAT + k)]),
    op.block,
    op.loop,
    [...op.get(I), ...op.get(BYTES), ...op.i32GeU, ...op.brIf(1)],
    [...at(G), ...simd.load(), ...op.set(GI)],
    // m' = m·b1 + g·c1
    [...at(MO), ...at(M), ...simd.load(), ...op.get(B1), ...simd.mul],
    [...op.get(GI), ...op.get(C1), ...simd.mul, ...simd.add, ...op.tee(MI), ...simd.store()],
    // v' = v·b2 + (g·g)·c2
    [...at(VO), ...at(V), ...simd.load(), ...op.get(B2), ...simd.mul],
    [...op.get(GI), ...op.get(GI), ...simd.mul, ...op.get(C2), ...simd.mul, ...simd.add],
    [...op.tee(VI), ...simd.store()],
    // x' = ((m'/k1) / (sqrt(v'/k2) + eps))·step + x
    [...at(XO), ...op.get(MI), ...op.get(K1), ...simd.div],
    [...op.get(VI), ...op.get(K2), ...simd.div, ...simd.sqrt, ...op.get(EPS), ...simd.add],
    [...simd.div, ...op.get(STEP), ...simd.mul, ...at(X), ...simd.load(), ...simd.add],
    simd.store(),
    [...op.get(I), ...op.i32(16), ...op.i32Add, ...op.set(I), ...op.br(0)],
    op.end,
    op.end,
  ],
}]);

/** The `AdamUpdate` kernel for WASM: inputs `x`, `m`, `v`, `g`; outputs new `x`, `m`, `v`. */
export function adamUpdateConfig(): tf.KernelConfig {
  return {
    kernelName: "AdamUpdate",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, m, v, g } = inputs as Record<"x" | "m" | "v" | "g", Info>;
      const heap = backend as unknown as HeapBackend;
      const a = attrs as unknown as AdamUpdateAttrs;
      // In place (new values over the old, element by element) when the caller gives the
      // buffers up (attribute inPlace: the fused optimizer, which assigns the outputs back
      // to the variables) and no other tensor shares them (a clone or reshape of a variable
      // shares its buffer on WASM, see identity.ts): no new 1.2 MB for the MLP each step.
      const shared = backend as unknown as SharedBuffers;
      const inPlace = a.inPlace === true && new Set([x, m, v, g].map((t) => t.dataId)).size === 4 &&
        [x, m, v].every((t) => shared.refCount(t.dataId) === 1);
      const outs = inPlace
        ? [x, m, v].map((t) => {
          shared.incRef(t.dataId);
          return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
        })
        : [x, m, v].map((t) => heap.makeOutput(t.shape, "float32"));
      const all = [x, m, v, g, ...outs];
      const n = tf.util.sizeFromShape(x.shape);
      let done = 0;
      const memory = backendMemory(backend);
      if (memory) {
        done = n - (n % 4);
        const ptrs = all.map((t) => heap.getMemoryOffset(t.dataId));
        const consts = [a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.correction1, a.correction2]
          .concat([a.epsilon, -a.learningRate]);
        // Large variables in parts two threads share (element-wise: the same numbers).
        // The helper spins between a step's jobs, so waking it costs little: in whole MLP
        // steps (one process, alternating) the 100,352-element kernel took about 0.2 ms
        // split and in place, against 0.3 on one thread into new buffers.
        const parts = floatParts(ptrs, done, done >= SPLIT_MIN ? 8 : 1, consts);
        runParts(ADAM_WASM, memory, instantiate(ADAM_WASM, memory), "adam", parts);
      }
      // The rest (or everything, without the heap's memory) in JavaScript.
      // Views after the allocations: growing the heap detaches older views.
      const [vx, vm, vv, vg, xo, mo, vo] = all.map((t) =>
        (heap.typedArrayFromHeap(t) as Float32Array).subarray(done)
      );
      adamUpdateInto(vx, vm, vv, vg, xo, mo, vo, a);
      return outs;
    },
  };
}

/** The fields of tfjs's `AdamOptimizer` that the fused step reads and updates. */
export interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  incrementIterations(): void;
}

type ApplyGradients = tf.AdamOptimizer["applyGradients"];
let stockApply: ApplyGradients | undefined;

function fusedApply(
  this: tf.AdamOptimizer,
  grads: Parameters<ApplyGradients>[0],
): void {
  const names = Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
  const gradient = (i: number) => Array.isArray(grads) ? grads[i].tensor : grads[names[i]];
  const vars = names.map((n) => tf.engine().registeredVariables[n]);
  if (
    tf.getBackend() !== "wasm" ||
    vars.some((v, i) => v?.dtype !== "float32" || (gradient(i) ?? v).dtype !== "float32")
  ) {
    return stockApply!.call(this, grads);
  }
  const s = this as unknown as AdamState;
  const correction1 = f(1 - s.accBeta1.dataSync()[0]);
  const correction2 = f(1 - s.accBeta2.dataSync()[0]);
  const attrs = {
    learningRate: s.learningRate,
    beta1: s.beta1,
    beta2: s.beta2,
    epsilon: s.epsilon,
    correction1,
    correction2,
    inPlace: true, // each output is assigned back to its variable below
  };
  tf.tidy(() => {
    vars.forEach((value, i) => {
      const moment = (list: AdamState["accumulatedFirstMoment"], suffix: string) =>
        list[i] ??= {
          originalName: `${names[i]}/${suffix}`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
      const m = moment(s.accumulatedFirstMoment, "m").variable;
      const v = moment(s.accumulatedSecondMoment, "v").variable;
      const g = gradient(i);
      if (g == null) return;
      const [x1, m1, v1] = tf.engine().runKernel(
        "AdamUpdate",
        { x: value, m, v, g },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      m.assign(m1);
      v.assign(v1);
      value.assign(x1);
    });
    s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
    s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
  });
  s.incrementIterations();
}

/**
 * Register `AdamUpdate` for WASM and route `tf.AdamOptimizer#applyGradients`
 * through it while WASM is the active backend. Idempotent; returns a function
 * that restores the stock method.
 */
export function installFusedAdam(): () => void {
  if (!tf.getKernel("AdamUpdate", "wasm")) tf.registerKernel(adamUpdateConfig());
  const proto = tf.AdamOptimizer.prototype;
  if (!stockApply) {
    stockApply = proto.applyGradients;
    proto.applyGradients = fusedApply;
  }
  return () => {
    if (stockApply) proto.applyGradients = stockApply;
    stockApply = undefined;
  };
}
