/**
 * Training: the callback shape shared by every loop, and the loops.
 *
 * @module
 */
export * from "./callbacks.ts";
