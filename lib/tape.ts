/**
 * `GradientTape`: TensorFlow 2's way of taking gradients, on TensorFlow.js.
 *
 * Operations run inside {@linkcode GradientTape.record} are recorded; afterwards
 * {@linkcode GradientTape.gradient} walks the recording backwards from a target
 * to the sources you ask for (a tensor, or any nesting of lists and records,
 * returned in the same structure; a Keras `LayerVariable` such as
 * `layer.trainableWeights[0]` stands for its variable), exactly like
 * `tf.GradientTape` in Python.
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
 * @example A Jacobian and a per-example (batch) Jacobian
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { GradientTape } from "./tape.ts";
 *
 * const x = tf.tensor2d([[4, 2], [1, 3]]);
 * const tape = new GradientTape({ persistent: true });
 * tape.watch(x);
 * const y = tape.record(() => x.mul(x).mul(x));
 * console.log(tape.jacobian(y, x)!.shape); // [2, 2, 2, 2]
 * tape.batchJacobian(y, x)!.print(); // [[[48, 0], [0, 12]], [[3, 0], [0, 27]]]
 * tape.dispose();
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
 * Higher derivatives: a gradient that reads the op's own output (exp's is
 * `dy·y`, tanh's `dy·(1−y²)`) reads a copy the engine saved, and the engine
 * records that copy *before* the op that produces `y`. `record` puts the nodes
 * back in data order, so the copy is connected to the inputs and the
 * recorded backward pass can be differentiated again (tfjs's own
 * `tf.grad(tf.grad(f))` lacks this and gives null or wrong second
 * derivatives). The few tfjs ops whose custom gradient saves hidden
 * intermediates (softmax cross-entropy, `logSoftmax`, `logSigmoid`) are
 * recorded op by op while tapes are nested. `_tf_gradients.ts` adds the
 * gradients of the backward kernels of pooling and convolution that tfjs
 * lacks.
 *
 * Watching follows TensorFlow: trainable `tf.Variable`s used inside the block
 * are watched automatically (unless `watchAccessedVariables: false`), other
 * tensors only after `tape.watch(t)` — call it before using `t` in the block:
 * as in TensorFlow, ops that used `t` before its `watch`, ops run outside
 * `record` (before it, after it, or between two `record` blocks) and ops
 * inside `stopRecording` are not on the tape, so a target computed only
 * through them gets `null`. `tape.reset()` inside the block throws away
 * everything recorded and watched so far (TF's `reset`). A `tf.Variable` given
 * as the target is read "with the tape active", as TF does: a variable the
 * tape watches gets gradient 1 with respect to itself (the guide's
 * `result = v0`). `gradient()` (or `jacobian()`) inside the tape's own
 * `record` block works as TF2's `GradientTape.gradient` code does (backprop.py;
 * its docstring still lists "RuntimeError: If called inside the context of
 * the tape", which the code no longer raises): a non-persistent tape stops recording there (what the rest
 * of the block does is not on it); a persistent tape records on, the gradient
 * computation included, so that a later `gradient()` of that gradient is a
 * higher derivative, and warns once that this costs memory.
 * Operations that depend on nothing watched are dropped at the end of each
 * `record`, and their saved tensors freed; so are operations inside
 * `tape.stopRecording(fn)` and those whose results are all integer or bool.
 *
 * `null` (TensorFlow's `None`) where TensorFlow gives None: a source that is
 * not watched, that the target does not depend on, or that is not floating
 * point (int32, bool), and any path through an integer or bool result (a cast
 * to int32, `argMax`, `argMin`, comparisons such as `tf.greater`) or through
 * {@linkcode stopGradient}. Pass `{ unconnectedGradients: "zero" }` to get
 * zeros instead (TensorFlow's `UnconnectedGradients.ZERO`;
 * {@linkcode UnconnectedGradients} names both values, anything else is an
 * error). `batchJacobian` gives zeros for an unconnected source whatever the
 * option says, as TensorFlow does. Where tfjs's
 * gradients differ from TensorFlow's, TensorFlow's are registered: d|x|/dx = 0
 * at 0, and `max`/`min` reductions share the gradient equally between ties.
 *
 * Memory — the rule: a tape holds the tensors its kept operations saved for
 * backprop (only operations that depend on something watched are kept), and
 * lets go of them after the first `gradient()` (or `jacobian()`,
 * `batchJacobian()`) on a non-persistent tape, at `dispose()`, or, for a tape
 * never disposed nor asked for a gradient, when JavaScript garbage-collects it
 * (as TensorFlow frees a tape's resources when it is garbage-collected).
 * Garbage collection runs when the engine decides, so dispose tapes you are
 * done with (`using tape = new GradientTape(...)` does it at the end of the
 * scope). When tapes are nested, nodes shared with an enclosing tape live
 * until both let go. A tape used inside a function given to `tf.grad` (or
 * `optimizer.minimize`) works, but lives only as long as that call: tfjs
 * frees its recording at the end.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "./_tf_gradients.ts";
import { symbolicTapeFor } from "./_symbolic_tape.ts";
import { flattenNest } from "./_nest.ts";
import { oneHotSeed } from "./_seed.ts";
import { hasSymbolic, inFunctionGraph } from "./v1/resource_variables.ts";
import { stopGradient as graphStopGradient } from "./v1/ops.ts";

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

/**
 * Sources (or targets) of a gradient: one tensor, or any nesting of lists and
 * records of tensors (TF: "any nested combination of lists or dictionaries").
 */
