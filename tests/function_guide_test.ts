// tf.function and AutoGraph, behaviour by behaviour, from TensorFlow's guides "Introduction to
// graphs and tf.function" (guide/intro_to_graphs), "Better performance with tf.function"
// (guide/function), AutoGraph's reference (control_flow.md, limitations.md) and the API docs of
// tf.function, tf.TensorSpec and ConcreteFunction. The behaviours other files already test
// (print/tf.print, retracing on Python values, inputSignature, reduce_retracing, ...) are not
// repeated here.
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import {
  runFunctionsEagerly,
  SignatureError,
  TensorSpec,
  tensorSpec,
  tfFunction,
  tfPrint,
  VariableCreationError,
} from "../lib/function.ts";
import {
  AutoGraphError,
  convert,
  OperatorNotAllowedInGraphError,
  range,
  setLoopOptions,
} from "../lib/autograph/mod.ts";
import { GradientTape } from "../lib/tape.ts";
import { assignAdd } from "../lib/variables.ts";
import { TensorArray } from "../lib/tensor_array.ts";
import * as v1 from "../lib/v1/mod.ts";
import { captureLog, opTypesOf as opTypes, throwsWith, value } from "./_graph_ops.ts";

await initBackend();

// ---------------------------------------------------------------- intro_to_graphs

Deno.test('intro_to_graphs: "Only needed operations are run during graph execution" (an unused tf.gather out of range raises eagerly, not in the graph)', () => {
  const unusedReturn = (x: tf.Tensor): tf.Tensor => {
    tf.gather(x, [1]); // index 1 of a 1-element tensor: fails when it runs
    return x;
  };
  const x = tf.tensor([0]);
  assert.throws(() => tf.tidy(() => unusedReturn(x)), /index value 1/);
  const graph = tfFunction(unusedReturn);
  graph(x).dispose(); // traced: the graph keeps its constant (the index)
  const before = tf.memory().numTensors;
  const y = graph(x);
  assert.deepEqual(value(y), [0]);
  assert.ok(opTypes(graph).includes("GatherV2"), "the op is in the graph, only not run");
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  graph.dispose();
  x.dispose();
});

Deno.test("intro_to_graphs: \"tf.function applies to a function and all other functions it calls\" (inner_function's matmul and add are in outer_function's graph)", () => {
  const innerFunction = (x: tf.Tensor, y: tf.Tensor, b: tf.Tensor) => tf.add(tf.matMul(x, y), b);
  const outerFunction = tfFunction((x: tf.Tensor) => {
    const y = tf.tensor([[2], [3]]);
    const b = tf.tensor(4);
    return innerFunction(x, y, b);
  });
  const x = tf.tensor([[1, 2]]);
  const r = outerFunction(x);
  assert.deepEqual(r.arraySync(), [[12]]); // 1·2 + 2·3 + 4
  const types = opTypes(outerFunction);
  assert.ok(types.includes("MatMul") && types.includes("AddV2"), types.join());
  tf.dispose([x, r]);
  outerFunction.dispose();
});

Deno.test('intro_to_graphs: get_MSE traced equals get_MSE with run_functions_eagerly(True); "get_MSE only printed once even though it was called three times", and three times eagerly', () => {
  const getMSE = tfFunction((yTrue: tf.Tensor, yPred: tf.Tensor) => {
    console.log("Calculating MSE!");
    const sqDiff = tf.pow(tf.sub(yTrue, yPred), 2);
    return tf.mean(sqDiff); // tfjs's mean of int32 is a float32 mean (TF's would be int32)
  });
  const yTrue = tf.tensor([1, 2, 3, 4, 5], undefined, "int32");
  const yPred = tf.tensor([3, 2, 1, 9, 5], undefined, "int32");
  const graph = captureLog(() => [0, 1, 2].map(() => getMSE(yTrue, yPred)));
  runFunctionsEagerly(true);
  let eager;
  try {
    eager = captureLog(() => [0, 1, 2].map(() => getMSE(yTrue, yPred)));
  } finally {
    runFunctionsEagerly(false);
  }
  assert.equal(graph.lines.length, 1);
  assert.equal(eager.lines.length, 3);
  assert.deepEqual(graph.result.map((r) => value(r)[0]), eager.result.map((r) => value(r)[0]));
  assert.ok(Math.abs(value(graph.result[0])[0] - 33 / 5) < 1e-5);
  assert.equal(getMSE.traceCount, 1);
  tf.dispose([yTrue, yPred, ...graph.result, ...eager.result]);
  getMSE.dispose();
});

Deno.test('intro_to_graphs: "Polymorphism: one Function, many graphs": my_relu traces for a scalar, a list [1, -1] and a vector; the same signatures again trace nothing', () => {
  const myRelu = tfFunction((x: tf.Tensor | number[]) => tf.maximum(0, x));
  const first = [myRelu(tf.scalar(5.5)), myRelu([1, -1]), myRelu(tf.tensor([3, -3]))];
  assert.equal(myRelu.traceCount, 3);
  const again = [myRelu(tf.scalar(-2.5)), myRelu(tf.tensor([-1, 1]))];
  assert.equal(myRelu.traceCount, 3);
  assert.deepEqual([...first, ...again].map(value), [[5.5], [1, 0], [3, 0], [0], [0, 1]]);
  assert.equal(myRelu.prettyPrintedConcreteSignatures().split("\n\n").length, 3);
  tf.dispose([...first, ...again]);
  myRelu.dispose();
});

// ---------------------------------------------------------------- tf.function API doc

Deno.test("tf.function API doc: data-dependent if/else with return in both branches (f(-2) = -x // 2 = 1, f(3) = x * x = 9), one trace", () => {
  const f = tfFunction(function f(x: any) {
    if ((tf.sum(x) as any) > 0) {
      return x * x;
    } else {
      return tf.floorDiv(-x, tf.scalar(2, "int32")); // tfjs would make a number 2 float32
    }
  }, { scope: { tf } });
  const [a, b] = [tf.scalar(-2, "int32"), tf.scalar(3, "int32")];
  const [ra, rb] = [f(a), f(b)];
  assert.deepEqual([value(ra)[0], value(rb)[0]], [1, 9]);
  assert.equal(f.traceCount, 1);
  assert.ok(opTypes(f).includes("StatelessIf"));
  tf.dispose([a, b, ra, rb]);
  f.dispose();
});

