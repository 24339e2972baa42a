/**
 * Files: save and load Keras models in TensorFlow.js's format through a Deno
 * file-system IO handler; atomic writes of one file or of a set of files that
 * belong together ({@linkcode commitFiles}); and safe opening of files named
 * by untrusted data (inside a folder, regular files only, bounded reads).
 *
 * @example
 * ```ts
 * import { loadModel, saveModel } from "./mod.ts";
 * import { mlp } from "../models/sequential.ts";
 * const dir = await Deno.makeTempDir();
 * await saveModel(mlp({ seed: 1 }), dir);
 * console.log((await loadModel(dir)).countParams()); // 101770
 * ```
 *
 * @module
 */
export * from "./atomic.ts";
export * from "./model_files.ts";
export * from "./safe_path.ts";
