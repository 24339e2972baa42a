/**
 * `GradientTape`: TensorFlow 2's way of taking gradients, on TensorFlow.js.
 *
 * Operations run inside {@linkcode GradientTape.record} are recorded; afterwards
 * {@linkcode GradientTape.gradient} walks the recording backwards from a target
 * to the sources you ask for (a tensor, a list or a record, returned in the
 * same structure), exactly like `tf.GradientTape` in Python.
 *
 * @example Gradients of a loss with respect to two variables
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { GradientTape } from "./tape.ts";
 *
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const b = tf.variable(tf.scalar(0.5));
 * const tape = new GradientTape();
 * const loss = tape.record(() => w.square().sum().add(b.mul(3)));
 * const { w: dw, b: db } = tape.gradient(loss, { w, b });
 * dw!.print(); // [2, 4]
 * db!.print(); // 3
 * tape.dispose();
 * ```
 *
 * @example Second derivative with nested tapes: d²/dx² x³ = 6x
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { GradientTape } from "./tape.ts";
 *
 * const x = tf.scalar(2);
 * const outer = new GradientTape();
 * outer.watch(x);
 * const dydx = outer.record(() => {
 *   const inner = new GradientTape();
 *   inner.watch(x);
 *   const y = inner.record(() => x.pow(3));
 *   return inner.gradient(y, x)!; // 3x² = 12, itself recorded on `outer`
 * });
 * outer.gradient(dydx, x)!.print(); // 6x = 12
 * ```
 *
 * ## How it works
 *
 * TensorFlow.js's engine already records a tape while `tf.grad` runs: every
 * kernel executed while `engine.state.gradientDepth > 0` appends a node
 * (inputs, outputs, gradient function, the tensors saved for backprop) to
 * `engine.state.activeTape`. `record(fn)` drives that machinery directly: it
 * raises the gradient depth (the engine's `startTape`), runs `fn` once inside a
 * `tf.tidy` (so intermediates are freed; return what you need), lowers the depth
 * again and keeps the nodes appended meanwhile. The block is never re-run:
 * side effects happen once, as in TensorFlow.
 *
 * `gradient(target, sources)` then filters the kept nodes to those on a path
 * from a source to the target and runs their gradient functions in reverse
 * order (the same algorithm as tfjs's `backpropagateGradients`). Those
 * gradient functions are ordinary ops: when an outer tape is recording, they
 * are recorded on it too, which is what makes nested tapes give second
 * derivatives.
 *
 * Watching follows TensorFlow: trainable `tf.Variable`s used inside the block
 * are watched automatically (unless `watchAccessedVariables: false`), other
 * tensors only after `tape.watch(t)` — call it before using `t` in the block.
 * Operations that depend on nothing watched are dropped at the end of each
 * `record`, and their saved tensors freed.
 *
 * A source that is not watched, or that the target does not depend on, gets
 * `null` (TensorFlow's `None`); pass `{ unconnectedGradients: "zero" }` to get
 * zeros instead (TensorFlow's `UnconnectedGradients.ZERO`).
 *
 * Memory: the tensors a node saved for backprop are kept until the tape lets
 * go of them, which is after the first `gradient()` call for a non-persistent
 * tape and at `dispose()` for a persistent one (always call `dispose()` on a
 * persistent tape, or use `using tape = new GradientTape(...)`). When tapes are
 * nested, nodes shared with an enclosing tape live until both let go. A tape
 * used inside a function given to `tf.grad` (or `optimizer.minimize`) works,
 * but lives only as long as that call: tfjs frees its recording at the end.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { symbolicTapeFor } from "./_symbolic_tape.ts";

/** A misuse of a {@linkcode GradientTape}: reused, disposed, bad arguments. */
export class GradientTapeError extends Error {
  override name = "GradientTapeError";
}

/** Options of the {@linkcode GradientTape} constructor (as in `tf.GradientTape`). */
export interface GradientTapeOptions {
  /** Allow several `gradient()` calls; then call `dispose()` when done. Default false. */
  persistent?: boolean;
  /** Watch every trainable `tf.Variable` used inside `record`. Default true. */
  watchAccessedVariables?: boolean;
}

/** Sources of a gradient: one tensor, a list, or a record of named tensors. */
export type TensorStructure =
  | tf.Tensor
  | readonly tf.Tensor[]
  | { readonly [name: string]: tf.Tensor };

/** The gradients, in the structure of the sources: `G` for each source. */
export type GradientOf<S, G> = S extends tf.Tensor ? G
  : S extends readonly tf.Tensor[] ? G[]
  : { [K in keyof S]: G };

/** What an unconnected (or unwatched) source gets: `null` (default) or zeros. */
export type UnconnectedGradients = "none" | "zero";