// ---------------------------------------------------------------- guide/function: Variables

Deno.test('guide/function: "tf.function only supports singleton tf.Variables created on the first call": a function that creates a Variable at every call raises on its first call', () => {
  const f = tfFunction((x: tf.Tensor) => {
    const v = tf.variable(tf.scalar(1));
    return v.mul(x);
  });
  const x = tf.scalar(1);
  const vars = Object.keys(tf.engine().registeredVariables).length;
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    throwsWith(
      () => f(x),
      VariableCreationError,
      /singleton tf\.Variables created on the first call/,
    );
  }
  assert.equal(Object.keys(tf.engine().registeredVariables).length, vars, "no Variable kept");
  assert.equal(tf.memory().numTensors, before, "no tensor kept");
  x.dispose();
});

Deno.test('guide/function: the Count module ("if self.count is None: self.count = tf.Variable(0)") creates its Variable once; the first call traces twice, as TF (tracing count 2)', () => {
  const counter = { count: null as tf.Variable | null };
  let traces = 0;
  const call = tfFunction(() => {
    traces++;
    if (counter.count === null) counter.count = tf.variable(tf.scalar(0, "int32"));
    assignAdd(counter.count, 1);
    return counter.count.add(0);
  });
  const seen = [1, 2, 3].map(() => {
    const r = call();
    const n = value(r)[0];
    r.dispose();
    return n;
  });
  assert.deepEqual(seen, [1, 2, 3]);
  // TF: the first trace creates the Variable; the function is traced again without creating
  // one, and that graph is the one called (experimental_get_tracing_count() is 2).
  assert.equal(call.traceCount, 2);
  assert.equal(traces, 2);
  assert.equal(call.concreteFunctions.length, 1, "the initialising trace is not kept");
  assert.ok(opTypes(call).includes("AssignAddVariableOp"));
  call.dispose();
  counter.count!.dispose();
});

Deno.test('guide/function: "Using with multiple Keras optimizers": a train_step called with a second Adam optimizer raises (its slot Variables would be created on a non-first call)', () => {
  const w = tf.variable(tf.scalar(2));
  const x = tf.scalar(1), y = tf.scalar(2);
  const trainStep = tfFunction((optimizer: tf.Optimizer) => {
    const tape = new GradientTape();
    const loss = tape.record(() => tf.sum(tf.square(tf.sub(tf.mul(w, x), y))));
    const [g] = tape.gradient(loss, [w]);
    optimizer.applyGradients({ [w.name]: g! });
  });
  const [opt1, opt2] = [tf.train.adam(1e-2), tf.train.adam(1e-3)];
  trainStep(opt1);
  trainStep(opt1);
  throwsWith(() => trainStep(opt2), VariableCreationError, /created on the first call/);
  trainStep.dispose();
  opt1.dispose();
  opt2.dispose();
  tf.dispose([w, x, y]);
});

// ---------------------------------------------------------------- guide/function: limitations

Deno.test('guide/function: "Recursive tf.functions are not supported": a tensor-dependent recursion raises a GraphError (TF: a recursion error), a recursion on JavaScript values traces per value', () => {
  const recursive: any = tfFunction(function recursiveFn(n: any): any {
    if (n > 0) {
      return recursive(n - 1);
    } else {
      return tf.scalar(1);
    }
  }, {
    scope: {
      tf,
      get recursive() {
        return recursive;
      },
    },
  });
  const n = tf.scalar(5);
  throwsWith(() => recursive(n), v1.GraphError, /recursive tf\.function calls are not supported/);
  const r = recursive(3); // n is a JavaScript number: four traces, 3, 2, 1, 0
  assert.deepEqual(value(r), [1]);
  assert.equal(recursive.traceCount, 4 + 1); // + the failed trace of the tensor call
  tf.dispose([n, r]);
  recursive.dispose();
});

Deno.test('guide/function: "All outputs of a tf.function must be return values": a leaked tensor used after the call raises InaccessibleTensorError ("is out of scope and cannot be used here")', () => {
  let leaked: any;
  const leakyFunction = tfFunction((a: tf.Tensor) => {
    leaked = a.add(1); // bad: leaks a graph tensor
    return a.add(2);
  });
  const a = tf.scalar(1);
  const r = leakyFunction(a);
  assert.deepEqual(value(r), [3]);
  const before = tf.memory().numTensors;
  throwsWith(() => tf.tidy(() => tf.add(leaked, 1)), v1.InaccessibleTensorError, /out of scope/);
  throwsWith(() => tf.tidy(() => leaked.mul(2)), v1.InaccessibleTensorError, /out of scope/);
  throwsWith(() => leaked.dataSync(), OperatorNotAllowedInGraphError, /no value/);
  // Captured by another tf.function: TF raises there too.
  const capturesLeakedTensor = tfFunction((b: tf.Tensor) => tf.add(b, leaked));
  throwsWith(() => capturesLeakedTensor(a), v1.InaccessibleTensorError, /out of scope/);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, r]);
  leakyFunction.dispose();
});

Deno.test("guide/function: Python globals and free variables are read when tracing (buggy_add keeps foo = 1 after foo = 100); a new trace sees the new value", () => {
  let foo = 1;
  const buggyAdd = tfFunction((x: tf.Tensor) => tf.add(x, foo));
  const x = tf.scalar(1), y = tf.tensor([1]);
  const first = buggyAdd(x);
  foo = 100;
  const stale = buggyAdd(x); // same signature: the traced graph holds foo = 1
  const fresh = buggyAdd(y); // a new shape: traced again, reading foo = 100
  assert.deepEqual([value(first)[0], value(stale)[0], value(fresh)[0]], [2, 2, 101]);
  tf.dispose([x, y, first, stale, fresh]);
  buggyAdd.dispose();
});

Deno.test('guide/function: "Depending on Python objects": changing an attribute of an object argument does not retrace (objects key the cache by identity), so the result is stale', () => {
  class SimpleModel {
    constructor(public bias: number, public weight: number) {}
  }
  const evaluate = tfFunction((model: SimpleModel, x: tf.Tensor) =>
    x.mul(model.weight).add(model.bias)
  );
  const model = new SimpleModel(0, 2);
  const x = tf.scalar(5);
  const a = evaluate(model, x);
  model.weight = 3; // mutated: no retrace
  const b = evaluate(model, x);
  const c = evaluate(new SimpleModel(0, 3), x); // a new object: a new trace
  assert.deepEqual([value(a)[0], value(b)[0], value(c)[0]], [10, 10, 15]);
  assert.equal(evaluate.traceCount, 2);
  tf.dispose([x, a, b, c]);
  evaluate.dispose();
});

