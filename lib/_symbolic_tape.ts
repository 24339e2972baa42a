/**
 * `GradientTape` inside a traced function: there the tape sees graph tensors,
 * not eager ones, so `record` remembers which ops of the function graph its
 * block added, and `gradient` builds the gradient as more ops of the graph
 * with `v1.gradients` (reverse mode on the graph, as TensorFlow does when a
 * tape runs inside `tf.function`).
 *
 * As with the eager tape, and as in TensorFlow, only the ops the tape
 * records carry gradients: an op is recorded when its block runs inside
 * `record` (not inside `stopRecording`) and one of its inputs is watched at
 * that point (trainable `tf.Variable`s read inside `record` are, unless
 * `watchAccessedVariables: false`; other tensors from their `watch` on) or is
 * the result of a recorded op. A `watch`ed eager tensor the function closes
 * over is watched too (TF captures it: the graph's constants made of it stand
 * for it). So a target computed outside `record`, or before its source was
 * watched, gets `null` for that source (or zeros with
 * `unconnectedGradients: "zero"`), as TensorFlow gives `None`; a non-persistent
 * tape allows one `gradient` call. The gradient with respect to a variable
 * sums the gradients of all its recorded reads. `gradient` inside the tape's
 * own `record` block works as TF's does: a non-persistent tape stops
 * recording there; a persistent one records the gradient ops too, so their
 * gradient (a higher derivative) can be taken on the same tape.
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
import { flattenNest } from "./_nest.ts";
import { oneHotSeed } from "./_seed.ts";

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
type Range = { graph: v1.Graph; start: number; end: number };

/** The symbolic half of one `GradientTape`. */
export class SymbolicTape {
  readonly #ranges: Range[] = [];
  /** Op ranges run inside `stopRecording`. */
  readonly #paused: Range[] = [];
  /** Watched sources, with the point of their graph they were watched at. */
  readonly #watched = new Map<Source, { graph: v1.Graph; at: number }>();
  /** Ids of watched eager tensors (their constants in the graph stand for them). */
  readonly #watchedEager = new Map<number, { graph: v1.Graph; at: number }>();
  #recording = false;
  /** Where the ops of the `record` block running now start (moved by `reset`). */
  #open: { start: number } | null = null;
  /** The graph of the running block. */
  #graph!: v1.Graph;
  /** Set by a `gradient()` inside the block of a non-persistent tape: it records no more. */
  #stopped = false;
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
    const open = { start: graph.operations.length };
    const eng = tf.engine();
    eng.startScope(); // eager temporaries made while building are freed
    this.#recording = true;
    this.#open = open;
    this.#graph = graph;
    try {
      return fn();
    } finally {
      this.#flush();
      this.#recording = false;
      this.#open = null;
      this.#stopped = false;
      eng.endScope();
    }
  }

  /** The ops the running block has added since the last flush become recorded (unless stopped). */
  #flush(): void {
    const open = this.#open;
    if (open === null) return;
    const end = this.#graph.operations.length;
    if (!this.#stopped) this.#ranges.push({ graph: this.#graph, start: open.start, end });
    open.start = end;
  }

  /**
   * `gradient()`/`jacobian()` inside the running block (TF's `GradientTape.gradient`):
   * what it recorded so far counts; a non-persistent tape stops recording, a persistent
   * one records on (the gradient ops included, for higher derivatives).
   */
  #insideBlock(): void {
    if (!this.#recording) return;
    this.#flush();
    if (!this.tape.persistent) this.#stopped = true;
  }

  /** Forgets everything recorded and watched so far; the block records afresh (TF's `reset`). */
  reset(): void {
    if (!this.#recording || this.#open === null) {
      throw new SymbolicTapeError(
        "reset(): this tape is not recording; call it inside tape.record(() => ...), or " +
          "create a new GradientTape",
      );
    }
    this.#ranges.length = 0;
    this.#paused.length = 0;
    this.#watched.clear();
    this.#watchedEager.clear();
    this.#stopped = false;
    this.#used = false;
    this.#open.start = v1.getDefaultGraph().operations.length;
  }

  /** Runs `fn` inside `record` with its ops left off this tape (TF's `stop_recording`). */
  stopRecording<T>(fn: () => T): T {
    if (typeof fn !== "function") {
      throw new SymbolicTapeError("stopRecording(fn): fn must be a function");
    }
    if (!this.#recording) {
      throw new SymbolicTapeError(
        "stopRecording(): this tape is not recording; call it inside tape.record(() => ...)",
      );
    }
    const graph = v1.getDefaultGraph();
    const start = graph.operations.length;
    try {
      return fn();
    } finally {
      this.#paused.push({ graph, start, end: graph.operations.length });
    }
  }

  /** Watches graph tensors or variables (one, a list or a record). */
  watch(tensors: unknown): void {
    for (const [i, t] of flat(tensors).entries()) {
      if (!(t instanceof tf.Tensor) && !(t instanceof v1.SymbolicTensor)) {
        throw new SymbolicTapeError(`watch(): item ${i} is not a tensor`);
      }
      const graph = v1.getDefaultGraph();
      const point = { graph, at: graph.operations.length };
      if (!this.#watched.has(t)) this.#watched.set(t, point);
      if (t instanceof tf.Tensor && !(t instanceof tf.Variable)) {
        if (!this.#watchedEager.has(t.id)) this.#watchedEager.set(t.id, point);
        captureInTraces(t);
      }
    }
  }

  /**
   * The ops this tape recorded, in order: those run inside `record` (outside
   * `stopRecording`) with an input watched by then or made by a recorded op
   * (TF's tape records an op only when one of its inputs is being watched).
   */
  #recordedOps(): Set<v1.Operation> {
    const ops = new Set<v1.Operation>();
    const tracked = new Set<v1.SymbolicTensor>();
    const by = (w: { graph: v1.Graph; at: number } | undefined, g: v1.Graph, i: number) =>
      w !== undefined && (w.graph !== g || w.at <= i);
    const live = (t: v1.SymbolicTensor, g: v1.Graph, i: number): boolean => {
      if (tracked.has(t) || by(this.#watched.get(t), g, i)) return true;
      const id = t.op.type === "Const" ? constantSources.get(t.op) : undefined;
      return id !== undefined && by(this.#watchedEager.get(id), g, i);
    };
    for (const r of this.#ranges) {
      for (let i = r.start; i < r.end; i++) {
        if (this.#paused.some((p) => p.graph === r.graph && p.start <= i && i < p.end)) continue;
        const op = r.graph.operations[i];
        const v = op.type === "ReadVariableOp" ? op.variable : undefined;
        const record = v !== undefined
          ? (this.tape.watchAccessedVariables && v.trainable) ||
            by(this.#watched.get(v), r.graph, i)
          : op.inputs.some((t) => live(t, r.graph, i));
        if (!record) continue;
        ops.add(op);
        for (const out of op.outputs) tracked.add(out);
      }
    }
    return ops;
  }

  /** The variables this tape watches: watched explicitly, or read by a recorded op (TF's `watched_variables`). */
  watchedVariables(): tf.Variable[] {
    const explicit = [...this.#watched.keys()].filter((s): s is tf.Variable =>
      s instanceof tf.Variable
    );
    const read = [...this.#recordedOps()].flatMap((op) =>
      op.type === "ReadVariableOp" && op.variable !== undefined &&
        op.variable.dtype === "float32"
        ? [op.variable]
        : []
    );
    // "in order of construction", as TF's watched_variables()
    return [...new Set([...explicit, ...read])].sort((a, b) => a.id - b.id);
  }

  /** The graph tensors standing for `s` (a variable's recorded reads, or `s` itself). */
  #stand(s: Source, recorded: Set<v1.Operation>): v1.SymbolicTensor[] {
    if (s instanceof tf.Variable) {
      return [...recorded].filter((op) => op.type === "ReadVariableOp" && op.variable === s)
        .map((op) => op.output);
    }
    if (s instanceof v1.SymbolicTensor) {
      return this.#watched.has(s) || recorded.has(s.op) ? [s] : [];
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
    const all = flat(target).map((t, i) => {
      if (t instanceof v1.SymbolicTensor || t instanceof tf.Tensor) return t;
      throw new SymbolicTapeError(`gradient(target, ...): target ${i} is not a tensor`);
    });
    if (all.length === 0) {
      throw new SymbolicTapeError("gradient(target, ...): target is an empty list or record");
    }
    const given = outputGradients(all, options.outputGradients);
    this.#insideBlock();
    if (!this.tape.persistent) this.#used = true;
    return rebuild(sources, this.#grads(all, given, flat(sources), options.unconnectedGradients));
  }

  /**
   * The Jacobian of `target` with respect to each source (TF's `tape.jacobian` inside a
   * `tf.function`), or with `batch` the per-example Jacobian (`tape.batchJacobian`): one
   * backward pass per element of the target (per element of one example), each seeded with
   * a one-hot output gradient, stacked into `[...target.shape, ...source.shape]` (with
   * `batch`, `[b, ...target.shape[1:], ...source.shape[1:]]`). The target's shape must be
   * known when tracing; `null` for an unconnected source (zeros with `"zero"`).
   */
  jacobian(
    target: unknown,
    sources: unknown,
    options: { unconnectedGradients?: "none" | "zero" } = {},
    batch = false,
  ): unknown {
    const what = batch ? "batchJacobian(target, source)" : "jacobian(target, sources)";
    if (this.#used) {
      throw new SymbolicTapeError(
        `${what} can only be called once on a non-persistent GradientTape; create it with ` +
          "new GradientTape({ persistent: true })",
      );
    }
    if (!(target instanceof v1.SymbolicTensor) && !(target instanceof tf.Tensor)) {
      throw new SymbolicTapeError(`${what}: target must be one tensor`);
    }
    const shape = target instanceof v1.SymbolicTensor && target.unknownRank
      ? undefined
      : target.shape as (number | null)[];
    if (!shape || shape.some((d) => d === null)) {
      throw new SymbolicTapeError(
        `${what}: in a traced function the target's shape must be known when tracing (got ` +
          `${shape ? `[${shape.map((d) => d ?? "?")}]` : "an unknown rank"}); give the function ` +
          "an inputSignature with fixed dimensions, or take the Jacobian eagerly",
      );
    }
    const dims = shape as number[];
    const list = flat(sources);
    if (batch && (list.length !== 1 || dims.length < 2)) {
      throw new SymbolicTapeError(
        `${what}: give one source, and a target of rank >= 2 (batch first); got ` +
          `${list.length} source(s) and a target of shape [${dims}]`,
      );
    }
    this.#insideBlock();
    if (!this.tape.persistent) this.#used = true;
    const b = batch ? dims[0] : 1;
    const n = dims.reduce((a, d) => a * d, 1) / b;
    const rows: (v1.SymbolicTensor | null)[][] = list.map(() => []);
    for (let i = 0; i < n; i++) {
      // Output gradient: 1 at element i (at element i of every example with `batch`).
      const seed = oneHotSeed(dims, b, n, i);
      try {
        const grads = this.#grads([target as Source], [seed], list, "none");
        grads.forEach((g, k) => rows[k].push(g as v1.SymbolicTensor | null));
      } finally {
        seed.dispose();
      }
    }
    const out = list.map((s, k) => {
      const sShape = (s as Source).shape as (number | null)[];
      const full = batch ? [b, ...dims.slice(1), ...sShape.slice(1)] : [...dims, ...sShape];
      if (rows[k].some((r) => r === null) || full.some((d) => d === null)) {
        // TF's batch_jacobian gives zeros for an unconnected source, whatever the option.
        if (options.unconnectedGradients !== "zero" && !batch) return null;
        return v1.constant(tf.tidy(() => tf.zeros(full as number[])));
      }
      return v1.reshape(v1.stack(rows[k] as v1.SymbolicTensor[], batch ? 1 : 0), full as number[]);
    });
    return rebuild(sources, out);
  }

  /** Gradients of `all` (seeded by `given`, if any) for each of `list`: no use of the tape. */
  #grads(
    all: Source[],
    given: Source[] | undefined,
    list: unknown[],
    unconnected: "none" | "zero" | undefined,
  ): (v1.SymbolicTensor | null)[] {
    // An eager target is a constant of the trace: no gradient flows from it.
    const ys = all.filter((t): t is v1.SymbolicTensor => t instanceof v1.SymbolicTensor);
    const dy = given &&
      all.flatMap((t, i) =>
        t instanceof v1.SymbolicTensor ? [v1.toSymbolic(given[i] as v1.TensorLike)] : []
      );
    const recorded = this.#recordedOps();
    const stands = list.map((s, i) => {
      if (!(s instanceof tf.Tensor) && !(s instanceof v1.SymbolicTensor)) {
        throw new SymbolicTapeError(`gradient(): source ${i} is not a tensor`);
      }
      return this.#stand(s, recorded);
    });
    const xs = stands.flat();
    const dxs = ys.length > 0 && xs.length > 0
      ? v1.gradients(ys, xs, dy, { through: recorded })
      : [];
    // A Variable target is read with the tape active in TF, so a variable the tape watches
    // is connected to itself: its own gradient is the target's output gradient (or ones).
    const watches = (t: Source): t is tf.Variable =>
      t instanceof tf.Variable && t.dtype === "float32" &&
      ((this.tape.watchAccessedVariables && t.trainable) || this.#watched.has(t));
    const itself = (s: unknown): v1.SymbolicTensor[] =>
      all.flatMap((t, j) => {
        if (t !== s || !watches(t)) return [];
        if (given) return [v1.toSymbolic(given[j] as v1.TensorLike)];
        return [v1.constant(tf.tidy(() => tf.ones(t.shape)))];
      });
    let k = 0;
    const grads = list.map((s, i) => {
      const parts = stands[i].map(() => dxs[k++]).filter((d): d is v1.SymbolicTensor => !!d);
      parts.push(...itself(s));
      if (parts.length > 0) return v1.addN(parts);
      if (unconnected !== "zero") return null;
      return s instanceof v1.SymbolicTensor
        ? v1.cast(v1.zerosLike(s), "float32")
        : v1.constant(tf.tidy(() => tf.zeros((s as tf.Tensor).shape)));
    });
    return grads;
  }
}

/**
 * `outputGradients` checked as the eager tape checks them: one float32 tensor
 * per target (a list when the target is a list) with the target's shape.
 */
function outputGradients(targets: Source[], given: unknown): Source[] | undefined {
  if (given === undefined) return undefined;
  const list = flat(given);
  const fits = (d: unknown, t: Source): boolean => {
    if (!(d instanceof tf.Tensor) && !(d instanceof v1.SymbolicTensor)) return false;
    if (d.dtype !== "float32") return false;
    const known = (x: Source) => !(x instanceof v1.SymbolicTensor && x.unknownRank);
    if (!known(d) || !known(t)) return true;
    const [ds, ts]: (number | null)[][] = [d.shape, t.shape];
    return ds.length === ts.length &&
      ds.every((n, i) => n === null || ts[i] === null || n === ts[i]);
  };
  if (list.length !== targets.length || list.some((d, i) => !fits(d, targets[i]))) {
    const shape = (t: Source) => `[${t.shape.map((n) => n ?? "?")}]`;
    throw new SymbolicTapeError(
      `gradient(): outputGradients must give one float32 tensor per target with the target's ` +
        `shape (${targets.map(shape).join(", ")})`,
    );
  }
  return list as Source[];
}

const isLeaf = (v: unknown): boolean => v instanceof tf.Tensor || v instanceof v1.SymbolicTensor;

/**
 * The leaves of a nested structure of tensors (lists and records, any depth);
 * a Keras `LayerVariable` stands for its variable.
 */
function flat(x: unknown): unknown[] {
  return flattenNest(x, isLeaf).leaves.map((v) => v instanceof tf.LayerVariable ? v.read() : v);
}

/** `grads` (one per leaf of `sources`) in the structure of `sources`. */
function rebuild(sources: unknown, grads: unknown[]): unknown {
  return flattenNest(sources, isLeaf).pack(grads);
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
