// TensorFlow's random seeds, written from the API docs of tf.random.set_seed (its four rules and
// its examples, quoted in the test names), tf.random.uniform / normal / truncated_normal and
// tf.compat.v1.random.get_seed. Values are not TF's (another generator): the equalities and
// inequalities the docs state are checked.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { RandomOpInTraceError, tfFunction } from "../lib/function.ts";
import {
  DEFAULT_GRAPH_SEED,
  getGlobalSeed,
  getSeed,
  RandomArgumentError,
  randomNormal,
  randomUniform,
  setSeed,
  truncatedNormal,
} from "../lib/random.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

/** The values of `t`, disposed. */
const take = (t: unknown): number[] => {
  const v = Array.from((t as tf.Tensor).dataSync());
  (t as tf.Tensor).dispose();
  return v;
};
/** `n` calls of `draw`, as value lists. */
const calls = (n: number, draw: () => tf.Tensor): number[][] =>
  Array.from({ length: n }, () => take(draw()));
/** Runs `body` and clears the global seed after (as set_seed(None)), whatever happens. */
const withSeedCleared = (body: () => void) => () => {
  try {
    body();
  } finally {
    setSeed(null);
  }
};
const uniform1 = (seed?: number) => randomUniform([1], { seed });

Deno.test("tf.random.set_seed rule 1, neither seed set: 'print(tf.random.uniform([1])) # A1; print(tf.random.uniform([1])) # A2', and a re-run gives other values 'A3', 'A4'", () => {
  assert.equal(getGlobalSeed(), null);
  assert.deepEqual(getSeed(), [null, null]);
  const [a1, a2] = calls(2, () => randomUniform([3]));
  const [a3, a4] = calls(2, () => randomUniform([3]));
  assert.notDeepEqual(a1, a2);
  assert.notDeepEqual(a3, a1);
  assert.notDeepEqual(a4, a2);
});

Deno.test(
  "tf.random.set_seed rule 2, global seed only: 'tf.random.set_seed(1234); print(tf.random.uniform([1])) # A1; print(tf.random.uniform([1])) # A2', and set_seed(1234) again gives A1, A2 again",
  withSeedCleared(() => {
    setSeed(1234);
    const [a1, a2] = calls(2, () => uniform1());
    setSeed(1234);
    const [b1, b2] = calls(2, () => uniform1());
    assert.notDeepEqual(a1, a2, "'The reason we get A2 instead A1 ... a different operation seed'");
    assert.deepEqual([b1, b2], [a1, a2]);
    setSeed(4321);
    assert.notDeepEqual(
      calls(2, () => uniform1()),
      [a1, a2],
      "another global seed, another sequence",
    );
  }),
);

Deno.test(
  "tf.random.set_seed rule 2 across ops: under a global seed, uniform, normal and truncated_normal calls give the same mixed sequence after set_seed(1234) again (each call a new op seed from the global seed's counter)",
  withSeedCleared(() => {
    const run = () => [
      take(randomUniform([4])),
      take(randomNormal([4])),
      take(truncatedNormal([4])),
      take(randomUniform([4], { minval: -3, maxval: 3, dtype: "int32" })),
      take(randomNormal([4])),
    ];
    setSeed(1234);
    const a = run();
    setSeed(1234);
    assert.deepEqual(run(), a);
    assert.notDeepEqual(a[1], a[4], "two normal calls: two op seeds, two draws");
  }),
);

Deno.test(
  "tf.random.set_seed rule 3, op seed only: 'print(tf.random.uniform([1], seed=1)) # A1; ... # A2' (a new value at every call, the same sequence per program run), from 'a default global seed and the specified operation seed'",
  withSeedCleared(() => {
    setSeed(null); // set_seed(None): no global seed, counters reset (the start of a program run)
    const [a1, a2, a3] = calls(3, () => uniform1(1));
    assert.notDeepEqual(a1, a2);
    assert.notDeepEqual(a2, a3);
    setSeed(null);
    assert.deepEqual(calls(3, () => uniform1(1)), [a1, a2, a3], "the same sequence per run");
    assert.deepEqual(getSeed(1), [DEFAULT_GRAPH_SEED, 1]);
    setSeed(DEFAULT_GRAPH_SEED); // the default global seed set explicitly: the same pair, the same sequence
    assert.deepEqual(calls(3, () => uniform1(1)), [a1, a2, a3]);
    setSeed(null);
    assert.notDeepEqual(calls(3, () => uniform1(2)), [a1, a2, a3], "another op seed");
  }),
);

