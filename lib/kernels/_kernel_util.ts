/**
 * Helpers for kernels written in terms of other kernels of the same backend.
 *
 * A kernel function receives `TensorInfo`s (not `Tensor`s) and must return
 * `TensorInfo`s. Calling the backend's own kernel functions directly (rather
 * than `tf.*` ops) keeps the intermediates out of the engine's bookkeeping, so
 * that they are freed with `backend.disposeData` exactly like tfjs's built-in
 * composite kernels do.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A backend's data handle for one tensor (what kernels take and return). */
export type Info = tf.TensorInfo;

/**
 * What the WASM backend offers kernels that work on its heap in place
 * (`tfjs-backend-wasm`'s `BackendWasm`, which the package does not export as a type).
 */
export interface HeapBackend {
  /** A new output tensor's data, allocated on the heap. */
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  /** A view of a tensor's data on the heap (invalid once the heap grows). */
  typedArrayFromHeap(info: Info): tf.TypedArray;
  /** The byte offset of a tensor's data on the heap. */
  getMemoryOffset(dataId: object): number;
  disposeData(dataId: object): boolean;
}

/** Thrown when a kernel we replace is missing from the backend we patch. */
export class KernelInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelInstallError";
  }
}

/** Thrown when a kernel receives inputs of inconsistent shapes; the message says which. */
export class KernelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelInputError";
  }
}

/** Run `backendName`'s kernel `kernelName` directly on tensor infos. */
export function callKernel(
  kernelName: string,
  backendName: string,
  backend: tf.KernelBackend,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown> = {},
): Info {
  const kernel = tf.getKernel(kernelName, backendName);
  if (!kernel) {
    throw new KernelInstallError(
      `backend "${backendName}" has no "${kernelName}" kernel, which lib/kernels needs; ` +
        `check the @tensorflow/tfjs-backend-${backendName} version pinned in deno.json`,
    );
  }
  const out = kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    attrs: attrs as tf.NamedAttrMap,
    backend,
  });
  return (Array.isArray(out) ? out[0] : out) as Info;
}

/** Free intermediates made by {@linkcode callKernel} (refcounted by the backend). */
export function release(backend: tf.KernelBackend, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * Register `config`, replacing any kernel already registered under the same
 * name and backend (tfjs throws on duplicates). Returns the kernel it replaced.
 */
export function replaceKernel(config: tf.KernelConfig): tf.KernelConfig | undefined {
  const previous = tf.getKernel(config.kernelName, config.backendName);
  if (previous) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
  return previous;
}

/** The 4 entries of a 2-D stride/dilation attribute given as a number or a pair. */
export function pair(v: number | [number, number] | number[]): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/**
 * An NHWC float32 tensor on the heap copied into the middle of a zeroed `height` ×
 * `width` one, `top` rows and `left` columns in (a new tensor the caller frees), or
 * `x` itself when nothing pads.
 */
export function padNhwc(
  heap: HeapBackend,
  x: Info,
  top: number,
  left: number,
  height: number,
  width: number,
): Info {
  const [b, h, w, c] = x.shape;
  if (height === h && width === w) return x;
  const out = heap.makeOutput([b, height, width, c], "float32");
  const dst = heap.typedArrayFromHeap(out) as Float32Array;
  const src = heap.typedArrayFromHeap(x) as Float32Array;
  dst.fill(0);
  for (let n = 0; n < b; n++) {
    for (let r = 0; r < h; r++) {
      const from = (n * h + r) * w * c;
      dst.set(src.subarray(from, from + w * c), ((n * height + r + top) * width + left) * c);
    }
  }
  return out;
}

/**
 * The inverse of {@linkcode padNhwc}: `out` (NHWC, float32) gets the window of `padded`
 * that starts `top` rows and `left` columns in.
 */
export function cropNhwc(
  heap: HeapBackend,
  padded: Info,
  out: Info,
  top: number,
  left: number,
): void {
  const [b, h, w, c] = out.shape;
  const [, hp, wp] = padded.shape;
  const src = heap.typedArrayFromHeap(padded) as Float32Array;
  const dst = heap.typedArrayFromHeap(out) as Float32Array;
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < h; y++) {
      const from = ((n * hp + y + top) * wp + left) * c;
      dst.set(src.subarray(from, from + w * c), (n * h + y) * w * c);
    }
  }
}