/** Options of {@linkcode GradientTape.gradient}. */
export interface TapeGradientOptions<U extends UnconnectedGradients = "none"> {
  /** `"none"` (default) gives `null` for sources the target does not depend on; `"zero"` zeros. */
  unconnectedGradients?: U;
  /**
   * Initial gradient of the target (TF's `output_gradients`), same shape as the
   * target; default all ones (so a non-scalar target is differentiated as its sum).
   */
  outputGradients?: tf.Tensor;
}

// ---------------------------------------------------------------------------
// The engine internals this module drives (present at runtime, not all typed).

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number; nextTapeNodeId: number };
  startTape(): void;
  endTape(): void;
}

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** Recordings in progress, innermost last (any tape of this module). */
const openRecordings: { startNodeId: number }[] = [];
/** How many tapes hold each node. */
const nodeRefs = new WeakMap<TapeNode, number>();
/** Nodes recorded inside an enclosing `tf.grad`, which owns and frees them. */
const foreignNodes = new WeakSet<TapeNode>();

function claim(nodes: readonly TapeNode[]): void {
  for (const n of nodes) nodeRefs.set(n, (nodeRefs.get(n) ?? 0) + 1);
}

/**
 * Lets go of nodes; frees their saved tensors when no tape holds them, no
 * recording in progress will still claim them and no enclosing `tf.grad` owns them.
 */
function release(nodes: readonly TapeNode[]): void {
  for (const n of nodes) {
    const refs = (nodeRefs.get(n) ?? 0) - 1;
    if (refs > 0) {
      nodeRefs.set(n, refs);
      continue;
    }
    nodeRefs.delete(n);
    if (foreignNodes.has(n)) continue;
    if (openRecordings.some((r) => n.id >= r.startNodeId)) continue;
    for (const t of n.saved ?? []) t.dispose();
  }
}

function isTrainableVariable(t: tf.Tensor): t is tf.Variable {
  return t instanceof tf.Variable && (t as tf.Variable).trainable === true;
}

function flatten(sources: TensorStructure): { list: tf.Tensor[]; keys: string[] | null } {
  if (sources instanceof tf.Tensor) return { list: [sources], keys: null };
  if (Array.isArray(sources)) return { list: [...sources], keys: null };
  if (sources !== null && typeof sources === "object") {
    const keys = Object.keys(sources);
    const rec = sources as { readonly [name: string]: tf.Tensor };
    return { list: keys.map((k) => rec[k]), keys };
  }
  throw new GradientTapeError(
    `gradient(): sources must be a tensor, a list or a record of tensors, got ${typeof sources}`,
  );
}

/**
 * Records operations for automatic differentiation, like TensorFlow's
 * `tf.GradientTape`. See the module documentation for the details.
 */
export class GradientTape {
  /** Several `gradient()` calls allowed. */
  readonly persistent: boolean;
  /** Trainable variables used inside `record` are watched automatically. */
  readonly watchAccessedVariables: boolean;

  #nodes: TapeNode[] = [];
  /** Tensors watched explicitly or automatically. */
  #watched = new Set<number>();
  /** Tensors that depend on a watched tensor through the kept nodes (watched included). */
  #derived = new Set<number>();
  #watchedVariables = new Map<number, tf.Variable>();
  #recording = false;
  #used = false;
  #disposed = false;

  constructor(options: GradientTapeOptions = {}) {
    this.persistent = options.persistent ?? false;
    this.watchAccessedVariables = options.watchAccessedVariables ?? true;
  }

  /** Whether `record` is running its block right now. */
  get recording(): boolean {
    return this.#recording;
  }

  /** Number of operations kept on the tape (for inspection and tests). */
  get size(): number {
    return this.#nodes.length;
  }

  /**
   * The kernel names of the operations kept on the tape, in order (e.g.
   * `["Square", "Sum"]`), leaving out the engine's copies of the inputs it saves
   * for the backward pass.
   */
  operations(): string[] {
    const saved = new Set(this.#nodes.flatMap((n) => (n.saved ?? []).map((t) => t.id)));
    return this.#nodes
      .filter((n) => !(n.outputs.length === 1 && saved.has(n.outputs[0].id)))
      .map((n) => n.kernelName);
  }

  /**
   * Watches tensors (one, a list or a record) so that gradients with respect to
   * them can be taken. Call it before the tensors are used inside `record`.
   */
  watch(tensors: TensorStructure): void {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this, tensors);
    if (sym) return sym.watch(tensors);
    this.#checkUsable("watch");
    for (const [i, t] of flatten(tensors).list.entries()) {
      if (!(t instanceof tf.Tensor)) {
        throw new GradientTapeError(`watch(): item ${i} is not a tf.Tensor`);
      }
      this.#watched.add(t.id);
      this.#derived.add(t.id);
      if (t instanceof tf.Variable) this.#watchedVariables.set(t.id, t as tf.Variable);
    }
  }