export type TensorStructure =
  | tf.Tensor
  | tf.LayerVariable
  | readonly TensorStructure[]
  | { readonly [name: string]: TensorStructure };

/**
 * The gradients, in the structure of the sources: `G` for each source (a
 * Keras `LayerVariable`, as in `layer.trainableWeights`, stands for its `tf.Variable`).
 */
export type GradientOf<S, G> = S extends tf.Tensor | tf.LayerVariable ? G
  : S extends readonly (tf.Tensor | tf.LayerVariable)[] ? G[]
  : S extends readonly (infer E)[] ? GradientOf<E, G>[]
  : { [K in keyof S]: GradientOf<S[K], G> };

/** What an unconnected (or unwatched) source gets: `null` (default) or zeros. */
export type UnconnectedGradients = "none" | "zero";

/** TF's `tf.UnconnectedGradients` enum: `UnconnectedGradients.ZERO` is `"zero"`. */
export const UnconnectedGradients = { NONE: "none", ZERO: "zero" } as const;

/** Options of {@linkcode GradientTape.gradient}. */
export interface TapeGradientOptions<U extends UnconnectedGradients = "none"> {
  /** `"none"` (default) gives `null` for sources the target does not depend on; `"zero"` zeros. */
  unconnectedGradients?: U;
  /**
   * Initial gradient of the target (TF's `output_gradients`), same shape as the
   * target (one per target, in the target's structure or as a flat list, when
   * the target is a structure); default all ones (so a non-scalar target is
   * differentiated as its sum).
   */
  outputGradients?: TensorStructure;
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
  state: {
    activeTape: TapeNode[] | null;
    gradientDepth: number;
    nextTapeNodeId: number;
    activeScope: { name: string } | null;
  };
  startTape(): void;
  endTape(): void;
  customGrad: CustomGradFn;
}

type CustomGradFn = (
  f: (...args: unknown[]) => { value: tf.Tensor; gradFunc: unknown },
) => (...inputs: tf.Tensor[]) => tf.Tensor;

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** A running `record` block: the engine tape, where the block starts and how far it is kept. */
interface Block {
  tape: TapeNode[];
  done: number;
  foreign: boolean;
  /** Nodes let go of while the block runs, to free when it ends if no tape holds them. */
  dropped: TapeNode[];
}

/** TF logs its warning about `gradient()` inside a persistent tape's block once (`log_first_n`). */
let warnedInside = false;

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

/** Frees what a tape that was never disposed holds, once it is garbage-collected (as TF does). */
const finalizer = new FinalizationRegistry<{ nodes: TapeNode[] }>((held) => {
  const nodes = held.nodes;
  held.nodes = [];
  release(nodes);
});

/**
 * Puts the nodes in data order: each after the nodes producing its inputs.
 *
 * This is the root cause of wrong higher derivatives in tfjs: when a kernel's
 * gradient needs the kernel's own output (exp's gradient is `dy·y`), the
 * engine saves a copy of the output through an `Identity` node it appends to
 * the tape *before* the kernel's own node. Walked in tape order, that copy
 * looks unconnected to the inputs, so a recorded backward pass that reads it
 * is a dead end for the next derivative (d²/dx² eˣ came back null).
 */
