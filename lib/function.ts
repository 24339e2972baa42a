/**
 * `tfFunction`: TensorFlow 2's `tf.function` for TensorFlow.js. The first call
 * with a new signature (argument shapes and dtypes, values of non-tensor
 * arguments) *traces* the function: it runs once with symbolic tensors and
 * records every op into a v1 {@linkcode Graph} (a "concrete function"). Later
 * calls with that signature skip the JavaScript and run the cached graph.
 *
 * Consequences you can observe, as in TensorFlow:
 * - `console.log` inside the function runs only while tracing; use
 *   {@linkcode tfPrint} (a graph op) to print at every call.
 * - A new shape retraces (`traceCount` grows) unless an `inputSignature` with
 *   `null` dimensions says that any size is fine.
 * - JavaScript `if`/`while` on a tensor cannot work while tracing: use
 *   `v1.cond` / `v1.whileLoop`, which is what AutoGraph generates.
 *
 * Inside the function, use tensor methods (`a.square().sum()`, `x.matMul(w)`)
 * or `v1` ops: they work on the symbolic tensors. Closed-over `tf.Tensor`s
 * become constants; closed-over `tf.Variable`s are read at every call.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "./function.ts";
 * const f = tfFunction((a: tf.Tensor) => a.square().sum());
 * f(tf.tensor([1, 2])).print(); // 5
 * f(tf.tensor([3, 4])).print(); // 25
 * console.log(f.traceCount); // 1: same signature
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  constant,
  type DType,
  execute,
  formatShape,
  Graph,
  GraphError,
  placeholder,
  print,
  printTensor,
  RunContext,
  type Shape,
  SymbolicTensor,
} from "./v1/mod.ts";

/** The shape and dtype an argument must have (`tf.TensorSpec`); `null` = any size. */
export interface TensorSpec {
  shape: Shape;
  dtype?: DType;
}

/** Options for {@linkcode tfFunction}. */
export interface TfFunctionOptions {
  /** One spec per argument: trace once for every input that fits. */
  inputSignature?: TensorSpec[];
  /** A name for the traced graphs. */
  name?: string;
}

/** An argument that does not fit the function's `inputSignature`. */
export class SignatureError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

type Structure = SymbolicTensor | Structure[] | { [key: string]: Structure };

/** One traced graph of a {@linkcode tfFunction}, for one signature. */
export interface ConcreteFunction {
  /** The signature key, e.g. `"float32(2,)"`. */
  readonly signature: string;
  /** The traced graph (draw it with `v1.drawGraph(cf.graph)`). */
  readonly graph: Graph;
  /** Runs the graph on these arguments (same signature). */
  call(...args: unknown[]): unknown;
}

/** What a traced function returns when called: its result with graph tensors made eager. */
export type Eager<R> = R extends SymbolicTensor ? tf.Tensor
  : R extends tf.Tensor ? R
  : R extends (infer U)[] ? Eager<U>[]
  : R extends object ? { [K in keyof R]: Eager<R[K]> }
  : R;

/** A traced function: call it like the original; it keeps its concrete functions. */
export type TfFunction<A extends unknown[], R> = ((...args: A) => Eager<R>) & {
  /** How many times the function has been traced. */
  readonly traceCount: number;
  /** The ops run by the last call (a cached graph runs no JavaScript of yours). */
  readonly lastCallOpCount: number;
  /** The concrete function for these arguments (or `TensorSpec`s), tracing if needed. */
  getConcreteFunction(...args: unknown[]): ConcreteFunction;
  /** Every concrete function traced so far. */
  readonly concreteFunctions: ConcreteFunction[];
  /** Frees the constants of every traced graph and forgets them (the next call retraces). */
  dispose(): void;
};

const isSpec = (a: unknown): a is TensorSpec =>
  !(a instanceof tf.Tensor) && typeof a === "object" && a !== null &&
  Array.isArray((a as TensorSpec).shape);