Deno.test("guide/function: with an inputSignature of unknown size, x.shape is null when tracing; the run-time shape (tf.shape) has the value", () => {
  let staticShape: (number | null)[] = [];
  const f = tfFunction((x: tf.Tensor) => {
    staticShape = [...x.shape];
    return v1.shapeOf(x as unknown as v1.SymbolicTensor);
  }, { inputSignature: [tensorSpec([null])] });
  const x = tf.tensor([1, 2, 3]);
  const s = f(x) as unknown as tf.Tensor;
  assert.deepEqual(staticShape, [null]);
  assert.deepEqual(value(s), [3]);
  tf.dispose([x, s]);
  f.dispose();
});

// ---------------------------------------------------------------- concrete functions

Deno.test('guide/function: "Python arguments are given special treatment in a concrete function": pow(a, b=2) fixes b; calling it with b=3 raises, b=2 works', () => {
  const pow = tfFunction((a: tf.Tensor, b: number) => a.pow(b));
  const square = pow.getConcreteFunction(tf.scalar(2), 2);
  const x = tf.scalar(10);
  const r = square.call(x, 2) as tf.Tensor;
  assert.deepEqual(value(r), [100]);
  throwsWith(() => square.call(x, 3), SignatureError, /concrete function/);
  tf.dispose([x, r]);
  pow.dispose();
});

Deno.test("tf.TensorSpec API: is_compatible_with (unknown dims and ranks agree with anything), is_subtype_of (one way), most_specific_common_supertype", () => {
  const any1 = new TensorSpec([null]), three = new TensorSpec([3]), anyRank = new TensorSpec(null);
  assert.ok(any1.isCompatibleWith(tf.zeros([3])));
  assert.ok(!any1.isCompatibleWith(tf.zeros([3, 1])), "rank 2 is not rank 1");
  assert.ok(!three.isCompatibleWith(new TensorSpec([3], "int32")), "dtypes differ");
  assert.ok(any1.isCompatibleWith(three) && three.isCompatibleWith(any1), "symmetric");
  assert.ok(any1.isCompatibleWith(anyRank) && anyRank.isCompatibleWith(three));
  assert.ok(three.isSubtypeOf(any1) && !any1.isSubtypeOf(three));
  assert.ok(any1.isSubtypeOf(anyRank) && !anyRank.isSubtypeOf(any1));
  assert.deepEqual(three.mostSpecificCommonSupertype([new TensorSpec([4])])?.shape, [null]);
  assert.deepEqual(
    new TensorSpec([2, 3]).mostSpecificCommonSupertype([new TensorSpec([2, 5])])?.shape,
    [2, null],
  );
  assert.equal(three.mostSpecificCommonSupertype([new TensorSpec([3, 1])])?.shape, null);
  assert.equal(three.mostSpecificCommonSupertype([new TensorSpec([3], "int32")]), null);
  // from_spec keeps shape and dtype under a new name; from_tensor describes a tensor.
  const named = TensorSpec.fromSpec(new TensorSpec([8, 3], "int32", "OriginalName"), "NewName");
  assert.deepEqual([named.shape, named.dtype, named.name], [[8, 3], "int32", "NewName"]);
  const t = tf.tensor([1, 2, 3], undefined, "int32");
  assert.equal(String(TensorSpec.fromTensor(t)), "TensorSpec(shape=(3,), dtype=int32)");
  t.dispose();
  // A concrete function for TensorSpec([null]) accepts shape (3,): dispatch is by subtype.
  const f = tfFunction((x: tf.Tensor) => x.add(1));
  const cf = f.getConcreteFunction(any1);
  const r = f(tf.tensor([1, 2, 3]));
  assert.equal(f.traceCount, 1);
  assert.equal(cf.inputSpecs[0].toString(), "TensorSpec(shape=(?,), dtype=float32)");
  r.dispose();
  f.dispose();
});

// ---------------------------------------------------------------- AutoGraph

Deno.test('AutoGraph limitations: "Python collections in TensorFlow control flow": appending to a JavaScript array in a tensor loop raises InaccessibleTensorError (use a tensor loop variable)', () => {
  const f = tfFunction((n: any) => {
    const out: any[] = [];
    for (const i of range(n)) out.push(i);
    return tf.stack(out);
  }, { scope: { tf, range } });
  const n = tf.scalar(3, "int32");
  const before = tf.memory().numTensors;
  throwsWith(() => f(n), v1.InaccessibleTensorError, /out of scope[\s\S]*tensor loop/);
  assert.equal(tf.memory().numTensors, before);
  n.dispose();
  f.dispose();
});

Deno.test('AutoGraph control_flow: "a Python value modified in a tensor-dependent if becomes a tensor" (y = 0, then 1 or 2 in the branches)', () => {
  const f = tfFunction((x: any) => {
    let y = 0;
    if (x > 0) {
      y = 1;
    } else {
      y = 2;
    }
    return y;
  });
  const [a, b] = [tf.scalar(5), tf.scalar(-5)];
  const [ra, rb] = [f(a), f(b)] as unknown as tf.Tensor[];
  assert.ok(ra instanceof tf.Tensor && rb instanceof tf.Tensor, "tensors, not numbers");
  assert.deepEqual([value(ra)[0], value(rb)[0]], [1, 2]);
  assert.equal(f.traceCount, 1);
  tf.dispose([a, b, ra, rb]);
  f.dispose();
});

