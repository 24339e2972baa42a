/**
 * What every exercise check returns: whether the learner's answer is right and
 * one sentence that says what is right, or what is wrong and a hint. It shows
 * in a notebook as a coloured box and prints as text.
 *
 * @example
 * ```ts
 * import { attempt, fail, pass } from "./check.ts";
 * const r = attempt("1.1", () => (2 + 2 === 4 ? pass("1.1", "2 + 2 is 4.") : fail("1.1", "no", "add")));
 * console.log(r.passed, r.message); // true "2 + 2 is 4."
 * ```
 *
 * @module
 */
import { DISPLAY, type Displayable, escapeHtml } from "../display/displayable.ts";

/** The verdict on one exercise. */
export interface CheckResult extends Displayable {
  /** The exercise, e.g. "3.1". */
  readonly exercise: string;
  readonly passed: boolean;
  /** What is right, or what is wrong followed by a hint. */
  readonly message: string;
}

function result(exercise: string, passed: boolean, message: string): CheckResult {
  const text = `${passed ? "✔" : "✘"} Exercise ${exercise}: ${message}`;
  const colour = passed ? "#2e7d32" : "#c62828";
  const markup = `<div style="border-left:4px solid ${colour};padding:4px 10px;margin:4px 0">` +
    `<b style="color:${colour}">${passed ? "✔" : "✘"} Exercise ${escapeHtml(exercise)}</b>: ` +
    `${escapeHtml(message)}</div>`;
  return {
    exercise,
    passed,
    message,
    [DISPLAY]: () => ({ "text/html": markup, "text/plain": text }),
    toString: () => text,
    [Symbol.for("Deno.customInspect")]: () => text,
  } as CheckResult;
}

/** A right answer, with what makes it right. */
export function pass(exercise: string, message: string): CheckResult {
  return result(exercise, true, message);
}

/** A wrong answer: what is wrong, then a hint toward the fix. */
export function fail(exercise: string, problem: string, hint: string): CheckResult {
  return result(exercise, false, `${problem} Hint: ${hint}`);
}

/** Thrown inside a check to fail it with a problem and a hint. */
export class Wrong extends Error {
  constructor(readonly problem: string, readonly hint: string) {
    super(problem);
    this.name = "Wrong";
  }
}

/** Fails when `value` is still the blank's `undefined`/`null`. */
export function answered<T>(value: T | null | undefined, what: string, hint: string): T {
  if (value === undefined || value === null) {
    throw new Wrong(`Not answered yet: ${what} is ${value}; replace the TODO.`, hint);
  }
  return value;
}

/**
 * Runs a check body; a {@linkcode Wrong} becomes a failed result, and an
 * error thrown by the learner's code becomes a failed result naming it.
 */
export function attempt(exercise: string, body: () => CheckResult, hint = ""): CheckResult {
  try {
    return body();
  } catch (e) {
    if (e instanceof Wrong) return fail(exercise, e.problem, e.hint);
    const err = e as Error;
    return fail(
      exercise,
      `Your code threw ${err?.name ?? "an error"}: ${err?.message ?? e}.`,
      hint,
    );
  }
}

/** {@linkcode attempt} for checks that await. */
export async function attemptAsync(
  exercise: string,
  body: () => Promise<CheckResult>,
  hint = "",
): Promise<CheckResult> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Wrong) return fail(exercise, e.problem, e.hint);
    const err = e as Error;
    return fail(
      exercise,
      `Your code threw ${err?.name ?? "an error"}: ${err?.message ?? e}.`,
      hint,
    );
  }
}