Deno.test(
  "tfjs's tf.randomUniform with a seed returns the same values at every call, where TF's tf.random.uniform(seed=1) continues its sequence",
  withSeedCleared(() => {
    const [t1, t2] = calls(2, () => tf.randomUniform([3], 0, 1, "float32", 1));
    assert.deepEqual(t1, t2, "tfjs: the same values");
    const [u1, u2] = calls(2, () => randomUniform([3], { seed: 1 }));
    assert.notDeepEqual(u1, u2, "TF: the kernel's counter moves on");
  }),
);

Deno.test(
  "tf.random.set_seed: 'Calling tf.random.set_seed will reset any such counters: set_seed(1234); uniform([1], seed=1) # A1; # A2; set_seed(1234); # A1; # A2'",
  withSeedCleared(() => {
    setSeed(1234);
    const [a1, a2] = calls(2, () => uniform1(1));
    setSeed(1234);
    const [b1, b2] = calls(2, () => uniform1(1));
    assert.notDeepEqual(a1, a2);
    assert.deepEqual([b1, b2], [a1, a2]);
  }),
);

Deno.test(
  "tf.random.set_seed rule 4, both seeds: the pair determines the sequence (the same pair the same values; another global seed with the same op seed other values)",
  withSeedCleared(() => {
    setSeed(7);
    const a = calls(2, () => uniform1(1));
    setSeed(8);
    const b = calls(2, () => uniform1(1));
    setSeed(7);
    assert.deepEqual(calls(2, () => uniform1(1)), a);
    assert.notDeepEqual(b, a);
    assert.deepEqual(getSeed(1), [7, 1]);
  }),
);

Deno.test(
  "tf.random.set_seed: 'the same tf.random.uniform kernel ... is used for all calls of it with the same arguments' and keeps its own counter: other ops and other seeds called in between do not change uniform(seed=1)'s sequence",
  withSeedCleared(() => {
    setSeed(5);
    const alone = calls(3, () => uniform1(1));
    setSeed(5);
    const mixed: number[][] = [];
    for (let i = 0; i < 3; i++) {
      mixed.push(take(uniform1(1)));
      take(randomNormal([2], { seed: 1 }));
      take(uniform1(2));
      take(uniform1());
    }
    assert.deepEqual(mixed, alone);
  }),
);

Deno.test(
  "tf.random.set_seed: 'tf.function acts like a re-run of a program': 'set_seed(1234); f() and g() each drawing a = uniform([1]), b = uniform([1]): print(f()) # (A1, A2); print(g()) # (A1, A2)'",
  withSeedCleared(() => {
    setSeed(1234);
    const body = () => [v1.randomUniform([1]), v1.randomUniform([1])];
    const [f, g] = [tfFunction(body), tfFunction(body)];
    const [fa, fb] = (f() as tf.Tensor[]).map(take);
    const [ga, gb] = (g() as tf.Tensor[]).map(take);
    assert.notDeepEqual(fa, fb, "(A1, A2)");
    assert.deepEqual([ga, gb], [fa, fb], "g() prints (A1, A2) too");
    f.dispose();
    g.dispose();
  }),
);

Deno.test(
  "tf.random.set_seed: 'foo(): a = uniform([1], seed=1); b = uniform([1], seed=1): print(foo()) # (A1, A1); print(foo()) # (A2, A2)' (the ops in a tf.function no longer share a counter)",
  withSeedCleared(() => {
    setSeed(1234);
    const foo = tfFunction(() => [
      v1.randomUniform([1], 0, 1, "float32", 1),
      v1.randomUniform([1], 0, 1, "float32", 1),
    ]);
    const [a1, b1] = (foo() as tf.Tensor[]).map(take);
    const [a2, b2] = (foo() as tf.Tensor[]).map(take);
    assert.deepEqual(a1, b1, "(A1, A1)");
    assert.deepEqual(a2, b2, "(A2, A2)");
    assert.notDeepEqual(a1, a2);
    foo.dispose();
  }),
);

