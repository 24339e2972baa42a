/**
 * TensorFlow's fused `SoftmaxCrossEntropyWithLogits` kernel behind
 * `tf.losses.softmaxCrossEntropy`, on the CPU and WASM backends.
 *
 * tfjs 4.22 builds this loss from about twenty small ops (a log-sum-exp, a
 * custom gradient that saves the log-softmax, casts, the mean) and its
 * gradient from a dozen more. Each op costs a few microseconds of bookkeeping
 * whatever its size: in the MNIST MLP's training step the fused loss took the
 * median step from 1.62 to 1.50 ms (one process, alternating). TensorFlow computes the loss as one kernel with two
 * outputs, the per-example loss and `backprop = softmax(logits) − labels`, and
 * its gradient is `backprop` scaled by the loss's gradient (`nn_grad.py`,
 * `_SoftmaxCrossEntropyWithLogitsGrad`). {@linkcode installFusedSoftmaxCrossEntropy}
 * registers that kernel and sends `tf.losses.softmaxCrossEntropy(labels, logits)`
 * through it (no weights, no label smoothing, any reduction), so a training
 * step runs 3 ops for its loss where it ran about 35.
 *
 * What differs from tfjs's own loss, and why:
 * - each row is computed in float64 and rounded once (tfjs rounds every
 *   intermediate to float32): values agree to float32 rounding;
 * - the gradient with respect to the labels is TensorFlow's,
 *   `−dy · log_softmax(logits)`; tfjs's custom gradient gives `dy · (labels −
 *   softmax(logits))`, which is not the derivative of the loss.
 *
 * Elsewhere the previous function runs: weights or label smoothing, other
 * backends (WebGPU would read the logits back), and nested tapes (gradient
 * depth ≥ 2), where a higher derivative may be taken through the gradient;
 * the ops tfjs records then differentiate again (lib/tape.ts). Inside a traced
 * function the kernel's graph form is TF's op (lib/v1/_kernel_dispatch.ts).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs the fused loss on CPU and WASM
 * await initBackend({ prefer: "cpu" });
 * const labels = tf.tensor2d([[0, 1]]), logits = tf.tensor2d([[0, 0]]);
 * tf.losses.softmaxCrossEntropy(labels, logits).print(); // 0.6931472 (ln 2)
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Info } from "./_kernel_util.ts";

/** The kernel's name: TensorFlow's op. Inputs `labels`, `logits`; outputs loss, backprop. */
export const SOFTMAX_CROSS_ENTROPY = "SoftmaxCrossEntropyWithLogits";

/** Backends whose tensors the kernel reads synchronously without a device round trip. */
const BACKENDS = ["cpu", "wasm"] as const;

/** What the kernel needs of a backend (both CPU and WASM have it). */
interface SyncBackend {
  readSync(dataId: object): tf.TypedArray;
  write(values: tf.TypedArray, shape: number[], dtype: tf.DataType): object;
}

/**
 * Per row of `classes` logits x and labels y: loss = −Σ y·(x − lse) and backprop =
 * softmax(x) − y, where lse = log Σ exp(x) (taken after subtracting the row's maximum).
 */
export function softmaxCrossEntropyInto(
  labels: ArrayLike<number>,
  logits: ArrayLike<number>,
  classes: number,
  loss: Float32Array,
  backprop: Float32Array,
): void {
  const exps = new Float64Array(classes);
  for (let r = 0, at = 0; r < loss.length; r++, at += classes) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[at + j]);
    // One exp per element (most of the time here): e = exp(x − max) kept in float64.
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += exps[j] = Math.exp(logits[at + j] - max);
    const lse = max + Math.log(sum);
    let l = 0;
    for (let j = 0; j < classes; j++) {
      l -= labels[at + j] * (logits[at + j] - lse);
      backprop[at + j] = exps[j] / sum - labels[at + j];
    }
    loss[r] = l;
  }
}

function kernelConfig(backendName: string): tf.KernelConfig {
  return {
    kernelName: SOFTMAX_CROSS_ENTROPY,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { labels, logits } = inputs as { labels: Info; logits: Info };
      const b = backend as unknown as SyncBackend;
      const classes = logits.shape[logits.shape.length - 1];
      const backprop = new Float32Array(tf.util.sizeFromShape(logits.shape));
      const loss = new Float32Array(backprop.length / classes);
      softmaxCrossEntropyInto(
        b.readSync(labels.dataId),
        b.readSync(logits.dataId),
        classes,
        loss,
        backprop,
      );
      const out = (values: Float32Array, shape: number[]): Info => ({
        dataId: b.write(values, shape, "float32"),
        shape,
        dtype: "float32",
      });
      return [out(loss, logits.shape.slice(0, -1)), out(backprop, logits.shape)];
    },
  };
}

