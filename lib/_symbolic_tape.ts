/**
 * `GradientTape` inside a traced function: there the tape sees graph tensors,
 * not eager ones, so `record` remembers which ops of the function graph its
 * block added, and `gradient` builds the gradient as more ops of the graph
 * with `v1.gradients` (reverse mode on the graph, as TensorFlow does when a
 * tape runs inside `tf.function`).
 *
 * As with the eager tape: trainable `tf.Variable`s read inside `record` are
 * watched (unless `watchAccessedVariables: false`); a graph tensor is a source
 * when `watch`ed or computed inside `record`; a `watch`ed eager tensor the
 * function closes over is one too (TF captures it: the graph's constants made
 * of it stand for it); a source the target does not
 * depend on gets `null` (or zeros with `unconnectedGradients: "zero"`); a
 * non-persistent tape allows one `gradient` call. The gradient with respect to
 * a variable sums the gradients of all its reads inside `record`.
 *
 * `lib/tape.ts` hands a tape here (see {@linkcode symbolicTapeFor}) while a
 * function is being traced, or when a target or watched tensor is a graph tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "./function.ts";
 * import { GradientTape } from "./tape.ts";
 * const w = tf.variable(tf.scalar(3));
 * const grad = tfFunction((x: tf.Tensor) => {
 *   const tape = new GradientTape();
 *   const y = tape.record(() => x.mul(w).square());
 *   return tape.gradient(y, w) as unknown as tf.Tensor; // 2·x²·w
 * });
 * grad(tf.scalar(2)).print(); // 24
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as v1 from "./v1/mod.ts";
import { hasSymbolic, inFunctionGraph } from "./v1/resource_variables.ts";
import { captureInTraces, constantSources } from "./v1/ops.ts";

/** A misuse of a tape in a traced function (same meaning as the eager tape's errors). */
export class SymbolicTapeError extends v1.GraphError {
  constructor(message: string) {
    super(message);
    this.name = "GradientTapeError";
  }
}

interface TapeLike {
  readonly persistent: boolean;
  readonly watchAccessedVariables: boolean;
}

type Source = tf.Tensor | v1.SymbolicTensor;

/** The symbolic half of one `GradientTape`. */
export class SymbolicTape {
  readonly #ranges: { graph: v1.Graph; start: number; end: number }[] = [];
  readonly #watched = new Set<Source>();
  #used = false;

  constructor(readonly tape: TapeLike) {}

  /** Runs `fn` (building graph ops), remembering which ops it added. */
  record<T>(fn: () => T): T {
    if (typeof fn !== "function") throw new SymbolicTapeError("record(fn): fn must be a function");
    if (this.#used) {
      throw new SymbolicTapeError(
        "record(): this non-persistent GradientTape has already computed its gradient",
      );
    }
    const graph = v1.getDefaultGraph();
    const start = graph.operations.length;
    const eng = tf.engine();
    eng.startScope(); // eager temporaries made while building are freed
    try {
      return fn();
    } finally {
      eng.endScope();
      this.#ranges.push({ graph, start, end: graph.operations.length });
    }
  }

  /** Watches graph tensors or variables (one, a list or a record). */
  watch(tensors: unknown): void {
    for (const [i, t] of flat(tensors).entries()) {
      if (!(t instanceof tf.Tensor) && !(t instanceof v1.SymbolicTensor)) {
        throw new SymbolicTapeError(`watch(): item ${i} is not a tensor`);
      }
      this.#watched.add(t);
      if (t instanceof tf.Tensor && !(t instanceof tf.Variable)) captureInTraces(t);
    }
  }