Deno.test("guide/function: a loop over JavaScript data unrolls (the graph grows with its length); a loop over a tensor is one While op whatever the trip count", () => {
  const size = (f: { concreteFunctions: { graph: v1.Graph }[] }, i: number) =>
    f.concreteFunctions[i].graph.operations.length;
  const f = tfFunction((x: any, n: any) => {
    for (const _ of range(n)) x = x + 1;
    return x;
  }, { scope: { range } });
  const x = tf.scalar(0);
  const [n3, n10] = [tf.scalar(3, "int32"), tf.scalar(10, "int32")];
  const rs = [f(x, 3), f(x, 10), f(x, n3), f(x, n10)] as tf.Tensor[];
  assert.deepEqual(rs.map((r) => value(r)[0]), [3, 10, 3, 10]);
  assert.equal(f.traceCount, 3, "one per number, one for every tensor");
  assert.ok(size(f, 1) > size(f, 0), "unrolled: 10 copies of the body");
  assert.ok(
    !opTypes(f, 0).some((t) => t.endsWith("While")) && opTypes(f, 2).includes("StatelessWhile"),
  );
  tf.dispose([x, n3, n10, ...rs]);
  f.dispose();
});

Deno.test("AutoGraph: functions called by the converted function are not converted (TF converts them recursively): a tensor if inside one raises OperatorNotAllowedInGraphError; converting it too works", () => {
  const inner = (x: any) => {
    if (x > 0) return x;
    return -x;
  };
  const outer = tfFunction((x: any) => inner(x), { scope: { inner } });
  const x = tf.scalar(-2);
  throwsWith(() => outer(x), OperatorNotAllowedInGraphError, /AutoGraph/);
  const converted = convert(inner);
  const fixed = tfFunction((x: any) => converted(x), { scope: { converted } });
  const r = fixed(x) as unknown as tf.Tensor;
  assert.deepEqual(value(r), [2]);
  tf.dispose([x, r]);
  fixed.dispose();
});

Deno.test('AutoGraph limitations: "Python collections of fixed structure are allowed": static_object.field, static_dict["field"] and static_list[0] modified in a tensor loop, c.y in a tensor if, are tracked (composite names)', () => {
  const field = tfFunction((x: any) => {
    const staticObject = { field: x };
    while (staticObject.field > 0) staticObject.field -= 1;
    return staticObject.field;
  });
  const dict = tfFunction((x: any) => {
    const staticDict: Record<string, any> = { "field": x };
    while (staticDict["field"] > 0) staticDict["field"] -= 2;
    return staticDict["field"];
  });
  const list = tfFunction((x: any) => {
    const staticList = [x];
    while (staticList[0] > 0) staticList[0] -= 3;
    return staticList[0];
  });
  const c = { y: 0 as any };
  const branch = tfFunction((x: any) => {
    if (x > 0) {
      c.y = x;
    } else {
      c.y = -x;
    }
    return c.y;
  }, { scope: { c } });
  const [three, minusTwo] = [tf.scalar(3), tf.scalar(-2)];
  const out = [field(three), dict(three), list(three), branch(three), branch(minusTwo)];
  assert.deepEqual(out.map((t) => value(t)[0]), [0, -1, 0, 3, 2]);
  for (const f of [field, dict, list]) assert.ok(opTypes(f).includes("StatelessWhile"));
  assert.equal(branch.traceCount, 1);
  assert.ok(opTypes(branch).includes("StatelessIf"));
  tf.dispose([three, minusTwo, ...out]);
  [field, dict, list, branch].forEach((f) => f.dispose());
});

Deno.test('AutoGraph limitations: "Python collections of fixed structure with dynamic index" (d[key] += i in a tensor loop) raise InaccessibleTensorError ("illegal capture" in TF), leaking nothing', () => {
  const f = tfFunction((n: any) => {
    const d: Record<string, any> = { a: tf.scalar(3, "int32") };
    for (const i of range(n)) {
      for (const key of Object.keys(d)) d[key] = d[key] + i;
    }
    return d.a;
  }, { scope: { tf, range } });
  const n = tf.scalar(3, "int32");
  const before = tf.memory().numTensors;
  throwsWith(() => f(n), v1.InaccessibleTensorError, /while_loop body/);
  assert.equal(tf.memory().numTensors, before);
  n.dispose();
});

Deno.test("AutoGraph: a tensor-dependent if whose branches give different shapes is a cond with the most specific compatible shape ((1,) and (2,) give (?,); ranks 1 and 2 an unknown rank)", () => {
  const sizes = tfFunction((x: any) => {
    let y;
    if (x > 0) {
      y = tf.zeros([1]);
    } else {
      y = tf.zeros([2]);
    }
    return y;
  }, { scope: { tf } });
  const ranks = tfFunction((x: any) => {
    let y;
    if (x > 0) {
      y = tf.zeros([1]);
    } else {
      y = tf.zeros([2, 2]);
    }
    return y;
  }, { scope: { tf } });
  const [pos, neg] = [tf.scalar(1), tf.scalar(-1)];
  const out = [sizes(pos), sizes(neg), ranks(pos), ranks(neg)] as tf.Tensor[];
  assert.deepEqual(out.map((t) => t.shape), [[1], [2], [1], [2, 2]]);
  const ifOut = (f: typeof sizes) =>
    f.concreteFunctions[0].graph.operations.find((op) => op.type === "StatelessIf")!.outputs[0];
  assert.deepEqual(ifOut(sizes).shape, [null]);
  assert.equal(ifOut(ranks).unknownRank, true);
  tf.dispose([pos, neg, ...out]);
  sizes.dispose();
  ranks.dispose();
});

// ---------------------------------------------------------------- guide/function: more

Deno.test('guide/function: "print" runs when tracing, "tf.print(\'Executed with\', x)" at every call, also for a Python value (f(1), f(1), f(2))', () => {
  const f = tfFunction((x: number) => {
    console.log("Traced with", x);
    tfPrint("Executed with", x);
  });
  const { lines } = captureLog(() => [f(1), f(1), f(2)]);
  assert.deepEqual(lines, [
    "Traced with 1",
    "Executed with 1",
    "Executed with 1",
    "Traced with 2",
    "Executed with 2",
  ]);
  assert.ok(opTypes(f).includes("PrintV2"));
  // Eagerly, TF's form prints at once: strings, tensors and numbers joined by spaces.
  const t = tf.tensor([1, 2]);
  assert.deepEqual(captureLog(() => tfPrint("eager", t, 3)).lines, ["eager [1, 2] 3"]);
  t.dispose();
  f.dispose();
});

