/**
 * The AutoGraph operators: what converted code calls as `ag__.ifStmt(...)`,
 * `ag__.add(...)`, ... (TensorFlow's `ag__` module).
 *
 * @example
 * ```ts
 * import * as ag__ from "./mod.ts";
 * console.log(ag__.add(1, 2), ag__.not(true)); // 3 false
 * ```
 *
 * @module
 */
export * from "./arithmetic.ts";
export * from "./logical.ts";
export * from "./control_flow.ts";
