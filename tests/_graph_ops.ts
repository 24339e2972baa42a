/**
 * Shared checks of the graph-op and tf.function tests: a tfjs op traced by
 * `tfFunction` against the same op run eagerly, a tensor's values, the ops of a
 * trace, and what a call prints.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { tfFunction } from "../lib/function.ts";

/** A tensor's values as a plain array. */
export const value = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());

/** The op types of every concrete function of a traced function. */
export const opTypes = (
  f: { concreteFunctions: { graph: { operations: { type: string }[] } }[] },
): string[] => f.concreteFunctions.flatMap((cf) => cf.graph.operations.map((op) => op.type));

/** The op types of concrete function `i` (default the first) of a traced function. */
export const opTypesOf = (
  f: { concreteFunctions: { graph: { operations: { type: string }[] } }[] },
  i = 0,
): string[] => f.concreteFunctions[i].graph.operations.map((op) => op.type);

/** Runs `fn`, which must throw an instance of `type` whose message matches `re`. */
export function throwsWith(
  fn: () => unknown,
  type: new (...a: never[]) => Error,
  re: RegExp,
): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

/** Runs `fn` with console.log captured: its result and the lines printed. */
export function captureLog<T>(fn: () => T): { result: T; lines: string[] } {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  try {
    return { result: fn(), lines };
  } finally {
    console.log = orig;
  }
}

/** Calls `fn` traced on two inputs (one trace) and eagerly; asserts equal values and a graph op `type`. */
export function sameAsEager(
  label: string,
  fn: (x: tf.Tensor) => tf.Tensor,
  type: string,
  xs: tf.Tensor[],
): void {
  const f = tfFunction(fn, { autograph: false });
  for (const x of xs) {
    const traced = f(x) as tf.Tensor;
    const eager = tf.tidy(() => fn(x));
    assert.deepEqual(traced.shape, eager.shape, label);
    assert.equal(traced.dtype, eager.dtype, label);
    assert.deepEqual(value(traced), value(eager), label);
    tf.dispose([traced, eager]);
  }
  assert.equal(f.traceCount, 1, `${label}: one trace`);
  assert.ok(opTypes(f).includes(type), `${label}: a ${type} op in ${opTypes(f)}`);
  f.dispose();
}