Deno.test("guide/function: fizzbuzz over tf.range(1, n + 1): every branch is traced once, and tf.print runs in the branch taken at every iteration", () => {
  const traced: string[] = [];
  const fizzbuzz = tfFunction((n: any) => {
    for (const i of range(1, n + 1)) {
      traced.push("loop");
      if (i % 15 === 0) {
        traced.push("fizzbuzz");
        tfPrint("fizzbuzz");
      } else if (i % 3 === 0) {
        traced.push("fizz");
        tfPrint("fizz");
      } else if (i % 5 === 0) {
        traced.push("buzz");
        tfPrint("buzz");
      } else {
        traced.push("default");
        tfPrint(i as any); // a tensor: range has a tensor bound
      }
    }
  }, { scope: { range, tfPrint, traced } });
  const [five, sixteen] = [tf.scalar(5, "int32"), tf.scalar(16, "int32")];
  const a = captureLog(() => fizzbuzz(five)).lines;
  const b = captureLog(() => fizzbuzz(sixteen)).lines;
  assert.deepEqual(a, ["1", "2", "fizz", "4", "buzz"]);
  assert.deepEqual(b.slice(10), ["11", "fizz", "13", "14", "fizzbuzz", "16"]);
  assert.deepEqual(traced, ["loop", "fizzbuzz", "fizz", "buzz", "default"]);
  assert.equal(fizzbuzz.traceCount, 1);
  tf.dispose([five, sixteen]);
  fizzbuzz.dispose();
});

Deno.test('guide/function: "Changing Python global and free variables ... only happens during tracing" (external_list.append(x) ran once in three calls)', () => {
  const externalList: unknown[] = [];
  const sideEffect = tfFunction((x: number) => {
    externalList.push(x);
  });
  sideEffect(1);
  sideEffect(1);
  sideEffect(1);
  assert.equal(externalList.length, 1);
});

Deno.test('guide/function: a Python counter guarding assign_add is read when tracing, so "v will increase by 1, every time the tf.function is called" (1, 2, 3)', () => {
  const model = { v: tf.variable(tf.scalar(0, "int32")), counter: 0 };
  const call = tfFunction(() => {
    if (model.counter === 0) {
      model.counter += 1; // a JavaScript side effect
      assignAdd(model.v, 1);
    }
    return model.v.add(0);
  });
  const seen = [0, 1, 2].map(() => {
    const r = call();
    const n = value(r)[0];
    r.dispose();
    return n;
  });
  assert.deepEqual(seen, [1, 2, 3]);
  call.dispose();
  model.v.dispose();
});

Deno.test('guide/function: "Using Python iterators and generators": next(iterator) runs when tracing, so buggy_consume_next prints the first value every time', () => {
  const buggyConsumeNext = tfFunction((iterator: Iterator<number>) => {
    tfPrint("Value:", iterator.next().value);
  });
  const iterator = [1, 2, 3][Symbol.iterator]();
  const { lines } = captureLog(() => [0, 1, 2].map(() => buggyConsumeNext(iterator)));
  assert.deepEqual(lines, ["Value: 1", "Value: 1", "Value: 1"]);
  buggyConsumeNext.dispose();
});

Deno.test('guide/function: "Separate Function objects are guaranteed not to share traces"', () => {
  let traces = 0;
  const f = () => {
    traces++;
    return tf.scalar(1);
  };
  const [a, b] = [tfFunction(f), tfFunction(f)];
  tf.dispose([a(), b(), a(), b()]);
  assert.equal(traces, 2);
  assert.deepEqual([a.traceCount, b.traceCount], [1, 1]);
  a.dispose();
  b.dispose();
});

Deno.test('guide/function "Rules of tracing": "If multiple matches are found, the most specific signature is chosen" ((1, None) before (None, None)); dicts match whatever their key order, lists do not', () => {
  const f = tfFunction((x: tf.Tensor) => ({ y: x.add(0), spec: String(TensorSpec.fromTensor(x)) }));
  // (1, None) first: asked for later, (None, None) would serve it (dispatch is by subtype).
  f.getConcreteFunction(new TensorSpec([1, null]));
  f.getConcreteFunction(new TensorSpec([null, null]));
  const x = tf.zeros([1, 2]), z = tf.zeros([3, 2]);
  const [rx, rz] = [f(x), f(z)] as unknown as { y: tf.Tensor; spec: string }[];
  assert.equal(rx.spec, "TensorSpec(shape=(1, ?), dtype=float32)");
  assert.equal(rz.spec, "TensorSpec(shape=(?, ?), dtype=float32)");
  assert.equal(f.traceCount, 2);
  const g = tfFunction((d: unknown) => tf.scalar(JSON.stringify(d).length));
  tf.dispose([g({ a: 1, b: 2 }), g({ b: 2, a: 1 }), g([1, 2]), g([2, 1])]);
  assert.equal(g.traceCount, 3); // {a, b} once; [1, 2] and [2, 1] apart
  tf.dispose([x, z, rx.y, rz.y]);
  f.dispose();
  g.dispose();
});

Deno.test("guide/function: Variables as object attributes are read at every call (BetterModel: bias.assign_add(5) changes the result without a retrace)", () => {
  const betterModel = { bias: tf.variable(tf.scalar(0)), weight: tf.variable(tf.scalar(2)) };
  const evaluate = tfFunction((model: typeof betterModel, x: tf.Tensor) =>
    tf.add(tf.mul(model.weight, x), model.bias)
  );
  const x = tf.scalar(10);
  const a = evaluate(betterModel, x);
  assignAdd(betterModel.bias, 5);
  const b = evaluate(betterModel, x);
  assert.deepEqual([value(a)[0], value(b)[0]], [20, 25]);
  assert.equal(evaluate.traceCount, 1);
  tf.dispose([x, a, b, betterModel.bias, betterModel.weight]);
  evaluate.dispose();
});

