/**
 * TensorBoard: real TensorFlow event files from Deno.
 *
 * @module
 */
export * from "./crc32c.ts";
export * from "./tfrecord.ts";
export * from "./event.ts";
export * from "./graph_def.ts";
export * from "./summary_writer.ts";
export * from "./callback.ts";