function fits(t: tf.Tensor, spec: TensorSpec): boolean {
  return (spec.dtype ?? "float32") === t.dtype && spec.shape.length === t.rank &&
    spec.shape.every((d, i) => d === null || d === t.shape[i]);
}

/** Flattens a traced result into graph outputs; returns the structure to rebuild. */
function collect(x: unknown, out: SymbolicTensor[]): Structure {
  if (x instanceof SymbolicTensor) {
    out.push(x);
    return x;
  }
  if (x instanceof tf.Tensor) return collect(constant(x), out);
  if (Array.isArray(x)) return x.map((v) => collect(v, out));
  if (x && typeof x === "object") {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, collect(v, out)]));
  }
  throw new GraphError(
    `a traced function must return tensors (or lists/records of them), got ${String(x)}`,
  );
}

function rebuild(s: Structure, values: Map<SymbolicTensor, tf.Tensor>): unknown {
  if (s instanceof SymbolicTensor) return values.get(s);
  if (Array.isArray(s)) return s.map((v) => rebuild(v, values));
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, rebuild(v, values)]));
}

/**
 * Wraps `fn` so that it runs as a traced graph (`tf.function`). Tensor
 * arguments become placeholders; other arguments are baked into the trace
 * (a new value means a new trace). Returns eager `tf.Tensor`s, which the caller
 * disposes.
 */
export function tfFunction<A extends unknown[], R>(
  fn: (...args: A) => R,
  opts: TfFunctionOptions = {},
): TfFunction<A, R> {
  const cache = new Map<string, ConcreteFunction>();
  let traceCount = 0;
  let lastCallOpCount = 0;
  const name = opts.name ?? (fn.name || "function");

  const signatureOf = (args: unknown[]): { key: string; specs: (TensorSpec | null)[] } => {
    const sig = opts.inputSignature;
    if (sig && sig.length !== args.length) {
      throw new SignatureError(
        `${name}: expected ${sig.length} arguments (inputSignature), got ${args.length}`,
      );
    }
    const specs = args.map((a, i): TensorSpec | null => {
      if (sig) {
        if (!(a instanceof tf.Tensor) && !isSpec(a)) {
          throw new SignatureError(`${name}: argument ${i} must be a tensor (inputSignature)`);
        }
        if (a instanceof tf.Tensor && !fits(a, sig[i])) {
          throw new SignatureError(
            `${name}: argument ${i} (${a.dtype} ${formatShape(a.shape)}) does not fit the ` +
              `inputSignature ${sig[i].dtype ?? "float32"} ${formatShape(sig[i].shape)}`,
          );
        }
        return sig[i];
      }
      if (a instanceof tf.Tensor) return { shape: a.shape, dtype: a.dtype as DType };
      return isSpec(a) ? a : null;
    });
    const key = specs.map((s, i) =>
      s ? `${s.dtype ?? "float32"}${formatShape(s.shape)}` : JSON.stringify(args[i])
    ).join(", ");
    return { key, specs };
  };

  const trace = (args: unknown[], key: string, specs: (TensorSpec | null)[]): ConcreteFunction => {
    traceCount++;
    const graph = new Graph();
    const outputs: SymbolicTensor[] = [];
    const structure = graph.asDefault(() => {
      const symArgs = args.map((a, i) => {
        const s = specs[i];
        return s ? placeholder(s.dtype ?? "float32", s.shape, `arg${i}`) : a;
      });
      graph.inputs = symArgs.filter((a): a is SymbolicTensor => a instanceof SymbolicTensor);
      return collect(fn(...symArgs as A), outputs);
    });
    graph.outputs = outputs;
    const call = (...callArgs: unknown[]): unknown => {
      const tensors = callArgs.filter((a): a is tf.Tensor => a instanceof tf.Tensor);
      const ctx = new RunContext(new Map());
      const results = tf.tidy(() => {
        const feeds = new Map(graph.inputs.map((p, i) => [p, tensors[i]]));
        const outs = execute([...graph.outputs, ...graph.statefulOps], feeds, ctx);
        return outs.slice(0, graph.outputs.length).map((t) => t!.clone());
      });
      lastCallOpCount = ctx.executed.length;
      return rebuild(structure, new Map(graph.outputs.map((o, i) => [o, results[i]])));
    };
    return { signature: key, graph, call };
  };

  const concrete = (args: unknown[]): ConcreteFunction => {
    const { key, specs } = signatureOf(args);
    let cf = cache.get(key);
    if (!cf) {
      cf = trace(args, key, specs);
      cache.set(key, cf);
    }
    return cf;
  };

  const wrapper = (...args: A): Eager<R> => {
    // Called while another function is being traced: inline it into that trace.
    if (args.some((a) => a instanceof SymbolicTensor)) return fn(...args) as Eager<R>;
    return concrete(args).call(...args) as Eager<R>;
  };
  return Object.defineProperties(wrapper, {
    traceCount: { get: () => traceCount },
    lastCallOpCount: { get: () => lastCallOpCount },
    concreteFunctions: { get: () => [...cache.values()] },
    getConcreteFunction: { value: (...args: unknown[]) => concrete(args) },
    dispose: {
      value: () => {
        for (const cf of cache.values()) cf.graph.dispose();
        cache.clear();
      },
    },
  }) as TfFunction<A, R>;
}

