/**
 * Model builders: the Sequential MLP and CNN, the functional CNN and a
 * residual CNN, a custom layer, a subclassed model, and their summaries.
 *
 * @module
 */
export * from "./sequential.ts";
export * from "./functional.ts";
export * from "./custom_layer.ts";
export * from "./subclassed.ts";
export * from "./seeded_dropout.ts";
export * from "./summary.ts";
export * from "./counting_dense.ts";
