/**
 * Optimizers for graph variables (`tf.compat.v1.train`): `minimize(loss)` adds
 * the gradient ops and one `AssignSub` per variable, grouped into one train op
 * that a session runs once per step.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { square, sub } from "./ops.ts";
 * import { Session } from "./session.ts";
 * import { GradientDescentOptimizer } from "./train.ts";
 * import { globalVariablesInitializer, Variable } from "./variables.ts";
 * const g = new Graph();
 * const { w, step } = g.asDefault(() => {
 *   const w = new Variable(0, { name: "w" });
 *   return { w, step: new GradientDescentOptimizer(0.1).minimize(square(sub(w, 3))) };
 * });
 * const sess = new Session(g);
 * sess.run(globalVariablesInitializer(g));
 * for (let i = 0; i < 50; i++) sess.run(step);
 * console.log(sess.run(w)); // close to 3
 * ```
 *
 * @module
 */
import { GraphError, type Operation, type SymbolicTensor } from "./graph.ts";
import { gradients } from "./gradients.ts";
import { group, mul } from "./ops.ts";
import type { Variable } from "./variables.ts";

/** A (gradient, variable) pair, as `computeGradients` gives them. */
export type GradAndVar = [SymbolicTensor | null, Variable];

/** Plain gradient descent: `v -= learningRate * dloss/dv` for each trainable variable. */
export class GradientDescentOptimizer {
  constructor(readonly learningRate: number, readonly name = "GradientDescent") {}

  /** Gradient ops for `loss` with respect to `varList` (default: the graph's trainable variables). */
  computeGradients(loss: SymbolicTensor, varList?: Variable[]): GradAndVar[] {
    const vars = varList ?? (loss.graph.trainableVariables as Variable[]);
    if (vars.length === 0) {
      throw new GraphError(
        `${this.name}: no trainable variables in the graph of ${loss.toString()}`,
      );
    }
    const grads = gradients(loss, vars);
    return vars.map((v, i) => [grads[i], v]);
  }

  /** One op that applies every gradient (the train op). */
  applyGradients(gradsAndVars: GradAndVar[]): Operation {
    const g = gradsAndVars[0][1].graph;
    return g.nameScope(this.name, () => {
      const updates = gradsAndVars.flatMap(([grad, v]) =>
        grad ? [v.assignSub(mul(grad, this.learningRate)).op] : []
      );
      if (updates.length === 0) {
        throw new GraphError(`${this.name}: the loss depends on none of the variables`);
      }
      return group(updates, "update");
    });
  }

  /** `applyGradients(computeGradients(loss, varList))`. */
  minimize(loss: SymbolicTensor, opts: { varList?: Variable[] } = {}): Operation {
    return this.applyGradients(this.computeGradients(loss, opts.varList));
  }
}