/** TF's gradient: backprop for the logits, −log_softmax for the labels, each times dy. */
const gradient: tf.GradConfig = {
  kernelName: SOFTMAX_CROSS_ENTROPY,
  inputsToSave: ["logits"],
  outputsToSave: [false, true],
  gradFunc: (dy, saved) => {
    // The backprop output is never handed out (its dy is zeros): only the loss's counts.
    const scale = () => tf.expandDims((dy as tf.Tensor[])[0], -1);
    const [logits, backprop] = saved;
    return {
      logits: () => tf.mul(scale(), backprop),
      labels: () => tf.mul(scale(), tf.neg(tf.logSoftmax(logits))),
    };
  },
};

type SoftmaxCrossEntropy = typeof tf.losses.softmaxCrossEntropy;
let previous: SoftmaxCrossEntropy | undefined;

function fusable(labels: unknown, logits: unknown, weights: unknown, smoothing: number): boolean {
  if (weights != null || smoothing > 0) return false;
  if (!(labels instanceof tf.Tensor) || !(logits instanceof tf.Tensor)) return false;
  if (logits.dtype !== "float32" || labels.dtype === "string" || logits.size === 0) return false;
  if (!tf.util.arraysEqual(labels.shape, logits.shape)) return false; // tfjs says what is wrong
  const state = tf.engine().state as unknown as { gradientDepth: number };
  return state.gradientDepth < 2 && (BACKENDS as readonly string[]).includes(tf.getBackend());
}

/** The loss of {@linkcode fused} reduced as tfjs's `computeWeightedLoss` does without weights. */
function reduce(losses: tf.Tensor, reduction: tf.Reduction): tf.Tensor {
  switch (reduction) {
    case tf.Reduction.NONE:
      return losses;
    case tf.Reduction.SUM:
      return tf.sum(losses);
    case tf.Reduction.MEAN:
      return tf.mean(losses);
    default: // SUM_BY_NONZERO_WEIGHTS: every weight is one (a graph tensor: its mean)
      return losses instanceof tf.Tensor
        ? tf.div(tf.sum(losses), tf.scalar(losses.size))
        : tf.mean(losses);
  }
}

function fused(
  labels: tf.Tensor,
  logits: tf.Tensor,
  reduction: tf.Reduction,
): tf.Tensor {
  return tf.tidy(() => {
    const [losses] = tf.engine().runKernel(
      SOFTMAX_CROSS_ENTROPY,
      { labels, logits } as unknown as tf.NamedTensorMap,
    ) as tf.Tensor[];
    return reduce(losses, reduction);
  });
}

/**
 * Register the fused kernel on CPU and WASM, with its gradient, and send
 * `tf.losses.softmaxCrossEntropy` through it where it applies (see the module
 * doc). Idempotent; `initBackend` calls it.
 */
export function installFusedSoftmaxCrossEntropy(): void {
  for (const backend of BACKENDS) {
    if (!tf.getKernel(SOFTMAX_CROSS_ENTROPY, backend)) tf.registerKernel(kernelConfig(backend));
  }
  if (!tf.getGradient(SOFTMAX_CROSS_ENTROPY)) tf.registerGradient(gradient);
  if (previous) return;
  const stock = previous = tf.losses.softmaxCrossEntropy;
  const losses = tf.losses as { softmaxCrossEntropy: SoftmaxCrossEntropy };
  losses.softmaxCrossEntropy = ((
    labels: tf.Tensor,
    logits: tf.Tensor,
    weights?: tf.Tensor,
    labelSmoothing = 0,
    reduction: tf.Reduction = tf.Reduction.SUM_BY_NONZERO_WEIGHTS,
  ) =>
    fusable(labels, logits, weights, labelSmoothing) &&
      Object.values(tf.Reduction).includes(reduction)
      ? fused(labels, logits, reduction)
      : stock(labels, logits, weights, labelSmoothing, reduction)) as SoftmaxCrossEntropy;
}