Deno.test(
  "tf.random.set_seed: 'bar(): a = uniform([1]); b = uniform([1]): print(bar()) # (A1, A2); print(bar()) # (A3, A4)', and under set_seed(1234) a new trace of bar draws the same four values",
  withSeedCleared(() => {
    const bar = () => [v1.randomUniform([1]), v1.randomUniform([1])];
    const run = () => {
      const f = tfFunction(bar);
      const out = [...(f() as tf.Tensor[]).map(take), ...(f() as tf.Tensor[]).map(take)];
      f.dispose();
      return out;
    };
    setSeed(1234);
    const a = run();
    assert.equal(new Set(a.map((v) => v[0])).size, 4, `(A1, A2), (A3, A4) all different: ${a}`);
    setSeed(1234);
    assert.deepEqual(run(), a, "the same sequence per program run");
    setSeed(null);
    assert.notDeepEqual(run(), a, "no global seed: random");
  }),
);

Deno.test(
  "tf.random.set_seed rule 2 in a tf.function: an op in a cond branch gets its own op seed ('a unique random sequence'), not the one of the op before the cond",
  withSeedCleared(() => {
    setSeed(1234);
    const f = tfFunction(() => {
      const a = v1.randomUniform([3]);
      const b = v1.cond(
        v1.constant(true),
        () => v1.randomUniform([3]),
        () => v1.constant([0, 0, 0]),
      );
      return [a, b];
    });
    const [a, b] = (f() as tf.Tensor[]).map(take);
    assert.notDeepEqual(a, b);
    f.dispose();
  }),
);

Deno.test(
  "tf.compat.v1.random.set_random_seed: 'to make the random sequences generated by all ops be repeatable ... set a graph-level seed': a graph of a = uniform([1]), b = normal([1]) built again under set_seed(1234) gives the same sequences of a and b",
  withSeedCleared(() => {
    const run = () => {
      const g = new v1.Graph();
      const [a, b] = g.asDefault(() => [v1.randomUniform([1]), v1.randomNormal([1])]);
      const sess = new v1.Session(g);
      const out = [sess.run(a), sess.run(a), sess.run(b), sess.run(b)] as unknown as number[][];
      sess.close();
      g.dispose();
      return out;
    };
    setSeed(1234);
    const first = run();
    assert.notDeepEqual(first[0], first[1], "A1, A2");
    assert.notDeepEqual(first[2], first[3], "B1, B2");
    assert.deepEqual(run(), first, "the global seed is still 1234: the same sequences");
    setSeed(null);
    assert.notDeepEqual(run(), first, "no seed: new sequences");
  }),
);