  /** The variables this tape watches (explicitly, or because they were used), like TF's. */
  watchedVariables(): tf.Variable[] {
    return [...this.#watchedVariables.values()];
  }

  /**
   * Runs `fn` once with its operations recorded on this tape, inside a
   * `tf.tidy`: tensors created in `fn` are freed unless returned. Returns what
   * `fn` returns. May be called several times; the recordings add up.
   */
  record<T>(fn: () => T): T {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this);
    if (sym) return sym.record(fn);
    this.#checkUsable("record");
    if (typeof fn !== "function") {
      throw new GradientTapeError("record(fn): fn must be a function");
    }
    if (this.#recording) {
      throw new GradientTapeError("record(): this tape is already recording (no re-entry)");
    }
    if (fn.constructor?.name === "AsyncFunction") {
      throw new GradientTapeError(
        "record(fn): fn is async; the block must be synchronous (await outside it)",
      );
    }
    const eng = engine();
    // An enclosing tf.grad (not one of our tapes) owns the engine tape.
    const foreign = eng.state.gradientDepth > openRecordings.length;
    eng.startTape();
    const tape = eng.state.activeTape as TapeNode[];
    const startLen = tape.length;
    const open = { startNodeId: eng.state.nextTapeNodeId };
    openRecordings.push(open);
    this.#recording = true;
    let result: T;
    let failed = true;
    try {
      result = tf.tidy(fn as () => tf.TensorContainer) as T;
      failed = false;
    } finally {
      this.#recording = false;
      openRecordings.splice(openRecordings.lastIndexOf(open), 1);
      eng.endTape();
      const added = tape.slice(startLen);
      if (eng.state.gradientDepth === 0) eng.state.activeTape = null;
      if (foreign) { for (const n of added) foreignNodes.add(n); }
      const kept = failed ? [] : this.#keepWatched(added);
      claim(added);
      this.#nodes.push(...kept);
      const keptSet = new Set(kept);
      release(added.filter((n) => !keptSet.has(n)));
    }
    if (result! instanceof Promise) {
      throw new GradientTapeError(
        "record(fn): fn returned a Promise; the block must be synchronous (await outside it)",
      );
    }
    return result!;
  }

  /** Keeps the nodes that depend on something watched, extending the derived set. */
  #keepWatched(added: TapeNode[]): TapeNode[] {
    const kept: TapeNode[] = [];
    for (const node of added) {
      let depends = false;
      for (const input of Object.values(node.inputs)) {
        if (input == null) continue;
        if (this.watchAccessedVariables && isTrainableVariable(input)) {
          this.#watched.add(input.id);
          this.#derived.add(input.id);
          this.#watchedVariables.set(input.id, input);
        }
        if (this.#derived.has(input.id)) depends = true;
      }
      if (depends) {
        kept.push(node);
        for (const out of node.outputs) this.#derived.add(out.id);
      }
    }
    return kept;
  }

