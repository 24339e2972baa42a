// Functions for tests/autograph_test.ts, written as a user writes them for AutoGraph:
// operators on tensors (`x * 2`, `i < n`) are not valid TypeScript, so they live in JavaScript.
// Each follows an example of TensorFlow's AutoGraph docs ("Better performance with
// tf.function", AutoGraph reference control_flow.md / operators.md / limitations.md).
import * as tf from "@tensorflow/tfjs";
import { range, setLoopOptions } from "../lib/autograph/mod.ts";

export { range, setLoopOptions, tf };

/** An `if` on a tensor condition (tf.function guide: "if x > 0"). */
export function signFlip(x) {
  if (x.sum() > 0) {
    return x * 2;
  }
  return -x;
}

/** An `if` on a JavaScript boolean: decided at trace time. */
export function scaleIf(x, double) {
  let y = x;
  if (double) {
    y = x * 2;
  } else {
    y = x * 3;
  }
  return y;
}

/** A loop over range(n): unrolled for a number n, a While op for a tensor n. */
export function sumRange(x, n) {
  let s = x;
  for (const i of range(n)) {
    s = s + i;
  }
  return s;
}

/** The guide's `while i < n` accumulation. */
export function sumBelow(n) {
  let i = tf.scalar(0);
  let s = tf.scalar(0);
  while (i < n) {
    s = s + i;
    i = i + 1;
  }
  return s;
}

/** A C-style for loop with a tensor bound. */
export function countedSquares(n) {
  let s = tf.scalar(0);
  for (let i = 0; i < n; i++) {
    s += i * i;
  }
  return s;
}

/** break and continue inside a loop over a tensor's rows. */
export function sumRowsUntilLarge(x) {
  let s = tf.zeros([x.shape[1]]);
  for (const row of x) {
    if (row.sum() > 100) break;
    if (row.sum() < 0) continue;
    s += row;
  }
  return s;
}

/** The same computation in plain JavaScript on arrays (the reference). */
export function sumRowsUntilLargeJs(rows) {
  const s = rows[0].map(() => 0);
  for (const row of rows) {
    const t = row.reduce((a, b) => a + b, 0);
    if (t > 100) break;
    if (t < 0) continue;
    row.forEach((v, j) => (s[j] += v));
  }
  return s;
}

/** return inside a tensor loop: the first row whose sum passes the threshold, else zeros. */
export function firstRowAbove(x, threshold) {
  for (const row of x) {
    if (row.sum() > threshold) {
      return row * 2;
    }
  }
  return tf.zeros([x.shape[1]]);
}

/** && and || on tensors and on JavaScript values. */
export function inBand(x, lo, hi) {
  return x.sum() > lo && x.sum() < hi || x.sum() === 0;
}
export function notPositive(x) {
  return !(x.sum() > 0);
}
export function lazyAnd(flag, onCall) {
  return flag && onCall();
}

/** Operators on tensors (and on numbers and strings, which stay JavaScript). */
export function arithmetic(x, y) {
  const label = "x" + 1;
  return [x * 2 + 1 - y / 4, x % 3, -x, x >= y, x <= y, x !== y, label];
}

/** `?:` on a tensor. */
export function clipSign(x) {
  return x.sum() > 0 ? x : x * 0;
}

/** A variable defined in only one branch of a tensor if (limitations.md). */
export function oneBranchOnly(x) {
  let y;
  if (x.sum() > 0) {
    y = x * 2;
  }
  return y;
}

/** A return in only one branch of a tensor if. */
export function returnInOneBranch(x) {
  if (x.sum() > 0) {
    return x;
  }
}

/** A loop variable whose dtype changes: int32 before the loop, float32 after one iteration. */
export function dtypeChange(n) {
  let i = tf.scalar(0, "int32");
  while (i.cast("float32") < n) {
    i = i.cast("float32") + 1;
  }
  return i;
}

/** A loop variable whose shape changes. */
export function shapeChange(n) {
  let i = tf.scalar(0);
  let v = tf.zeros([1]);
  while (i < n) {
    v = v.expandDims(0);
    i = i + 1;
  }
  return v;
}

/** A loop variable that a graph loop cannot carry (a JavaScript array). */
export function collectInArray(n) {
  let i = tf.scalar(0);
  let seen = [];
  while (i < n) {
    seen = [...seen, i];
    i = i + 1;
  }
  return i;
}

/** A tensor-dependent break in a loop over a JavaScript array (limitations.md). */
export function breakInJsLoop(x) {
  let s = x;
  for (const k of [1, 2, 3]) {
    if (s.sum() > 10) break;
    s = s * k;
  }
  return s;
}

/** Arrow functions, default and rest parameters, destructuring, a nested function. */
export const arrowStyle = (x, { scale = 2 } = {}, ...extra) => {
  const [first] = extra;
  const twice = (v) => v > 0 ? v * scale : v;
  return twice(x.sum()) + (first ?? 0);
};

/** A temporary assigned in one branch only and not used after the if (no error: not live). */
export function branchTemporary(x) {
  let t;
  let y;
  if (x.sum() > 0) {
    t = x * 2;
    y = t + 1;
  } else {
    y = x;
  }
  return y;
}

/** A loop variable whose shape alternates, (1, 2) and (2, 1): needs a shape invariant. */
export function transposeN(n) {
  let i = tf.scalar(0);
  let v = tf.tensor([[1, 2]]);
  while (i < n) {
    v = v.transpose();
    i = i + 1;
  }
  return v;
}
export function transposeNWithInvariant(n) {
  let i = tf.scalar(0);
  let v = tf.tensor([[1, 2]]);
  while (i < n) {
    setLoopOptions({ shapeInvariants: [[v, [null, null]]] });
    v = v.transpose();
    i = i + 1;
  }
  return v;
}

/** Nested loops: a tensor while inside a loop over rows, with break and continue. */
export function nestedLoops(x, n) {
  let total = tf.scalar(0);
  for (const row of x) {
    let j = tf.scalar(0);
    while (j < n) {
      j = j + 1;
      if (j > 2) break;
      if (row.sum() < 0) continue;
      total = total + row.sum() * j;
    }
  }
  return total;
}

/** A variable first assigned inside a tensor loop and used after it. */
export function lastSeen(n) {
  let i = tf.scalar(0);
  let last;
  while (i < n) {
    last = i * 10;
    i = i + 1;
  }
  return last;
}