/**
 * Prints `message` and `x`'s value every time it is computed, and returns `x`
 * (`tf.print`). In a traced function it is a graph op (`Print`) that runs at
 * every call, even if its result is unused; on an eager tensor it prints now.
 */
export function tfPrint<T extends tf.Tensor | SymbolicTensor>(x: T, message = ""): T {
  if (x instanceof SymbolicTensor) return print(x, message) as T;
  printTensor(x as tf.Tensor, message);
  return x;
}

/** Median per-call times of a function run eagerly and as a {@linkcode tfFunction}. */
export interface FunctionTiming {
  /** Median milliseconds per eager call. */
  eagerMs: number;
  /** Median milliseconds per call of the traced graph (after the first call). */
  tracedMs: number;
  /** Median extra milliseconds the first call spends tracing (first call minus a cached call). */
  traceMs: number;
  repeats: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Times `fn(...args)` eagerly and traced: medians over `repeats` calls of each
 * (alternating) after a warm-up, each call waiting for its result (`dataSync`)
 * and freeing it. The
 * trace cost is measured on fresh `tfFunction`s (fewer repeats: tracing is slow).
 */
export function timeFunction<A extends tf.Tensor[]>(
  fn: (...args: A) => tf.Tensor,
  args: A,
  opts: { repeats?: number; traceRepeats?: number } = {},
): FunctionTiming {
  const repeats = opts.repeats ?? 30;
  const timeCall = (f: (...a: A) => tf.Tensor): number => {
    const t0 = performance.now();
    const r = f(...args);
    r.dataSync();
    const ms = performance.now() - t0;
    r.dispose();
    return ms;
  };
  // Eager and traced calls alternate, so that load from other processes hits both alike.
  const eager = (...a: A): tf.Tensor => tf.tidy(() => fn(...a));
  const traced = tfFunction(fn);
  const call = traced as (...a: A) => tf.Tensor;
  for (let i = 0; i < 3; i++) { // warm-up: kernels compiled, caches filled
    timeCall(eager);
    timeCall(call);
  }
  const eagerTimes: number[] = [];
  const tracedTimes: number[] = [];
  for (let i = 0; i < repeats; i++) {
    eagerTimes.push(timeCall(eager));
    tracedTimes.push(timeCall(call));
  }
  traced.dispose();
  const [eagerMs, tracedMs] = [median(eagerTimes), median(tracedTimes)];
  const firsts = Array.from({ length: opts.traceRepeats ?? 5 }, () => {
    const fresh = tfFunction(fn);
    const ms = timeCall(fresh as (...a: A) => tf.Tensor);
    fresh.dispose();
    return ms;
  });
  return { eagerMs, tracedMs, traceMs: Math.max(0, median(firsts) - tracedMs), repeats };
}