function inDataOrder(nodes: TapeNode[]): TapeNode[] {
  const producer = new Map<number, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o.id, i)));
  const emitted = new Uint8Array(nodes.length);
  const waiting = new Map<number, number[]>();
  const out: TapeNode[] = [];
  const blocker = (i: number): number => {
    for (const t of Object.values(nodes[i].inputs)) {
      const p = t == null ? undefined : producer.get(t.id);
      if (p !== undefined && p !== i && !emitted[p]) return p;
    }
    return -1;
  };
  const stack: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    stack.push(i);
    while (stack.length > 0) {
      const j = stack.pop()!;
      const b = blocker(j);
      if (b >= 0) {
        waiting.set(b, [...(waiting.get(b) ?? []), j]);
        continue;
      }
      emitted[j] = 1;
      out.push(nodes[j]);
      const next = waiting.get(j);
      if (next) {
        waiting.delete(j);
        stack.push(...next.reverse());
      }
    }
  }
  // Anything still waiting (a cycle cannot happen; be safe) keeps its place at the end.
  for (const list of waiting.values()) for (const j of list) out.push(nodes[j]);
  return out;
}

/**
 * tfjs ops whose gradient is a `customGrad` that saves intermediates computed
 * out of sight of the tape (`tf.losses.softmaxCrossEntropy` saves its
 * log-softmax), by the op scope they run in. Their gradients are exact, so
 * recording their forward ops instead gives the same values.
 */
const exactCustomGradOps = new Set(["softmaxCrossEntropy__op", "logSoftmax__op", "logSigmoid__op"]);

/**
 * A backward pass through those ops cannot be differentiated again. When
 * tapes are nested (gradient depth ≥ 2, a higher derivative may be taken),
 * run such an op's forward computation with every op recorded instead: the
 * same values, with gradients that can be differentiated again. Custom
 * gradients of users (`tf.customGrad`) are always kept.
 */
function installCustomGradForNestedTapes(): void {
  const eng = engine();
  const original = eng.customGrad.bind(eng);
  if ((original as { nestedAware?: boolean }).nestedAware) return;
  const patched: CustomGradFn = (f) => {
    const op = original(f);
    return (...inputs: tf.Tensor[]) => {
      const state = engine().state;
      const scope = state.activeScope?.name ?? "";
      if (state.gradientDepth < 2 || !exactCustomGradOps.has(scope)) return op(...inputs);
      return tf.tidy(() => f(...inputs, () => {}).value);
    };
  };
  (patched as { nestedAware?: boolean }).nestedAware = true;
  eng.customGrad = patched;
}
installCustomGradForNestedTapes();

function isTrainableVariable(t: tf.Tensor): t is tf.Variable {
  return t instanceof tf.Variable && (t as tf.Variable).trainable === true;
}

/** Gradients flow only through floating-point tensors (TF: integer and bool tensors give None). */
function isFloat(t: tf.Tensor): boolean {
  return t.dtype === "float32" || t.dtype === "complex64";
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? (x.constructor?.name ?? "an object") : `${typeof x} ${String(x)}`;
}

/** A nested structure of tensors taken apart; each leaf checked to be a tensor. */
function flattenTensors(
  x: unknown,
  what: string,
  item: string,
): { list: tf.Tensor[]; pack: (values: readonly unknown[]) => unknown } {
  if (x === null || typeof x !== "object") {
    throw new GradientTapeError(
      `${what}: expected a tf.Tensor, a list or a record of tensors, got ${describe(x)}`,
    );
  }
  const { leaves, paths, pack } = flattenNest(x, (v) => v instanceof tf.Tensor);
  const list = leaves.map((t, i) => {
    // A Keras weight (`layer.trainableWeights`) stands for its variable, as TF's layer variables are tf.Variables.
    if (t instanceof tf.LayerVariable) return t.read();
    if (!(t instanceof tf.Tensor)) {
      throw new GradientTapeError(
        `${what}: ${paths[i] === "" ? "" : `${item} ${paths[i]} `}is not a tf.Tensor (got ` +
          `${describe(t)})`,
      );
    }
    return t;
  });
  return { list, pack };
}