Deno.test("tf.random.set_seed: 'close the program and run it again': a second Deno process with set_seed(1234) draws the same A1, A2, the same uniform(seed=1) sequence and the same tf.function draws", async () => {
  const script = new URL("../lib/random.ts", import.meta.url).href;
  const fn = new URL("../lib/function.ts", import.meta.url).href;
  const ops = new URL("../lib/v1/mod.ts", import.meta.url).href;
  const code = `
    import * as tf from "@tensorflow/tfjs";
    import { randomUniform, setSeed } from "${script}";
    import { tfFunction } from "${fn}";
    import * as v1 from "${ops}";
    await tf.setBackend("cpu");
    const v = (t) => Array.from(t.dataSync());
    setSeed(1234);
    const global = [v(randomUniform([2])), v(randomUniform([2]))];
    setSeed(null);
    const op = [v(randomUniform([2], { seed: 1 })), v(randomUniform([2], { seed: 1 }))];
    setSeed(1234);
    const f = tfFunction(() => [v1.randomUniform([2]), v1.randomNormal([2])]);
    const traced = [...f().map(v), ...f().map(v)];
    console.log(JSON.stringify({ global, op, traced }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--ext=js", code],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const other = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  try {
    setSeed(1234);
    const global = calls(2, () => randomUniform([2]));
    setSeed(null);
    const op = calls(2, () => randomUniform([2], { seed: 1 }));
    setSeed(1234);
    const f = tfFunction(() => [v1.randomUniform([2]), v1.randomNormal([2])]);
    const traced = [...(f() as tf.Tensor[]).map(take), ...(f() as tf.Tensor[]).map(take)];
    f.dispose();
    assert.deepEqual({ global, op, traced }, other);
  } finally {
    setSeed(null);
  }
});

Deno.test(
  "tf.random.uniform / normal / truncated_normal under seeds still follow their distributions (20000 samples: [minval, maxval) and int32 values, mean and standard deviation, truncation at 2 stddev)",
  withSeedCleared(() => {
    setSeed(3);
    const n = 20000;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
    const u = take(randomUniform([n], { minval: 2, maxval: 5, seed: 9 }));
    assert.ok(u.every((x) => x >= 2 && x < 5));
    assert.ok(Math.abs(mean(u) - 3.5) < 0.05, `uniform mean ${mean(u)}`);
    const ints = randomUniform([n], { minval: -3, maxval: 3, dtype: "int32" });
    assert.equal(ints.dtype, "int32");
    assert.deepEqual([...new Set(take(ints))].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2]);
    const z = take(randomNormal([n], { mean: 1, stddev: 2, seed: 4 }));
    assert.ok(
      Math.abs(mean(z) - 1) < 0.1 && Math.abs(std(z) - 2) < 0.1,
      `normal ${mean(z)} ${std(z)}`,
    );
    const t = take(truncatedNormal([n], { stddev: 2 }));
    assert.ok(t.every((x) => Math.abs(x) <= 4), "within two standard deviations");
    assert.ok(Math.abs(std(t) - 2 * 0.8796) < 0.1, `truncated std ${std(t)}`);
  }),
);

Deno.test(
  "tf.random ops refuse what TF refuses (a non-integer seed, a bad shape, an int32 draw without maxval, a float64 normal) with RandomArgumentError, without moving the seed's sequence, and leave tf.memory().numTensors flat over repeated calls",
  withSeedCleared(() => {
    setSeed(11);
    const want = calls(2, () => uniform1());
    setSeed(11);
    const before = tf.memory().numTensors;
    const got: number[][] = [take(uniform1())];
    for (let i = 0; i < 3; i++) {
      assert.throws(() => randomUniform([1], { seed: 1.5 }), RandomArgumentError);
      assert.throws(() => randomUniform([2, -1]), RandomArgumentError);
      assert.throws(() => randomUniform([2], { dtype: "int32" }), RandomArgumentError);
      assert.throws(() => randomUniform([2], { minval: 1, maxval: 1 }), RandomArgumentError);
      assert.throws(
        () => randomNormal([2], { dtype: "float64" as "float32" }),
        /dtype must be float32/,
      );
      assert.throws(() => truncatedNormal([2], { stddev: -1 }), RandomArgumentError);
      assert.throws(() => setSeed(0.5), RandomArgumentError);
    }
    got.push(take(uniform1()));
    assert.deepEqual(got, want, "failed calls drew nothing");
    for (let i = 0; i < 5; i++) {
      take(randomUniform([3], { seed: 2 }));
      take(randomUniform([3], { maxval: 9, dtype: "int32", seed: 2 }));
      take(randomNormal([3]));
      take(truncatedNormal([3], { seed: 2 }));
    }
    assert.equal(tf.memory().numTensors, before);
  }),
);

Deno.test(
  "tf.function: the eager randomUniform of lib/random.ts inside a traced function raises RandomOpInTraceError pointing at v1.randomUniform (it would draw only once), leaving no tensors",
  withSeedCleared(() => {
    setSeed(1);
    const f = tfFunction((x: tf.Tensor) => tf.add(x, randomUniform([3])));
    const x = tf.ones([3]);
    const before = tf.memory().numTensors;
    assert.throws(() => f(x), (e: unknown) => {
      assert.ok(e instanceof RandomOpInTraceError);
      assert.match((e as Error).message, /v1\.randomUniform/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
    f.dispose();
  }),
);

Deno.test(
  "tf.compat.v1.random.get_seed: (None, None) with no seeds, (DEFAULT_GRAPH_SEED, op) with an op seed, and under a global seed a new op seed at each call without one, the same ones after set_seed again; seeds are truncated to 32 bits as TF does",
  withSeedCleared(() => {
    assert.deepEqual(getSeed(), [null, null]);
    setSeed(2 ** 31 - 1 + 5);
    assert.equal(getGlobalSeed(), 5);
    const [s1, s2] = [getSeed(), getSeed()];
    assert.equal(s1[0], 5);
    assert.notEqual(s1[1], s2[1]);
    setSeed(5);
    assert.deepEqual([getSeed(), getSeed()], [s1, s2]);
    setSeed(0);
    assert.deepEqual(getSeed(0), [0, 2 ** 31 - 1], "(0, 0) is avoided, as in TF");
  }),
);
