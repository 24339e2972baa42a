/**
 * tfjs's random ops while a function is traced. tfjs draws `tf.randomUniform`,
 * `tf.randomNormal`, `tf.truncatedNormal`, `tf.randomGamma`,
 * `tf.randomStandardNormal`, `tf.randomUniformInt`, `tf.rand`,
 * `tf.multinomial` and `tf.dropout`'s mask in JavaScript, without a kernel a
 * graph could record: used in a trace, the numbers drawn then would become
 * graph constants, reused at every call, where TensorFlow draws anew at every
 * call of a `tf.function`. The parameters of such a call (bounds, mean, rate)
 * cannot be recovered from the engine, so the trace refuses it:
 *
 * - {@linkcode watchRandomDraws} runs a trace watching tfjs's op scopes
 *   (`randomUniform__op`, ...): what such an op returns, and every eager
 *   tensor computed from it, is marked; a graph constant made of a marked
 *   tensor raises {@linkcode RandomOpInTraceError} naming the op and its graph
 *   op in `v1` (`v1.randomUniform`, `v1.randomNormal`, `v1.dropout`, ...,
 *   which draw at every call). A draw that only gives a `tf.Variable` created
 *   by the first trace its initial value stays allowed (TensorFlow runs
 *   initializers once, too), as do draws never used by the graph.
 * - `tf.layers.dropout` (and `spatialDropout1d`) called on a graph tensor with
 *   `{ training: true }` is `v1.dropout` with the layer's rate, noise shape and
 *   seed: a new mask at every call, as Keras's `Dropout` in a `tf.function`.
 *   Other noise layers (`gaussianNoise`, `gaussianDropout`, `alphaDropout`)
 *   draw with tfjs's ops and so raise the error in training mode.
 *
 * Values read out of a draw (`dataSync()`) and written back as numbers are not
 * seen.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "./function.ts";
 * import * as v1 from "./v1/mod.ts";
 * const noisy = tfFunction((x: tf.Tensor) => x.add(v1.randomNormal([2], 0, 0.1) as never));
 * noisy(tf.zeros([2])).print(); // new noise at every call
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { constantSources } from "./v1/ops.ts";
import { dropout } from "./v1/random_ops.ts";
import { type Graph, GraphError, SymbolicTensor } from "./v1/graph.ts";

/** tfjs's op scope name → the op and what to use instead in a traced function. */
const RANDOM_OPS: Record<string, { op: string; instead?: string }> = {
  randomUniform__op: {
    op: "tf.randomUniform",
    instead: "v1.randomUniform(shape, minval, maxval, dtype, seed)",
  },
  randomUniformInt__op: {
    op: "tf.randomUniformInt",
    instead: 'v1.randomUniform(shape, minval, maxval, "int32", seed)',
  },
  rand__op: { op: "tf.rand", instead: "v1.randomUniform(shape, minval, maxval, dtype, seed)" },
  randomNormal__op: {
    op: "tf.randomNormal",
    instead: "v1.randomNormal(shape, mean, stddev, dtype, seed)",
  },
  randomStandardNormal__op: {
    op: "tf.randomStandardNormal",
    instead: "v1.randomStandardNormal(shape, dtype, seed)",
  },
  truncatedNormal__op: {
    op: "tf.truncatedNormal",
    instead: "v1.truncatedNormal(shape, mean, stddev, dtype, seed)",
  },
  randomGamma__op: {
    op: "tf.randomGamma",
    instead: "v1.randomGamma(shape, alpha, beta, dtype, seed)",
  },
  multinomial__op: { op: "tf.multinomial" },
  dropout__op: {
    op: "tf.dropout",
    instead: "v1.dropout(x, rate, noiseShape, seed) (or a tf.layers.dropout layer called " +
      "with { training: true })",
  },
};

/** A tfjs random op used inside a traced function, where it would draw only once. */
export class RandomOpInTraceError extends GraphError {
  /** The tfjs op, e.g. `"tf.randomUniform"`. */
  readonly op: string;
  constructor(scope: string, detail: string, cause?: unknown) {
    const { op, instead } = RANDOM_OPS[scope];
    super(
      `${op} inside a traced function ${detail}; TensorFlow draws anew at every call of a ` +
        `tf.function. ${
          instead ? `Use ${instead}, a graph op that draws at every call, or ` : ""
        }` +
        `draw outside the function and pass the tensor in as an argument.`,
    );
    this.name = "RandomOpInTraceError";
    if (cause !== undefined) this.cause = cause;
    this.op = op;
  }
}

