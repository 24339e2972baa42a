/**
 * Model files: save and load Keras models in TensorFlow.js's format through a
 * Deno file-system IO handler, with atomic writes.
 *
 * @module
 */
export * from "./atomic.ts";
export * from "./model_files.ts";
export * from "./safe_path.ts";
