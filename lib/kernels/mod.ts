/**
 * Kernels this project registers or replaces, per backend.
 *
 * @module
 */
import type { BackendName } from "../backend.ts";

/** Register the kernels that `backend` lacks or runs slowly. Idempotent. */
export function installKernels(_backend: BackendName): void {
}
