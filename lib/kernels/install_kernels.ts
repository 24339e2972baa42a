/**
 * {@linkcode installKernels}: register, per backend, the kernels this project
 * adds or replaces. `initBackend` (lib/backend.ts) calls it once a backend is
 * chosen; calling it again is harmless.
 *
 * WASM (tfjs-backend-wasm 4.22.0):
 * - `Conv2DBackpropFilter` is missing (tfjs issue 8474): added, as a convolution
 *   (or im2col and one matMul for few input channels).
 * - `Conv2DBackpropInput` is a naive loop: replaced by an ordinary (XNNPACK) convolution,
 *   or the scatter below.
 * - `BatchMatMul` / `_FusedMatMul` with a transposed operand run a naive loop, and
 *   the plain path packs the weights anew at every call: our GEMM (gemm.ts) for float32,
 *   transposes read while packing; otherwise the transpose materialised, then XNNPACK.
 * - `MaxPoolGrad` is slow: replaced by one JS loop over the WASM heap.
 * - `Sum` over several leading axes (bias gradients): reshaped to 2-D first.
 * - `Identity` and same-dtype `Cast` copy the buffer: they share it instead.
 * - Adam's dozen element-wise ops per variable: one `AdamUpdate` kernel (adam_update.ts).
 * - `Add` of a per-channel bias (a broadcast) runs a generic index loop: one SIMD loop.
 * - `Conv2D` on single-channel images (first layers), filter gradients with up to 16
 *   input channels, and input gradients of "valid" convolutions (a scatter that skips
 *   the padding zeros): direct SIMD loops (conv2d_direct.ts).
 *
 * WebGPU (tfjs-backend-webgpu 4.22.0): every kernel is wrapped so that a tensor
 * over the 128 MiB storage-binding limit throws `WebGpuLimitError` instead of
 * silently computing zeros.
 *
 * CPU and WASM: `tf.losses.softmaxCrossEntropy` runs TensorFlow's fused
 * `SoftmaxCrossEntropyWithLogits` kernel, one op instead of about twenty
 * (softmax_cross_entropy.ts). Otherwise the CPU backend keeps its stock kernels
 * (it is the reference the tests compare with).
 *
 * @example
 * ```ts
 * import { installKernels } from "./install_kernels.ts";
 * installKernels("wasm"); // idempotent; initBackend already calls it
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendName } from "../backend.ts";
import { conv2dBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
import { conv2dBackpropInputConfig } from "./conv2d_backprop_input.ts";
import { gemmMatMulConfig } from "./batch_matmul.ts";
import { maxPoolGradConfig } from "./max_pool_grad.ts";
import { leadingAxesSumConfig } from "./sum.ts";
import { aliasCastConfig, aliasIdentityConfig } from "./identity.ts";
import { replaceKernel } from "./_kernel_util.ts";
import { installWebGpuGuard } from "./webgpu_guard.ts";
import { installFusedAdam } from "./adam_update.ts";
import { biasAddConfig } from "./bias_add.ts";
import { directConv2DConfig } from "./conv2d_direct.ts";
import { reluConfig, reluGradConfig } from "./relu.ts";
import { maxPoolConfig } from "./max_pool.ts";
import { nonNegativeAxisConfig } from "./cumulative_axis.ts";
import { installFusedSoftmaxCrossEntropy } from "./softmax_cross_entropy.ts";

let stockMaxPoolGrad: tf.KernelConfig | undefined;
let stockSum: tf.KernelConfig | undefined;
let stockIdentity: tf.KernelConfig | undefined;
let stockCast: tf.KernelConfig | undefined;
let stockAdd: tf.KernelConfig | undefined;
let stockConv2D: tf.KernelConfig | undefined;
let stockRelu: tf.KernelConfig | undefined;
let stockMaxPool: tf.KernelConfig | undefined;
const stockCumulative = new Map<string, tf.KernelConfig>();

/** Register the kernels that `backend` lacks or runs slowly. Idempotent. */
export function installKernels(backend: BackendName): void {
  installFusedSoftmaxCrossEntropy(); // used on CPU and WASM only; idempotent
  for (const name of ["Cumsum", "Cumprod"]) {
    const key = `${name}/${backend}`;
    if (!stockCumulative.has(key)) {
      const stock = tf.getKernel(name, backend);
      if (stock) stockCumulative.set(key, stock);
    }
    const stock = stockCumulative.get(key);
    if (stock) replaceKernel(nonNegativeAxisConfig(stock));
  }
  if (backend === "wasm") {
    replaceKernel(conv2dBackpropFilterConfig("wasm"));
    replaceKernel(conv2dBackpropInputConfig("wasm"));
    replaceKernel(gemmMatMulConfig("BatchMatMul"));
    replaceKernel(gemmMatMulConfig("_FusedMatMul"));
    if (!stockMaxPoolGrad) stockMaxPoolGrad = tf.getKernel("MaxPoolGrad", "wasm");
    replaceKernel(maxPoolGradConfig(stockMaxPoolGrad));
    if (!stockSum) stockSum = tf.getKernel("Sum", "wasm");
    if (stockSum) replaceKernel(leadingAxesSumConfig(stockSum));
    if (!stockIdentity) stockIdentity = tf.getKernel("Identity", "wasm");
    if (stockIdentity) replaceKernel(aliasIdentityConfig(stockIdentity));
    if (!stockCast) stockCast = tf.getKernel("Cast", "wasm");
    if (stockCast) replaceKernel(aliasCastConfig(stockCast));
    if (!stockAdd) stockAdd = tf.getKernel("Add", "wasm");
    if (stockAdd) replaceKernel(biasAddConfig(stockAdd));
    if (!stockConv2D) stockConv2D = tf.getKernel("Conv2D", "wasm");
    if (stockConv2D) replaceKernel(directConv2DConfig(stockConv2D));
    if (!stockRelu) stockRelu = tf.getKernel("Relu", "wasm");
    if (stockRelu) replaceKernel(reluConfig(stockRelu));
    replaceKernel(reluGradConfig());
    if (!stockMaxPool) stockMaxPool = tf.getKernel("MaxPool", "wasm");
    if (stockMaxPool) replaceKernel(maxPoolConfig(stockMaxPool));
    installFusedAdam();
  } else if (backend === "webgpu") {
    installWebGpuGuard();
  }
}
