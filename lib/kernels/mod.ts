/**
 * Kernels this project registers or replaces, per backend (see
 * {@linkcode installKernels}), and the WebGPU size guard. Several WASM kernels
 * are SIMD loops assembled at start-up (`_wasm.ts`) that work in place on the
 * backend's heap; with tfjs's threaded WASM build (`wasm_threads.ts`) they split
 * their work with a helper thread on the same, shared, heap (`_parallel.ts`).
 *
 * @example
 * ```ts
 * import { assertFitsWebGpu, installKernels } from "./mod.ts";
 * installKernels("wasm"); // idempotent; initBackend already calls it
 * assertFitsWebGpu([128, 28, 28, 1]); // one batch fits a WebGPU binding
 * ```
 *
 * @module
 */
export { installKernels } from "./install_kernels.ts";
export { KernelInputError, KernelInstallError } from "./_kernel_util.ts";
export {
  conv2dBackpropFilterConfig,
  Conv2DBackpropFilterError,
  conv2dBackpropFilterVia,
} from "./conv2d_backprop_filter.ts";
export { conv2dBackpropInputConfig, conv2dBackpropInputVia } from "./conv2d_backprop_input.ts";
export { gemmMatMulConfig, untransposedMatMulConfig } from "./batch_matmul.ts";
export { gemm, gemmEnabled, type Operand, type Strided, type Tabled, useGemm } from "./gemm.ts";
export { gemmConv2D, gemmFilterGrad, gemmInputGrad } from "./conv2d_gemm.ts";
export {
  useWinogradTile,
  winogradConv2D,
  winogradFilterGrad,
  winogradInputGrad,
} from "./conv2d_winograd.ts";
export { maxPoolGradConfig, maxPoolGradInto } from "./max_pool_grad.ts";
export { maxPoolConfig } from "./max_pool.ts";
export { nonNegativeAxisConfig } from "./cumulative_axis.ts";
export { leadingAxesSumConfig } from "./sum.ts";
export { biasAddConfig } from "./bias_add.ts";
export { reluConfig, reluGradConfig } from "./relu.ts";
export { directConv2DConfig, directFilterGrad, directInputGrad } from "./conv2d_direct.ts";
export {
  type AdamUpdateAttrs,
  adamUpdateConfig,
  adamUpdateInto,
  installFusedAdam,
} from "./adam_update.ts";
export { aliasCastConfig, aliasIdentityConfig } from "./identity.ts";
export {
  installFusedSoftmaxCrossEntropy,
  SOFTMAX_CROSS_ENTROPY,
  softmaxCrossEntropyInto,
} from "./softmax_cross_entropy.ts";
export {
  type WasmKernelPath,
  wasmKernelPaths,
  type WasmRuntime,
  wasmRuntime,
} from "./wasm_threads.ts";
export {
  assertFitsWebGpu,
  DEFAULT_WEBGPU_BINDING_LIMIT,
  installWebGpuGuard,
  webGpuBindingLimit,
  webGpuBytes,
  WebGpuLimitError,
} from "./webgpu_guard.ts";
