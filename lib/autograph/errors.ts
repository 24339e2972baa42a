/**
 * The errors AutoGraph raises: {@linkcode AutoGraphError} where a function cannot be
 * converted or its control flow cannot become graph ops (TensorFlow raises `ValueError`,
 * `TypeError` or `NotImplementedError` from AutoGraph there), and
 * {@linkcode OperatorNotAllowedInGraphError} (defined with the symbolic tensor in
 * `lib/v1/graph.ts`) where unconverted code uses a symbolic tensor as a JavaScript value.
 *
 * @example
 * ```ts
 * import { AutoGraphError } from "./errors.ts";
 * console.log(new AutoGraphError("'y' must also be initialized in the else branch").name);
 * ```
 *
 * @module
 */
import { GraphError } from "../v1/graph.ts";
export { OperatorNotAllowedInGraphError } from "../v1/graph.ts";

/** A function AutoGraph cannot convert, or control flow it cannot turn into graph ops. */
export class AutoGraphError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "AutoGraphError";
  }
}

/**
 * A free variable of the function that the converted code cannot see (a closure variable
 * or a module import): pass it with `{ scope: { name } }`. `tfFunction` then runs the
 * function as written, with a warning, as `tf.function` does when AutoGraph cannot
 * transform a function.
 */
export class AutoGraphScopeError extends AutoGraphError {
  constructor(message: string, readonly variable: string) {
    super(message);
    this.name = "AutoGraphScopeError";
  }
}