Deno.test('guide/function: a concrete function takes its tensors only: square = pow.get_concrete_function(TensorSpec(None), b=2); "assert square(tf.constant(10.0)) == 100"; evaluate_no_bias(x) without the model', () => {
  const pow = tfFunction((a: tf.Tensor, b: number) => a.pow(b));
  const square = pow.getConcreteFunction(new TensorSpec(null), 2);
  const x = tf.scalar(10);
  const r = square.call(x) as tf.Tensor;
  assert.deepEqual(value(r), [100]);
  throwsWith(() => square.call(x, 3), SignatureError, /concrete function/);
  throwsWith(() => square.call(), SignatureError, /concrete function/);
  const evaluate = (model: { weight: number; bias: number }, x: tf.Tensor) =>
    x.mul(model.weight).add(model.bias);
  const newModel = { weight: 2, bias: 0 };
  const evaluateNoBias = tfFunction(evaluate).getConcreteFunction(newModel, x);
  newModel.bias += 5;
  const evaluateWithBias = tfFunction(evaluate).getConcreteFunction(newModel, x);
  const [a, b] = [evaluateNoBias.call(x), evaluateWithBias.call(x)] as tf.Tensor[];
  assert.deepEqual([value(a)[0], value(b)[0]], [20, 25]);
  tf.dispose([x, r, a, b]);
  pow.dispose();
});

Deno.test('guide/function "Using with multiple Keras optimizers": a new Function and ConcreteFunction per optimizer, called as train_step_1(w, x, y), trains (the workaround)', () => {
  const trainStep = (w: tf.Variable, x: tf.Tensor, y: tf.Tensor, optimizer: tf.Optimizer) => {
    const tape = new GradientTape();
    const loss = tape.record(() => tf.sum(tf.square(tf.sub(tf.mul(w, x), y))));
    const [g] = tape.gradient(loss, [w]);
    optimizer.applyGradients({ [w.name]: g! });
  };
  const w = tf.variable(tf.scalar(2));
  const x = tf.tensor([-1]), y = tf.tensor([2]);
  const [opt1, opt2] = [tf.train.adam(1e-2), tf.train.adam(1e-3)];
  const f1 = tfFunction(trainStep), f2 = tfFunction(trainStep);
  const trainStep1 = f1.getConcreteFunction(w, x, y, opt1);
  const trainStep2 = f2.getConcreteFunction(w, x, y, opt2);
  const start = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) (i % 2 === 0 ? trainStep1 : trainStep2).call(w, x, y);
  // Adam's first steps move w by about the learning rate each, toward -2 (w·x = y).
  const moved = 2 - value(w)[0];
  assert.ok(Math.abs(moved - (5 * 1e-2 + 5 * 1e-3)) < 2e-3, `w moved by ${moved}`);
  assert.equal(tf.memory().numTensors, start);
  f1.dispose();
  f2.dispose();
  [opt1, opt2].forEach((o) => o.dispose());
  tf.dispose([w, x, y]);
});

Deno.test("guide/function: a ConcreteFunction prints its inputs and output type; structured_input_signature, structured_outputs and pretty_printed_concrete_signatures()", () => {
  const double = tfFunction(function double(a: tf.Tensor) {
    return a.add(a);
  });
  const x = tf.scalar(1, "int32");
  double(x).dispose();
  const cf = double.getConcreteFunction(new TensorSpec([], "float32"));
  // The guide: ((TensorSpec(shape=(), dtype=tf.string, name='a'),), {}): named after the parameter.
  assert.deepEqual(cf.structuredInputSignature.map(String), [
    "TensorSpec(shape=(), dtype=float32, name='a')",
  ]);
  const out = cf.structuredOutputs as v1.SymbolicTensor;
  assert.ok(out instanceof v1.SymbolicTensor && out.dtype === "float32");
  const text = String(cf);
  assert.match(text, /^ConcreteFunction double\(a\)/);
  assert.match(text, /a: TensorSpec\(shape=\(\), dtype=float32\)/);
  assert.match(text, /Output Type:\s+TensorSpec\(shape=\(\), dtype=float32\)/);
  const all = double.prettyPrintedConcreteSignatures();
  assert.equal(all.split("\n\n").length, 2);
  assert.match(all, /dtype=int32[\s\S]*dtype=float32/);
  const pow = tfFunction((a: tf.Tensor, b: number) => a.pow(b));
  assert.match(String(pow.getConcreteFunction(new TensorSpec(null), 2)), /b: Literal\[2\]/);
  x.dispose();
  double.dispose();
  pow.dispose();
});

// ---------------------------------------------------------------- AutoGraph control_flow.md

Deno.test('AutoGraph control_flow: "All Python code paths are executed during tracing": a tensor if traces both branches ("true branch", "false branch"); a JavaScript if runs one', () => {
  const f = tfFunction((c: any) => {
    console.log("before if");
    if (c) {
      console.log("true branch");
    } else {
      console.log("false branch");
    }
    console.log("after if");
  });
  const t = tf.scalar(true, "bool");
  assert.deepEqual(captureLog(() => f(t)).lines, [
    "before if",
    "true branch",
    "false branch",
    "after if",
  ]);
  assert.deepEqual(captureLog(() => f(true)).lines, ["before if", "true branch", "after if"]);
  t.dispose();
  f.dispose();
});

Deno.test('AutoGraph control_flow: "for statements that iterate over a tf.Tensor ... iterate over the first dimension" (iteration: [1, 2], iteration: [3, 4]) in one While op', () => {
  const f = tfFunction((x: any) => {
    for (const i of x) tfPrint("iteration:", i);
  }, { scope: { tfPrint } });
  const x = tf.tensor([[1, 2], [3, 4]]);
  assert.deepEqual(captureLog(() => f(x)).lines, ["iteration: [1, 2]", "iteration: [3, 4]"]);
  assert.ok(opTypes(f).includes("While"));
  x.dispose();
  f.dispose();
});

Deno.test('AutoGraph control_flow: a loop over a list of tensors "is unrolled - three tf.prints are built in the graph"; over tf.stack(l) it "runs as a TensorFlow loop"', () => {
  const unrolled = tfFunction((l: any[]) => {
    for (const i of l) tfPrint("item", i);
  }, { scope: { tfPrint } });
  const stacked = tfFunction((l: any[]) => {
    for (const i of tf.stack(l) as any) tfPrint("item", i);
  }, { scope: { tfPrint, tf } });
  const l = [tf.scalar(1), tf.scalar(2), tf.scalar(3)];
  const expected = ["item 1", "item 2", "item 3"];
  assert.deepEqual(captureLog(() => unrolled(l)).lines, expected);
  assert.deepEqual(captureLog(() => stacked(l)).lines, expected);
  const count = (f: typeof unrolled, type: string) => opTypes(f).filter((t) => t === type).length;
  assert.deepEqual([count(unrolled, "PrintV2"), count(unrolled, "While")], [3, 0]);
  assert.deepEqual([count(stacked, "PrintV2"), count(stacked, "While")], [0, 1]);
  tf.dispose(l);
  unrolled.dispose();
  stacked.dispose();
});

