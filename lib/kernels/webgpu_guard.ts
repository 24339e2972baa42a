/**
 * Fail loudly instead of computing zeros on WebGPU's storage-binding limit.
 *
 * A WebGPU shader binds each tensor as one storage buffer, and a binding may
 * not exceed the device's `maxStorageBufferBindingSize` (128 MiB by default).
 * tfjs-backend-webgpu 4.22.0 does not check it: `gather` or `slice` on a
 * bigger tensor (the 60 000 MNIST images as float32 are 179 MiB) silently
 * returns zeros. {@linkcode installWebGpuGuard} wraps every WebGPU kernel so
 * that an input or output over the limit throws {@linkcode WebGpuLimitError},
 * naming the kernel, the shape and the fix; {@linkcode assertFitsWebGpu} is
 * the same check for code that wants to ask before it builds a tensor.
 *
 * It also makes synchronous reads loud: tfjs reads a WebGPU tensor in
 * `dataSync()`/`arraySync()` through a 2D `OffscreenCanvas`, which Deno does
 * not have, so they die with "Cannot read properties of null (reading
 * 'clearRect')" (seen on Mesa's llvmpipe and an NVIDIA H200); the guard turns
 * that into {@linkcode WebGpuSyncReadError}, which says to `await t.data()`.
 *
 * @example
 * ```ts
 * import { assertFitsWebGpu, WebGpuLimitError } from "./webgpu_guard.ts";
 * try {
 *   assertFitsWebGpu([60_000, 28, 28, 1], "float32", "the MNIST training images");
 * } catch (e) {
 *   console.log(e instanceof WebGpuLimitError); // true: batch from the Uint8Array store instead
 * }
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** WebGPU's default `maxStorageBufferBindingSize`: 128 MiB. */
export const DEFAULT_WEBGPU_BINDING_LIMIT = 128 * 1024 * 1024;

/** Thrown when a tensor would exceed WebGPU's storage-binding limit. */
export class WebGpuLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebGpuLimitError";
  }
}

/** Thrown by `dataSync()`/`arraySync()` on a WebGPU tensor where they cannot work (Deno). */
export class WebGpuSyncReadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebGpuSyncReadError";
  }
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 4, complex64: 8 };

/** Bytes a tensor of `shape` and `dtype` occupies on WebGPU (bools are stored as int32). */
export function webGpuBytes(shape: readonly number[], dtype: tf.DataType = "float32"): number {
  return shape.reduce((a, b) => a * b, 1) * (BYTES[dtype] ?? 4);
}

/** The active WebGPU device's binding limit, or the default when none is active. */
export function webGpuBindingLimit(): number {
  try {
    const backend = tf.findBackend("webgpu") as unknown as {
      device?: { limits?: { maxStorageBufferBindingSize?: number } };
    } | null;
    return backend?.device?.limits?.maxStorageBufferBindingSize ?? DEFAULT_WEBGPU_BINDING_LIMIT;
  } catch {
    return DEFAULT_WEBGPU_BINDING_LIMIT;
  }
}

/**
 * Throw {@linkcode WebGpuLimitError} when a tensor of `shape`/`dtype` does not
 * fit one WebGPU storage binding (`limit` defaults to the device's).
 */
export function assertFitsWebGpu(
  shape: readonly number[],
  dtype: tf.DataType = "float32",
  what = "tensor",
  limit: number = webGpuBindingLimit(),
): void {
  const bytes = webGpuBytes(shape, dtype);
  if (bytes > limit) {
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    throw new WebGpuLimitError(
      `${what} of shape [${shape.join(", ")}] (${dtype}) needs ${mib(bytes)} MiB, over WebGPU's ` +
        `${mib(limit)} MiB storage-binding limit, where tfjs would silently compute zeros: ` +
        `keep it on the CPU as bytes and upload one batch at a time ` +
        `(Dataset.batches), or use the "wasm" backend`,
    );
  }
}

const originals = new Map<string, tf.KernelConfig>();

/**
 * Whether this runtime has the 2D `OffscreenCanvas` that tfjs's synchronous
 * WebGPU read (`dataSync`, `arraySync`) needs. False in Deno 2.9.
 */
export function webGpuSyncReadSupported(): boolean {
  try {
    return typeof OffscreenCanvas !== "undefined" &&
      new OffscreenCanvas(1, 1).getContext("2d") !== null;
  } catch {
    return false;
  }
}

let syncGuarded: object | undefined;

/** Wrap the WebGPU backend's `readSync` so its failure in Deno is a {@linkcode WebGpuSyncReadError}. */
function guardSyncReads(): void {
  const backend = tf.findBackend("webgpu") as unknown as
    | { readSync?: (dataId: object) => unknown }
    | null;
  if (!backend || backend === syncGuarded || typeof backend.readSync !== "function") return;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    try {
      return readSync(dataId);
    } catch (e) {
      if (!(e instanceof TypeError) || webGpuSyncReadSupported()) throw e;
      throw new WebGpuSyncReadError(
        `dataSync()/arraySync() cannot read a WebGPU tensor here: tfjs reads WebGPU data ` +
          `synchronously through a 2D OffscreenCanvas, which Deno does not have. Use ` +
          `"await tensor.data()" or "await tensor.array()", or the WASM backend ` +
          `(initBackend({ prefer: "wasm" }) or TFJS_BACKEND=wasm)`,
        { cause: e },
      );
    }
  };
  syncGuarded = backend;
}

/**
 * Wrap every kernel registered for "webgpu" so that any input or output over
 * the binding limit throws, and make a failing synchronous read throw
 * {@linkcode WebGpuSyncReadError}. Idempotent.
 */
export function installWebGpuGuard(): void {
  guardSyncReads();
  for (const config of tf.getKernelsForBackend("webgpu")) {
    if (!originals.has(config.kernelName)) originals.set(config.kernelName, config);
    const orig = originals.get(config.kernelName)!;
    const name = orig.kernelName;
    tf.unregisterKernel(name, "webgpu");
    tf.registerKernel({
      ...orig,
      kernelFunc: (args) => {
        const limit = webGpuBindingLimit();
        for (const [key, t] of Object.entries(args.inputs)) {
          if (t) assertFitsWebGpu(t.shape, t.dtype, `${name} input "${key}"`, limit);
        }
        const out = orig.kernelFunc(args);
        const outs = Array.isArray(out) ? out : [out];
        for (const t of outs) {
          if (webGpuBytes(t.shape, t.dtype) > limit) {
            for (const o of outs) (args.backend as tf.KernelBackend).disposeData(o.dataId);
            assertFitsWebGpu(t.shape, t.dtype, `${name} output`, limit);
          }
        }
        return out;
      },
    });
  }
}
