/**
 * Distribution: data-parallel training on Deno Workers, and the benchmark models.
 *
 * @module
 */
export * from "./mirrored.ts";
export * from "./models.ts";
export type { OptimizerSpec, ReplicaModel, SerializedModel } from "./_replica.ts";