  #recorded(op: v1.Operation): boolean {
    return this.#ranges.some((r) =>
      r.graph === op.graph && r.graph.operations.indexOf(op, r.start) >= 0 &&
      r.graph.operations.indexOf(op, r.start) < r.end
    );
  }

  /** The graph tensors standing for `s` (a variable's reads on the tape, or `s` itself). */
  #stand(s: Source): v1.SymbolicTensor[] {
    if (s instanceof tf.Variable) {
      const auto = this.tape.watchAccessedVariables && s.trainable;
      if (!auto && !this.#watched.has(s)) return [];
      return this.#ranges.flatMap((r) =>
        r.graph.operations.slice(r.start, r.end).filter((op) =>
          op.type === "ReadVariableOp" && op.variable === s
        ).map((op) => op.output)
      );
    }
    if (s instanceof v1.SymbolicTensor) {
      return this.#watched.has(s) || this.#recorded(s.op) ? [s] : [];
    }
    // A watched eager tensor the function closes over (TF captures it): the constants made of it.
    if (!this.#watched.has(s)) return [];
    return [...new Set(this.#ranges.map((r) => r.graph))].flatMap((g) =>
      g.operations.filter((op) => op.type === "Const" && constantSources.get(op) === s.id)
        .map((op) => op.output)
    );
  }

  /** Symbolic gradients of `target` with respect to `sources`, in their structure. */
  gradient(
    target: unknown,
    sources: unknown,
    options: { unconnectedGradients?: "none" | "zero"; outputGradients?: unknown } = {},
  ): unknown {
    if (this.#used) {
      throw new SymbolicTapeError(
        "gradient() can only be called once on a non-persistent GradientTape; create it with " +
          "new GradientTape({ persistent: true }) to take several gradients",
      );
    }
    if (!this.tape.persistent) this.#used = true;
    const targets = (Array.isArray(target) ? target : [target]).map((t, i) => {
      if (t instanceof v1.SymbolicTensor) return t;
      if (t instanceof tf.Tensor) return null; // a constant of the trace: no gradient
      throw new SymbolicTapeError(`gradient(target, ...): target ${i} is not a tensor`);
    });
    const ys = targets.filter((t): t is v1.SymbolicTensor => t !== null);
    const list = flat(sources);
    const stands = list.map((s, i) => {
      if (!(s instanceof tf.Tensor) && !(s instanceof v1.SymbolicTensor)) {
        throw new SymbolicTapeError(`gradient(): source ${i} is not a tensor`);
      }
      return this.#stand(s);
    });
    const xs = stands.flat();
    let dy: v1.SymbolicTensor[] | undefined;
    if (options.outputGradients !== undefined) {
      dy = [v1.toSymbolic(options.outputGradients as v1.TensorLike)];
    }
    const dxs = ys.length > 0 && xs.length > 0 ? v1.gradients(ys, xs, dy) : [];
    let k = 0;
    const grads = list.map((s, i) => {
      const parts = stands[i].map(() => dxs[k++]).filter((d): d is v1.SymbolicTensor => !!d);
      if (parts.length > 0) return v1.addN(parts);
      if (options.unconnectedGradients !== "zero") return null;
      return s instanceof v1.SymbolicTensor
        ? v1.cast(v1.zerosLike(s), "float32")
        : v1.constant(tf.tidy(() => tf.zeros((s as tf.Tensor).shape)));
    });
    return rebuild(sources, grads);
  }
}

function flat(x: unknown): unknown[] {
  if (x instanceof tf.Tensor || x instanceof v1.SymbolicTensor) return [x];
  if (Array.isArray(x)) return [...x];
  if (x !== null && typeof x === "object") return Object.values(x);
  return [x];
}

function rebuild(sources: unknown, grads: unknown[]): unknown {
  if (sources instanceof tf.Tensor || sources instanceof v1.SymbolicTensor) return grads[0];
  if (Array.isArray(sources)) return grads;
  if (sources !== null && typeof sources === "object") {
    return Object.fromEntries(Object.keys(sources).map((k, i) => [k, grads[i]]));
  }
  return grads[0];
}

const tapes = new WeakMap<object, SymbolicTape>();

/**
 * The symbolic half of `tape` when it must take over: while a function is
 * being traced, or when one of `args` holds a graph tensor. Otherwise
 * undefined (the eager tape runs).
 */
export function symbolicTapeFor(tape: TapeLike, ...args: unknown[]): SymbolicTape | undefined {
  if (!inFunctionGraph() && !args.some((a) => hasSymbolic(a))) return undefined;
  let s = tapes.get(tape);
  if (!s) tapes.set(tape, s = new SymbolicTape(tape));
  return s;
}