interface Engine {
  startScope(name?: string): void;
  endScope(result?: unknown): void;
  runKernel(name: string, inputs: Record<string, unknown>, attrs?: unknown): unknown;
}

/** Each graph constant of `g` (and of its branches and loop bodies) with the id it was made from. */
function* constants(g: Graph): Generator<[string, number]> {
  for (const op of g.operations) {
    const id = op.type === "Const" ? constantSources.get(op) : undefined;
    if (id !== undefined) yield [op.name, id];
    for (const sub of Object.values(op.subgraphs ?? {})) yield* constants(sub);
  }
}

/**
 * Runs `trace` (which builds `graph`) watching tfjs's random ops; throws
 * {@linkcode RandomOpInTraceError} when one of their draws became a constant of
 * `graph`, or when one failed on a graph tensor. The engine is restored after.
 */
export function watchRandomDraws<T>(graph: Graph, trace: () => T): T {
  const eng = tf.engine() as unknown as Engine;
  const { startScope, endScope, runKernel } = eng;
  const scopes: string[] = [];
  const drawn = new Map<number, string>(); // eager tensor id → the scope of the op that drew it
  let failed: string | undefined;
  const mark = (x: unknown, scope: string): void => {
    for (const t of [x].flat()) if (t instanceof tf.Tensor) drawn.set(t.id, scope);
  };
  eng.startScope = function (name) {
    scopes.push(name ?? "");
    return startScope.call(this, name);
  };
  eng.endScope = function (result) {
    const outermost = scopes.find((s) => s in RANDOM_OPS);
    const scope = scopes.pop();
    if (outermost && scope && scope in RANDOM_OPS) {
      if (result == null) failed = outermost; // an op's error path ends its scope with null
      else if (scope !== "dropout__op") mark(result, outermost); // dropout's mask is marked
    }
    return endScope.call(this, result);
  };
  eng.runKernel = function (name, inputs, attrs) {
    const out = runKernel.call(this, name, inputs, attrs);
    if (drawn.size > 0) {
      for (const k in inputs) {
        const x = inputs[k];
        const scope = x instanceof tf.Tensor ? drawn.get(x.id) : undefined;
        if (scope) {
          mark(out, scope);
          break;
        }
      }
    }
    return out;
  };
  try {
    const result = trace();
    for (const [name, id] of constants(graph)) {
      const scope = drawn.get(id);
      if (scope) {
        throw new RandomOpInTraceError(
          scope,
          `draws its values once, while tracing, and the graph would reuse them at every ` +
            `call (they became the graph constant "${name}")`,
        );
      }
    }
    return result;
  } catch (e) {
    if (failed && !(e instanceof GraphError)) {
      throw new RandomOpInTraceError(failed, `failed: ${(e as Error).message}`, e);
    }
    throw e;
  } finally {
    Object.assign(eng, { startScope, endScope, runKernel });
  }
}

// ---------------------------------------------------------------- dropout layers

interface DropoutLayer {
  rate: number;
  seed?: number;
  getNoiseShape(x: unknown): (number | null)[] | null | undefined;
  call(inputs: unknown, kwargs?: Record<string, unknown>): unknown;
}
const layerClasses = (tf.serialization.SerializationMap.getMap() as unknown as {
  classNameMap: Record<string, [{ prototype: DropoutLayer }, unknown] | undefined>;
}).classNameMap;
const dropoutClass = layerClasses.Dropout?.[0]; // SpatialDropout1D inherits its call
if (dropoutClass) {
  const eagerCall = dropoutClass.prototype.call;
  dropoutClass.prototype.call = function (inputs, kwargs) {
    const x = Array.isArray(inputs) && inputs.length === 1 ? inputs[0] : inputs;
    if (!(x instanceof SymbolicTensor) || !kwargs?.training || !(this.rate > 0 && this.rate < 1)) {
      return eagerCall.call(this, inputs, kwargs);
    }
    return dropout(x, this.rate, this.getNoiseShape(x) ?? undefined, this.seed);
  };
}
