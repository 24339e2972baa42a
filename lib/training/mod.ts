/**
 * Training: the callback shape shared by every loop, and the loops.
 *
 * @module
 */
export * from "./callbacks.ts";
export * from "./model_aware.ts";
export * from "./fit.ts";
export * from "./custom_loop.ts";
export * from "./early_stopping.ts";
export * from "./lr_schedule.ts";
export * from "./reduce_lr_on_plateau.ts";
export * from "./metrics.ts";
export * from "./keras_metrics.ts";
export * from "./evaluate.ts";