  /**
   * Gradients of `target` (a tensor, or a list whose gradients add up) with
   * respect to `sources`, in the structure of `sources`. A non-persistent tape
   * allows one call. Unwatched or unconnected sources get `null` (or zeros with
   * `{ unconnectedGradients: "zero" }`).
   */
  gradient<S extends TensorStructure, U extends UnconnectedGradients = "none">(
    target: tf.Tensor | readonly tf.Tensor[],
    sources: S,
    options: TapeGradientOptions<U> = {},
  ): GradientOf<S, U extends "zero" ? tf.Tensor : tf.Tensor | null> {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this, target);
    if (sym) return sym.gradient(target, sources, options) as never;
    this.#checkUsable("gradient");
    if (this.#recording) {
      throw new GradientTapeError(
        "gradient() was called inside this tape's own record() block; call it after the " +
          "block returns (or record the block on an outer tape for higher derivatives)",
      );
    }
    if (this.#used) {
      throw new GradientTapeError(
        "gradient() can only be called once on a non-persistent GradientTape; create it with " +
          "new GradientTape({ persistent: true }) to take several gradients",
      );
    }
    const targets = target instanceof tf.Tensor ? [target] : [...(target ?? [])];
    if (targets.length === 0 || !targets.every((t) => t instanceof tf.Tensor)) {
      throw new GradientTapeError("gradient(target, ...): target must be a tensor or a list");
    }
    const { list, keys } = flatten(sources);
    list.forEach((s, i) => {
      if (!(s instanceof tf.Tensor)) {
        throw new GradientTapeError(
          `gradient(): source ${keys ? `"${keys[i]}"` : i} is not a tf.Tensor`,
        );
      }
    });
    const dy = options.outputGradients;
    if (dy !== undefined) {
      if (targets.length !== 1 || !tf.util.arraysEqual(dy.shape, targets[0].shape)) {
        throw new GradientTapeError(
          `gradient(): outputGradients must have the target's shape [${targets[0].shape}], ` +
            `got [${dy.shape}] (one target only)`,
        );
      }
    }
    const zeros = options.unconnectedGradients === "zero";
    const grads = this.#backprop(targets, list, dy, zeros);
    if (!this.persistent) {
      this.#used = true;
      this.#releaseAll();
    }
    if (sources instanceof tf.Tensor) return grads[0] as never;
    if (keys === null) return grads as never;
    return Object.fromEntries(keys.map((k, i) => [k, grads[i]])) as never;
  }

  #backprop(
    targets: tf.Tensor[],
    sources: tf.Tensor[],
    dy: tf.Tensor | undefined,
    zeros: boolean,
  ): (tf.Tensor | null)[] {
    // Only watched tensors, and those computed from them on this tape, are sources.
    const live = sources.filter((s) => this.#derived.has(s.id));
    const nodes = filterNodes(this.#nodes, live, targets);
    return tf.tidy((): tf.TensorContainer => {
      const acc = new Map<number, tf.Tensor>();
      const add = (id: number, g: tf.Tensor) => {
        const cur = acc.get(id);
        acc.set(id, cur === undefined ? g : tf.add(cur, g));
      };
      for (const t of targets) {
        if (!this.#derived.has(t.id)) continue;
        add(t.id, dy ?? tf.ones(t.shape));
      }
      backpropagate(nodes, acc);
      return sources.map((s) => {
        let g = this.#derived.has(s.id) ? acc.get(s.id) : undefined;
        if (g === undefined) return zeros ? tf.zerosLike(s).toFloat() : null;
        // Never hand back the caller's own outputGradients tensor.
        if (g === dy) g = g.clone();
        return g;
      }) as tf.TensorContainer;
    }) as (tf.Tensor | null)[];
  }

  #releaseAll(): void {
    const nodes = this.#nodes;
    this.#nodes = [];
    release(nodes);
  }

  #checkUsable(what: string): void {
    if (this.#disposed) {
      throw new GradientTapeError(`${what}(): this GradientTape has been disposed`);
    }
    if (this.#used && what === "record") {
      throw new GradientTapeError(
        "record(): this non-persistent GradientTape has already computed its gradient; " +
          "create a new tape (or use { persistent: true })",
      );
    }
  }

  /** Frees what the tape holds. Safe to call more than once. */
  dispose(): void {
    if (this.#disposed) return;
    if (this.#recording) {
      throw new GradientTapeError("dispose(): the tape is recording; dispose it after record()");
    }
    this.#disposed = true;
    this.#releaseAll();
    this.#watched.clear();
    this.#derived.clear();
    this.#watchedVariables.clear();
  }

  /** `using tape = new GradientTape()` disposes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The nodes on a path from some source to some target, with inputs pruned to
 * those computed from a source (tfjs's `getFilteredNodesXToY`, several targets).
 */
function filterNodes(tape: TapeNode[], xs: tf.Tensor[], ys: tf.Tensor[]): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => t != null && fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set(ys.map((y) => y.id));
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodesToY.add(node.id);
      for (const t of Object.values(node.inputs)) if (t != null) toY.add(t.id);
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) {
      if (t != null && fromX.has(t.id)) inputs[name] = t;
    }
    filtered.push({ ...node, inputs });
  }
  return filtered;
}

/** Runs the nodes' gradient functions in reverse, accumulating into `acc` (by tensor id). */
function backpropagate(nodes: TapeNode[], acc: Map<number, tf.Tensor>): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
    if (dys.every((d) => d === null)) continue;
    if (node.gradient == null) {
      throw new GradientTapeError(
        `Cannot compute the gradient: op ${node.kernelName} has no registered gradient in ` +
          "TensorFlow.js; use other ops, or tf.customGrad to define one",
      );
    }
    const inputGrads = node.gradient(dys);
    for (const [name, x] of Object.entries(node.inputs)) {
      if (!(name in inputGrads)) {
        throw new GradientTapeError(
          `Cannot backprop through input "${name}" of op ${node.kernelName}; gradients exist ` +
            `for: ${Object.keys(inputGrads).join(", ")}`,
        );
      }
      const dx = tf.tidy(() => inputGrads[name]());
      if (dx.dtype !== "float32") {
        throw new GradientTapeError(
          `The gradient of input "${name}" of op ${node.kernelName} has dtype ${dx.dtype}, ` +
            "not float32",
        );
      }
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new GradientTapeError(
          `The gradient of input "${name}" of op ${node.kernelName} has shape [${dx.shape}], ` +
            `not the input's [${x.shape}]`,
        );
      }
      const cur = acc.get(x.id);
      if (cur === undefined) acc.set(x.id, dx);
      else {
        acc.set(x.id, tf.add(cur, dx));
        cur.dispose();
      }
    }
  }
}