/** Checks the `unconnectedGradients` option (TF raises ValueError for an unknown value); true for "zero". */
function zerosForUnconnected(value: unknown, what: string): boolean {
  if (value === undefined || value === "none") return false;
  if (value === "zero") return true;
  throw new GradientTapeError(
    `${what}: unconnectedGradients must be "none" or "zero" (UnconnectedGradients.NONE or ` +
      `.ZERO), got ${describe(value)}`,
  );
}

/** Options of {@linkcode GradientTape.jacobian} and {@linkcode GradientTape.batchJacobian}. */
export interface JacobianOptions<U extends UnconnectedGradients = "none"> {
  /** `"none"` (default) gives `null` for sources the target does not depend on; `"zero"` zeros. */
  unconnectedGradients?: U;
  /**
   * TF's `experimental_use_pfor`. The rows are always computed one backward
   * pass each; `false` only adds TF's check that the tape is persistent.
   */
  experimentalUsePfor?: boolean;
  /** TF's `parallel_iterations`: accepted and ignored (the rows run one after another). */
  parallelIterations?: number;
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

  /** The kept nodes, in a holder the finalizer can free without holding the tape. */
  #held: { nodes: TapeNode[] } = { nodes: [] };
  /** Tensors watched explicitly or automatically. */
  #watched = new Set<number>();
  /** Tensors that depend on a watched tensor through the kept nodes (watched included). */
  #derived = new Set<number>();
  #watchedVariables = new Map<number, tf.Variable>();
  /** For tensors watched inside `record`: the first node id that may use them (TF records later ops only). */
  #watchedFrom = new Map<number, number>();
  /** Node id ranges recorded inside `stopRecording` during the current `record`. */
  #paused: [number, number][] = [];
  #recording = false;
  /** The `record` block running now: its engine tape and how far it was kept. */
  #block?: Block;
  /** Set by a `gradient()` inside the block of a non-persistent tape: it records no more. */
  #stopped = false;
  #used = false;
  #disposed = false;

  constructor(options: GradientTapeOptions = {}) {
    this.persistent = options.persistent ?? false;
    this.watchAccessedVariables = options.watchAccessedVariables ?? true;
    finalizer.register(this, this.#held, this);
  }

  /** Whether `record` is running its block right now. */
  get recording(): boolean {
    return this.#recording;
  }

  /** Number of operations kept on the tape (for inspection and tests). */
  get size(): number {
    return this.#held.nodes.length;
  }

  /**
   * The kernel names of the operations kept on the tape, in order (e.g.
   * `["Square", "Sum"]`), leaving out the engine's copies of the inputs it saves
   * for the backward pass.
   */
  operations(): string[] {
    const nodes = this.#held.nodes;
    const saved = new Set(nodes.flatMap((n) => (n.saved ?? []).map((t) => t.id)));
    return nodes
      .filter((n) => !(n.outputs.length === 1 && saved.has(n.outputs[0].id)))
      .map((n) => n.kernelName);
  }

  /**
   * Watches tensors (one, a list or a record) so that gradients with respect to
   * them can be taken. Call it before the tensors are used inside `record`.
   * As in TensorFlow, only floating-point tensors can be watched: an int32 or
   * bool tensor is accepted but its gradient is `null`.
   */
  watch(tensors: TensorStructure): void {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this, tensors);
    if (sym) return sym.watch(tensors);
    this.#checkUsable("watch");
    const { list } = flattenTensors(tensors, "watch(tensors)", "item");
    for (const t of list) {
      this.#watched.add(t.id);
      if (this.#recording && !this.#derived.has(t.id)) {
        this.#watchedFrom.set(t.id, engine().state.nextTapeNodeId);
      }
      if (isFloat(t)) this.#derived.add(t.id);
      if (t instanceof tf.Variable) this.#watchedVariables.set(t.id, t as tf.Variable);
    }
  }

  /**
   * The variables this tape watches (explicitly, or because they were used),
   * "in order of construction" as TF's `watched_variables()`.
   */
  watchedVariables(): tf.Variable[] {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this);
    if (sym) return sym.watchedVariables();
    return [...this.#watchedVariables.values()].sort((a, b) => a.id - b.id);
  }