Deno.test('AutoGraph control_flow: "Mixing Tensor-dependent break and Python-dependent loops is disallowed" (while True with a tensor break), and a loop whose condition turns into a tensor raises', () => {
  const buggyWhilePyTrueTfBreak = tfFunction((x: any) => {
    while (true) {
      if (x === 0) break;
      x -= 1;
    }
    return x;
  });
  const changes = tfFunction((x: any) => {
    let i: any = 0;
    while (i < 10) i = tf.add(x, 1);
    return i;
  }, { scope: { tf } });
  const x = tf.scalar(5);
  const before = tf.memory().numTensors;
  throwsWith(() => buggyWhilePyTrueTfBreak(x), v1.GraphError, /changed to a tensor/);
  throwsWith(() => changes(x), v1.GraphError, /changed to a tensor/);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

Deno.test('AutoGraph limitations "Access to source code": a bound or built-in function (no source) is run as-is with "AutoGraph could not transform ... and will run it as-is", and traces', () => {
  const model = {
    k: 2,
    scale(x: tf.Tensor) {
      return x.mul(this.k);
    },
  };
  const f = tfFunction(model.scale.bind(model));
  const warnings: string[] = [];
  const orig = console.warn;
  console.warn = (...a: unknown[]) => void warnings.push(a.map(String).join(" "));
  let r: tf.Tensor;
  const x = tf.scalar(3);
  try {
    r = f(x);
  } finally {
    console.warn = orig;
  }
  assert.deepEqual(value(r), [6]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /AutoGraph could not transform bound scale and will run it as-is/);
  assert.equal(f.traceCount, 1);
  tf.dispose([x, r]);
  f.dispose();
});

// ---------------------------------------------------------------- tf.function API doc: more

Deno.test('tf.function API doc "Variables may only be created once": MyModule\'s "self.v = tf.Variable(tf.ones_like(x))" on the first call is initialised from that call\'s argument', () => {
  const mod = { v: null as tf.Variable | null };
  const call = tfFunction((x: tf.Tensor) => {
    if (mod.v === null) mod.v = tf.variable(tf.onesLike(x)); // a graph tensor while traced
    return mod.v.mul(x);
  });
  const [a, b] = [tf.tensor([1, 2, 3]), tf.tensor([4, 5, 6])];
  const [ra, rb] = [call(a), call(b)];
  assert.deepEqual([value(ra), value(rb)], [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(value(mod.v), [1, 1, 1]);
  // From a TensorSpec there is no value to start from: a GraphError that says so.
  const fromSpec = tfFunction((x: tf.Tensor) => tf.variable(tf.onesLike(x)).mul(x));
  const vars = Object.keys(tf.engine().registeredVariables).length;
  throwsWith(
    () => fromSpec.getConcreteFunction(new TensorSpec([3])),
    v1.GraphError,
    /initial value .* is a graph tensor/,
  );
  assert.equal(Object.keys(tf.engine().registeredVariables).length, vars);
  tf.dispose([a, b, ra, rb, mod.v!]);
  call.dispose();
});

Deno.test('tf.function API doc: "f1 = f.get_concrete_function(1); f2 = f.get_concrete_function(2); f1 is f2 → False", with tensors "f1 is f2 → True"; an input_signature of shape None serves a vector and a matrix', () => {
  const f = tfFunction((x: any) => tf.abs(x));
  assert.notEqual(f.getConcreteFunction(1), f.getConcreteFunction(2));
  const [one, two] = [tf.scalar(1), tf.scalar(2)];
  assert.equal(f.getConcreteFunction(one), f.getConcreteFunction(two));
  assert.ok(f.getConcreteFunction(1).graph instanceof v1.Graph);
  const plus1 = (x: tf.Tensor) => x.add(1);
  const vector = tf.tensor([1, 1]), matrix = tf.tensor([[3]]);
  const g = tfFunction(plus1);
  assert.notEqual(g.getConcreteFunction(vector), g.getConcreteFunction(matrix));
  const h = tfFunction(plus1, { inputSignature: [new TensorSpec(null, "float32")] });
  assert.equal(h.getConcreteFunction(vector), h.getConcreteFunction(matrix));
  assert.equal(h.traceCount, 1);
  tf.dispose([one, two, vector, matrix]);
  [f, g, h].forEach((fn) => fn.dispose());
});

Deno.test('tf.function API doc: "l.append(i + 1)  # Caution! Will only happen once when tracing" (a loop over a tensor: l holds one graph tensor, unusable outside)', () => {
  const l: unknown[] = [];
  const f = tfFunction((x: any) => {
    for (const i of x) l.push(i + 1);
  }, { scope: { l } });
  const x = tf.tensor([1, 2, 3]);
  f(x);
  f(x);
  assert.equal(l.length, 1);
  assert.ok(l[0] instanceof v1.SymbolicTensor);
  throwsWith(
    () => tf.tidy(() => tf.add(l[0] as tf.Tensor, 1)),
    v1.InaccessibleTensorError,
    /out of scope/,
  );
  x.dispose();
  f.dispose();
});

Deno.test("ConcreteFunction API: inputs, outputs, variables and trainable_variables of a traced graph (a Variable read inside a tf.cond branch counts)", () => {
  const w = tf.variable(tf.scalar(2));
  const steps = tf.variable(tf.scalar(0), false);
  const f = tfFunction((x: any) => {
    assignAdd(steps, 1);
    if (x > 0) {
      return x * (w as any);
    } else {
      return x;
    }
  }, { scope: { w, steps, assignAdd } });
  const cf = f.getConcreteFunction(new TensorSpec([]));
  assert.equal(cf.inputs.length, 1);
  assert.deepEqual(cf.inputs[0].shape, []);
  assert.equal(cf.outputs.length, 1);
  assert.deepEqual(new Set(cf.variables), new Set([w, steps]));
  assert.deepEqual(cf.trainableVariables, [w]);
  tf.dispose([w, steps]);
  f.dispose();
});

Deno.test('guide/function "Accumulating values in a loop": dynamic_rnn writes each state to a tf.TensorArray in a tf.range loop (one While op) and stacks them, [batch, time, features] in and out', () => {
  const [batchSize, seqLen, featureSize] = [2, 3, 4];
  const rnnStep = (inp: any, state: any) => tf.add(inp, state); // passed in, so not converted
  const dynamicRnn = tfFunction((rnnStep: any, inputData: any, initialState: any) => {
    // [batch, time, features] -> [time, batch, features]
    inputData = tf.transpose(inputData, [1, 0, 2]);
    const maxSeqLen = inputData.shape[0];

    let states = new TensorArray("float32", { size: maxSeqLen });
    let state = initialState;
    // tf.range(max_seq_len) is a graph tensor in TF: a graph constant makes the same While loop
    for (const i of range(v1.constant(maxSeqLen, "int32"))) {
      state = rnnStep(tf.gather(inputData, i), state);
      states = states.write(i, state);
    }
    return tf.transpose(states.stack(), [1, 0, 2]);
  }, { scope: { tf, v1, range, TensorArray } });
  const x = tf.randomUniform([batchSize, seqLen, featureSize], 0, 1, "float32", 7);
  const zeros = tf.zeros([batchSize, featureSize]);
  const out = dynamicRnn(rnnStep, x, zeros);
  const expected = tf.cumsum(x, 1); // rnn_step adds each input to the state
  assert.deepEqual(out.shape, [batchSize, seqLen, featureSize]);
  const diff = tf.max(tf.abs(tf.sub(out, expected)));
  assert.ok(value(diff)[0] < 1e-6);
  assert.ok(opTypes(dynamicRnn).includes("StatelessWhile")); // TensorList ops are stateless
  assert.deepEqual(dynamicRnn.concreteFunctions[0].graph.outputs[0].shape, [2, 3, 4]);
  tf.dispose([x, zeros, out, expected, diff]);
  dynamicRnn.dispose();
});

Deno.test('tf.function API doc: "input_signature: A possibly nested sequence of tf.TensorSpec objects": arrays and records of specs bind arrays and records of tensors; a wrong structure or shape raises SignatureError naming the element', () => {
  const f = tfFunction(
    (pair: tf.Tensor[], named: { scale: tf.Tensor }) => pair[0].add(pair[1]).mul(named.scale),
    {
      inputSignature: [
        [new TensorSpec([null]), new TensorSpec([null])],
        { scale: new TensorSpec([]) },
      ],
    },
  );
  const [a, b, c] = [tf.tensor([1, 2]), tf.tensor([3, 4]), tf.tensor([1, 2, 3])];
  const r1 = f([a, b], { scale: 2 as unknown as tf.Tensor }); // a number converts to the spec's dtype
  const r2 = f([c, c], { scale: tf.scalar(1) });
  assert.deepEqual([value(r1), value(r2)], [[8, 12], [2, 4, 6]]);
  assert.equal(f.traceCount, 1);
  assert.equal(f.getConcreteFunction().inputSpecs.length, 3);
  throwsWith(
    () => f([a], { scale: tf.scalar(1) }),
    SignatureError,
    /argument 0 must have the structure/,
  );
  throwsWith(() => f([a, b], { bias: tf.scalar(1) } as never), SignatureError, /keys scale/);
  throwsWith(
    () => f([a, tf.zeros([2, 2])], { scale: tf.scalar(1) }),
    SignatureError,
    /argument 0\[1\] \(float32 \(2, 2\)\) does not fit/,
  );
  tf.dispose([a, b, c, r1, r2]);
  f.dispose();
});

Deno.test("tf.autograph.experimental.set_loop_options(maximum_iterations=3): a tensor while loop stops after 3 iterations however long its condition holds", () => {
  const f = tfFunction((x: any) => {
    let i: any = tf.scalar(0, "int32");
    while (x > 0) {
      setLoopOptions({ maximumIterations: 3 });
      x = x - 1;
      i = i + 1;
    }
    return [x, i];
  }, { scope: { tf, setLoopOptions } });
  const [ten, two] = [tf.scalar(10), tf.scalar(2)];
  const [a, b] = [f(ten), f(two)] as tf.Tensor[][];
  assert.deepEqual([...a, ...b].map((t) => value(t)[0]), [7, 3, 0, 2]);
  tf.dispose([ten, two, ...a, ...b]);
  f.dispose();
});

Deno.test('tf.function retracing warning "(1) creating @tf.function repeatedly in a loop": tfFunction(f) made anew at every step warns as one function would, at most twice; calls of a cached graph do not count', () => {
  const step = (x: tf.Tensor) => x.add(1);
  const warnings: string[] = [];
  const orig = console.warn;
  console.warn = (...a: unknown[]) => void warnings.push(a.map(String).join(" "));
  const x = tf.scalar(1);
  try {
    for (let i = 0; i < 8; i++) {
      const f = tfFunction(step, { name: "step" }); // the pitfall: a new tfFunction each time
      f(x).dispose();
      f.dispose();
    }
  } finally {
    console.warn = orig;
  }
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /5 out of the last 5 calls to step triggered tf\.function retracing/);
  // One tfFunction called with one signature: no warning however often it is called.
  const quiet: string[] = [];
  console.warn = (...a: unknown[]) => void quiet.push(a.map(String).join(" "));
  const g = tfFunction((y: tf.Tensor) => y.add(2));
  try {
    for (let i = 0; i < 8; i++) g(x).dispose();
  } finally {
    console.warn = orig;
  }
  assert.equal(quiet.length, 0);
  x.dispose();
  g.dispose();
});

Deno.test("AutoGraph: a do...while loop (no TensorFlow form) on a tensor condition raises AutoGraphError instead of looping forever while tracing; on JavaScript values it runs as JavaScript", () => {
  const f = tfFunction((x: any) => {
    do {
      x = x - 1;
    } while (x > 0);
    return x;
  });
  const x = tf.scalar(3);
  throwsWith(() => f(x), AutoGraphError, /do\.\.\.while loop cannot become a graph loop/);
  const g = tfFunction((x: any, n: number) => {
    let k = 0;
    do {
      x = x + 1;
      k++;
    } while (k < n);
    return x;
  });
  const r = g(x, 4);
  assert.deepEqual(value(r), [7]);
  tf.dispose([x, r]);
  g.dispose();
});