  /**
   * Throws away everything recorded so far, as if the `record` block had been
   * left and a new tape entered (TF's `tape.reset()`): earlier operations, and
   * what was watched, no longer count; the rest of the block records afresh.
   * Only inside this tape's `record` (TF raises "Tape is not recording" outside).
   */
  reset(): void {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this);
    if (sym) return sym.reset();
    this.#checkUsable("reset");
    if (!this.#recording) {
      throw new GradientTapeError(
        "reset(): this tape is not recording; call it inside tape.record(() => ...), or " +
          "create a new GradientTape",
      );
    }
    this.#flush(); // what the block recorded so far is dropped below
    this.#releaseAll();
    this.#stopped = false; // TF: a fresh tape, recording (also after a gradient() in the block)
    this.#used = false;
    this.#watched.clear();
    this.#derived.clear();
    this.#watchedVariables.clear();
    this.#watchedFrom.clear();
    // Nothing of the current block so far is this tape's any more.
    this.#paused = [[0, engine().state.nextTapeNodeId]];
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
      throw new GradientTapeError(`record(fn): fn must be a function, got ${describe(fn)}`);
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
    const open = { startNodeId: eng.state.nextTapeNodeId };
    const block: Block = { tape, done: tape.length, foreign, dropped: [] };
    openRecordings.push(open);
    this.#recording = true;
    this.#block = block;
    let result: T;
    let failed = true;
    try {
      result = tf.tidy(fn as () => tf.TensorContainer) as T;
      failed = false;
    } finally {
      this.#recording = false;
      openRecordings.splice(openRecordings.lastIndexOf(open), 1);
      eng.endTape();
      if (failed) this.#stopped = true; // a failed block keeps nothing more
      this.#flush();
      this.#block = undefined;
      this.#stopped = false;
      this.#paused = [];
      if (eng.state.gradientDepth === 0) eng.state.activeTape = null;
      // Nodes let go of during the block (not kept, or released by a gradient inside it)
      // could not be freed while it was open: free those that no tape holds now.
      claim(block.dropped);
      release(block.dropped);
    }
    if (result! instanceof Promise) {
      throw new GradientTapeError(
        "record(fn): fn returned a Promise; the block must be synchronous (await outside it)",
      );
    }
    return result!;
  }

  /**
   * Runs `fn` inside this tape's `record` block without recording its
   * operations on this tape (TF's `with tape.stop_recording():`); enclosing
   * tapes still record them. Returns what `fn` returns.
   */
  stopRecording<T>(fn: () => T): T {
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this);
    if (sym) return sym.stopRecording(fn);
    this.#checkUsable("stopRecording");
    if (typeof fn !== "function") {
      throw new GradientTapeError(`stopRecording(fn): fn must be a function, got ${describe(fn)}`);
    }
    if (!this.#recording) {
      throw new GradientTapeError(
        "stopRecording(): this tape is not recording; call it inside tape.record(() => ...)",
      );
    }
    const start = engine().state.nextTapeNodeId;
    try {
      return fn();
    } finally {
      this.#paused.push([start, engine().state.nextTapeNodeId]);
    }
  }

  /**
   * Keeps the nodes recorded by the running block since the last flush (those that
   * depend on something watched, not inside `stopRecording`, none once the tape has
   * stopped recording), so that a `gradient()` inside the block sees them.
   */
  #flush(): void {
    const block = this.#block;
    if (!block) return;
    const added = inDataOrder(block.tape.slice(block.done));
    block.done = block.tape.length;
    if (block.foreign) { for (const n of added) foreignNodes.add(n); }
    const paused = this.#paused;
    const mine = added.filter((n) => !paused.some(([a, b]) => n.id >= a && n.id < b));
    const kept = this.#stopped ? [] : this.#keepWatched(mine);
    claim(added);
    this.#held.nodes.push(...kept);
    const keptSet = new Set(kept);
    const dropped = added.filter((n) => !keptSet.has(n));
    release(dropped);
    block.dropped.push(...dropped);
  }

  /**
   * `gradient()` (or `jacobian()`) inside this tape's own `record` block, as TF's
   * `GradientTape.gradient` does: what the block recorded so far is kept; a
   * non-persistent tape stops recording (the rest of the block is not on it); a
   * persistent one goes on recording, the gradient computation included (so a
   * later `gradient()` of that gradient gives a higher derivative), with TF's
   * warning, once.
   */
  #insideBlock(): void {
    if (!this.#recording) return;
    this.#flush();
    if (!this.persistent) {
      this.#stopped = true;
    } else if (!warnedInside) {
      warnedInside = true;
      console.warn(
        "WARNING: Calling GradientTape.gradient on a persistent tape inside its context is " +
          "significantly less efficient than calling it outside the context (it causes the " +
          "gradient ops to be recorded on the tape, leading to increased CPU and memory " +
          "usage). Only call GradientTape.gradient inside the context if you actually want " +
          "to trace the gradient in order to compute higher order derivatives.",
      );
    }
  }

  /** Keeps the nodes that depend on something watched, extending the derived set. */
  #keepWatched(added: TapeNode[]): TapeNode[] {
    const kept: TapeNode[] = [];
    for (const node of added) {
      let depends = false;
      for (const input of Object.values(node.inputs)) {
        if (input == null) continue;
        if (this.watchAccessedVariables && isTrainableVariable(input) && isFloat(input)) {
          this.#watched.add(input.id);
          this.#derived.add(input.id);
          this.#watchedVariables.set(input.id, input);
        }
        const from = this.#watchedFrom.get(input.id);
        if (this.#derived.has(input.id) && (from === undefined || node.id >= from)) depends = true;
      }
      // Integer and bool results (casts to int, argMax, comparisons) carry no gradient.
      if (depends && node.outputs.some(isFloat)) {
        kept.push(node);
        for (const out of node.outputs) if (isFloat(out)) this.#derived.add(out.id);
      }
    }
    return kept;
  }

  /**
   * Gradients of `target` (a tensor, or a list or record of tensors at any
   * depth, whose gradients add up) with respect to `sources`, in the structure
   * of `sources`. A non-persistent tape
   * allows one call. Unwatched, unconnected or integer sources get `null` (or
   * zeros with `{ unconnectedGradients: "zero" }`).
   */
  gradient<S extends TensorStructure, U extends UnconnectedGradients = "none">(
    target: TensorStructure,
    sources: S,
    options: TapeGradientOptions<U> = {},
  ): GradientOf<S, U extends "zero" ? tf.Tensor : tf.Tensor | null> {
    const zeros = zerosForUnconnected(options.unconnectedGradients, "gradient()");
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this, target);
    if (sym) return sym.gradient(target, sources, options) as never;
    this.#checkReady("gradient");
    const targets = this.#targets(target, "gradient(target, sources)");
    const { list, pack } = flattenTensors(sources, "gradient(target, sources)", "source");
    const dys = this.#outputGradients(targets, options.outputGradients);
    const grads = this.#backprop(targets, list, dys, zeros);
    this.#afterGradient();
    return pack(grads) as never;
  }

  /**
   * The Jacobian of `target` with respect to each source (TF's
   * `tape.jacobian`): shape `[...target.shape, ...source.shape]`, entry
   * `[i..., j...]` = ∂target[i...]/∂source[j...]. Computed one backward pass
   * per element of `target`. `null` for a source the target does not depend
   * on (zeros with `{ unconnectedGradients: "zero" }`).
   */
  jacobian<S extends TensorStructure, U extends UnconnectedGradients = "none">(
    target: tf.Tensor,
    sources: S,
    options: JacobianOptions<U> = {},
  ): GradientOf<S, U extends "zero" ? tf.Tensor : tf.Tensor | null> {
    const zeros = zerosForUnconnected(options.unconnectedGradients, "jacobian()");
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this, target);
    if (sym) return sym.jacobian(target, sources, options) as never;
    this.#checkReady("jacobian");
    this.#checkPfor("jacobian", options);
    const [y] = this.#targets(target, "jacobian(target, sources)", true);
    const { list, pack } = flattenTensors(sources, "jacobian(target, sources)", "source");
    const n = y.size;
    const rows = this.#rows(y, list, n, (i) => oneHotSeed(y.shape, 1, n, i));
    const out = list.map((s, k) => {
      const shape = [...y.shape, ...s.shape];
      if (rows[k] === null) return zeros ? tf.zeros(shape) : null;
      return tf.tidy(() => tf.stack(rows[k]!).reshape(shape));
    });
    rows.forEach((r) => tf.dispose(r ?? []));
    this.#afterGradient();
    return pack(out) as never;
  }

  /**
   * The Jacobian of each example of a batch (TF's `tape.batchJacobian`):
   * `target` `[b, y1, ...]` and `source` `[b, x1, ...]` give
   * `[b, y1, ..., x1, ...]`, entry `[i, j..., k...]` = ∂target[i, j...]/∂source[i, k...].
   * Examples must not depend on each other (as in TensorFlow, this is assumed,
   * not checked). A source the target does not depend on gets zeros whatever
   * `unconnectedGradients` says, as in TensorFlow ("to maintain compatibility
   * with the previous behavior, which ignored `unconnected_gradients`").
   */
  batchJacobian<U extends UnconnectedGradients = "none">(
    target: tf.Tensor,
    source: tf.Tensor,
    options: JacobianOptions<U> = {},
  ): tf.Tensor {
    zerosForUnconnected(options.unconnectedGradients, "batchJacobian()");
    // In a traced function (graph tensors): lib/_symbolic_tape.ts.
    const sym = symbolicTapeFor(this, target);
    if (sym) return sym.jacobian(target, source, options, true) as never;
    this.#checkReady("batchJacobian");
    this.#checkPfor("batchJacobian", options);
    const [y] = this.#targets(target, "batchJacobian(target, source)", true);
    if (!(source instanceof tf.Tensor)) {
      throw new GradientTapeError(
        `batchJacobian(target, source): source must be one tf.Tensor, got ${describe(source)}`,
      );
    }
    const x = source;
    if (y.rank < 2 || x.rank < 2 || y.shape[0] !== x.shape[0]) {
      throw new GradientTapeError(
        `batchJacobian(target, source): target [${y.shape}] and source [${x.shape}] must both ` +
          "have rank >= 2 and the same first (batch) dimension",
      );
    }
    const b = y.shape[0];
    const m = y.size / b;
    const [rows] = this.#rows(
      y,
      [x],
      m,
      (j) => oneHotSeed(y.shape, b, m, j),
    );
    const shape = [b, ...y.shape.slice(1), ...x.shape.slice(1)];
    let out: tf.Tensor;
    if (rows === null) out = tf.zeros(shape);
    else {
      out = tf.tidy(() => tf.stack(rows, 1).reshape(shape));
      tf.dispose(rows);
    }
    this.#afterGradient();
    return out;
  }

  /**
   * TF: with `experimental_use_pfor=False`, an eager non-persistent tape raises
   * "GradientTape must be created with persistent=True to compute the jacobian".
   */
  #checkPfor(what: string, options: JacobianOptions<UnconnectedGradients>): void {
    if (options.experimentalUsePfor === false && !this.persistent) {
      throw new GradientTapeError(
        `${what}(): with experimentalUsePfor: false the GradientTape must be created with ` +
          "{ persistent: true } (TF computes the rows with one gradient call each)",
      );
    }
  }

  /** One backward pass per row seed; per source, the list of rows (zeros where unconnected) or null. */
  #rows(
    y: tf.Tensor,
    sources: tf.Tensor[],
    n: number,
    seed: (i: number) => tf.Tensor,
  ): (tf.Tensor[] | null)[] {
    const rows: (tf.Tensor | null)[][] = sources.map(() => []);
    for (let i = 0; i < n; i++) {
      const dy = tf.tidy(() => seed(i));
      try {
        this.#backprop([y], sources, [dy], false).forEach((g, k) => rows[k].push(g));
      } finally {
        dy.dispose();
      }
    }
    return rows.map((list, k) => {
      if (list.every((g) => g === null)) return null;
      return list.map((g) => g ?? tf.zeros(sources[k].shape));
    });
  }

  #checkReady(what: string): void {
    this.#checkUsable(what);
    if (this.#used) {
      throw new GradientTapeError(
        `${what}() can only be called once on a non-persistent GradientTape; create it with ` +
          "new GradientTape({ persistent: true }) to take several gradients",
      );
    }
    this.#insideBlock();
  }

  #targets(target: unknown, what: string, single = false): tf.Tensor[] {
    if (target instanceof tf.Tensor) return [target];
    const bad = () =>
      new GradientTapeError(
        `${what}: target must be a tf.Tensor${
          single ? "" : " or a non-empty list or record of tensors"
        }, got ${describe(target)}`,
      );
    if (single || target === null || typeof target !== "object") throw bad();
    const { list } = flattenTensors(target, what, "target");
    if (list.length === 0) throw bad();
    return list;
  }

  #outputGradients(
    targets: tf.Tensor[],
    given: TensorStructure | undefined,
  ): (tf.Tensor | undefined)[] {
    if (given === undefined) return targets.map(() => undefined);
    const list = given instanceof tf.Tensor
      ? [given]
      : flattenNest(given, (v) => v instanceof tf.Tensor).leaves;
    if (
      list.length !== targets.length ||
      list.some((d, i) =>
        !(d instanceof tf.Tensor) || !tf.util.arraysEqual(d.shape, targets[i].shape) ||
        !isFloat(d)
      )
    ) {
      throw new GradientTapeError(
        `gradient(): outputGradients must give one float32 tensor per target with the target's shape ` +
          `(${targets.map((t) => `[${t.shape}]`).join(", ")})`,
      );
    }
    return list as tf.Tensor[];
  }

  #afterGradient(): void {
    if (this.persistent) return;
    this.#used = true;
    this.#releaseAll();
  }

  #backprop(
    targets: tf.Tensor[],
    sources: tf.Tensor[],
    dys: (tf.Tensor | undefined)[],
    zeros: boolean,
  ): (tf.Tensor | null)[] {
    // A Variable target is read with the tape active in TF (`with self: convert_to_tensor(t)`),
    // so a variable the tape would watch is connected to itself (`result = v0` in the guide).
    for (const t of targets) {
      const watches = this.#watched.has(t.id) ||
        (this.watchAccessedVariables && isTrainableVariable(t));
      if (t instanceof tf.Variable && isFloat(t) && watches && !this.#derived.has(t.id)) {
        this.#watched.add(t.id);
        this.#derived.add(t.id);
        this.#watchedVariables.set(t.id, t);
      }
    }
    // Only watched float tensors, and those computed from them on this tape, are sources.
    const connected = (s: tf.Tensor) => this.#derived.has(s.id) && isFloat(s);
    const live = sources.filter(connected);
    const nodes = filterNodes(this.#held.nodes, live, targets);
    const given = new Set(dys.filter((d) => d !== undefined).map((d) => d!.id));
    return tf.tidy((): tf.TensorContainer => {
      const acc = new Map<number, tf.Tensor>();
      const add = (id: number, g: tf.Tensor) => {
        const cur = acc.get(id);
        acc.set(id, cur === undefined ? g : tf.add(cur, g));
      };
      targets.forEach((t, i) => {
        if (this.#derived.has(t.id)) add(t.id, dys[i] ?? tf.ones(t.shape));
      });
      backpropagate(nodes, acc);
      return sources.map((s) => {
        let g = connected(s) ? acc.get(s.id) : undefined;
        if (g === undefined) return zeros ? tf.zeros(s.shape) : null;
        // Never hand back the caller's own outputGradients tensor.
        if (given.has(g.id)) g = g.clone();
        return g;
      }) as tf.TensorContainer;
    }) as (tf.Tensor | null)[];
  }

  #releaseAll(): void {
    const nodes = this.#held.nodes;
    this.#held.nodes = [];
    release(nodes);
    this.#block?.dropped.push(...nodes); // freed when the block ends, if no tape holds them
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
    finalizer.unregister(this);
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
 * `x` as a constant for differentiation (TF's `tf.stop_gradient`): the same
 * value, but no tape records where it came from, so gradients do not flow
 * through it (a source reached only through it gets `null`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { GradientTape, stopGradient } from "./tape.ts";
 * const x = tf.scalar(3);
 * const tape = new GradientTape();
 * tape.watch(x);
 * const y = tape.record(() => x.mul(stopGradient(x.square())));
 * tape.gradient(y, x)!.print(); // x² = 9, not 3x² = 27
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  // In a traced function: TF's StopGradient op, so the trace keeps reading `x` at every call.
  if (hasSymbolic(x) || (x instanceof tf.Tensor && inFunctionGraph())) {
    return graphStopGradient(x as never) as unknown as T;
  }
  if (!(x instanceof tf.Tensor)) {
    throw new GradientTapeError(`stopGradient(x): x must be a tf.Tensor, got ${describe(x)}`);
  }
  const state = engine().state;
  const depth = state.gradientDepth;
  state.gradientDepth = 0; // not recorded: no tape sees the copy's origin
  try {
    return tf.clone(x);
  } finally {
    state.gradientDepth = depth;
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
