Error.stackTraceLimit = 60;
// CELL 1
import { tf, initBackend, byMode, quick, loadMnist, v1, table, plot } from "../lib/mod.ts";
const backend = await initBackend();
const tensorsAtStart = tf.memory().numTensors;
`backend: ${backend.backend}; ${quick ? "quick" : "full"} mode`

const live = new Map<number, string>();
const eng = tf.engine() as any;
const origTrack = eng.trackTensor.bind(eng);
eng.trackTensor = (a: any, b: any) => { live.set(a.id, new Error().stack!.split("\n").filter((l: string) => l.includes("/lib/") || l.includes("_scratch")).slice(0, 12).join(" | ")); return origTrack(a, b); };
const origDispose = eng.disposeTensor.bind(eng);
eng.disposeTensor = (a: any) => { live.delete(a.id); return origDispose(a); };

// CELL 2
const g = new v1.Graph();
const { x, w, y } = g.asDefault(() => {
  const x = v1.placeholder("float32", [null, 2], "x");
  const w = new v1.Variable(tf.ones([2, 1]), { name: "w" });
  return { x, w, y: v1.matMul(x, w) };
});
y.toString()   // a symbolic tensor: a name, a static shape, a dtype — no value
// CELL 3
table(g.toJSON().map((op) => ({
  name: op.name, type: op.type, inputs: op.inputs.join(", "),
  shape: op.outputs.map((o) => v1.formatShape(o.shape)).join(", "),
})), { title: "g.operations" })
// CELL 4
const sess = new v1.Session(g);
sess.run(v1.globalVariablesInitializer(g));
const feed = new Map([[x, [[1, 2], [3, 4]]]]);
({ single: sess.run(y, new Map([[x, [[1, 2]]]])), structured: sess.run({ y, w }, feed) })
// CELL 5
sess.run(w);
const justW = [...sess.lastRunOps];
sess.run(y, feed);
({ "run(w)": justW, "run(y)": sess.lastRunOps })
// CELL 6
const errors: string[] = [];
try { g.asDefault(() => v1.add(x, [1, 2, 3])); } catch (e) { errors.push(`${e.name}: ${e.message}`); }
try { sess.run(y); } catch (e) { errors.push(`${e.name}: ${e.message}`); }
try { sess.run(y, new Map([[x, [[1, 2, 3]]]])); } catch (e) { errors.push(`${e.name}: ${e.message}`); }
sess.close();
errors.join("\n\n")
// CELL 7
const cfg = byMode({
  quick: { limit: 2000, testLimit: 1000, epochs: 1 },
  full: { limit: 20000, testLimit: 10000, epochs: 2 },
});
const { train, test } = await loadMnist({ limit: cfg.limit, testLimit: cfg.testLimit });
const LR = 0.5, BATCH = 100;
`${train.count} training and ${test.count} test digits, ${cfg.epochs} epoch(s) of batches of ${BATCH}`
// CELL 8
const lr = new v1.Graph();
const m = lr.asDefault(() => {
  const x = v1.placeholder("float32", [null, 28, 28, 1], "x");
  const y = v1.placeholder("float32", [null, 10], "y");
  const W = new v1.Variable(tf.zeros([784, 10]), { name: "W" });
  const b = new v1.Variable(tf.zeros([10]), { name: "b" });
  const logits = v1.add(v1.matMul(v1.reshape(x, [-1, 784]), W), b, "logits");
  const loss = v1.reduceMean(v1.softmaxCrossEntropyWithLogits(y, logits), null, false, "loss");
  const correct = v1.equal(v1.argMax(logits, 1), v1.argMax(y, 1));
  const accuracy = v1.reduceMean(v1.cast(correct, "float32"), null, false, "accuracy");
  const trainOp = new v1.train.GradientDescentOptimizer(LR).minimize(loss);
  return { x, y, loss, accuracy, trainOp };
});
`${lr.operations.length} ops in the graph`
// CELL 9
v1.drawGraph(lr, { fetches: [m.loss, m.accuracy], title: "logistic regression: loss and accuracy" })
// CELL 10
const byScope = (prefix: string) => lr.operations.filter((op) => op.name.startsWith(prefix)).length;
table([
  { part: "forward model", ops: lr.operations.length - byScope("gradients/") - byScope("GradientDescent/") },
  { part: "gradients/ (backprop as graph ops)", ops: byScope("gradients/") },
  { part: "GradientDescent/ (updates)", ops: byScope("GradientDescent/") },
])
// CELL 11
const sess1 = new v1.Session(lr);
sess1.run(v1.globalVariablesInitializer(lr));
const tf1Losses: number[] = [];
let t0 = performance.now();
for (let epoch = 0; epoch < cfg.epochs; epoch++) {
  for (const { xs, ys } of train.batches(BATCH, { shuffle: true, seed: epoch })) {
    tf1Losses.push(sess1.run({ trainOp: m.trainOp, loss: m.loss }, new Map([[m.x, xs], [m.y, ys]])).loss);
    tf.dispose([xs, ys]);
  }
}
const tf1Seconds = (performance.now() - t0) / 1000;
`${tf1Losses.length} steps in ${tf1Seconds.toFixed(2)} s; each step ran ${sess1.lastRunOpCount} ops`
// CELL 12
const W = tf.variable(tf.zeros([784, 10]));
const b = tf.variable(tf.zeros([10]));
const logitsOf = (xs: tf.Tensor) => xs.reshape([-1, 784]).matMul(W).add(b);
const lossOf = (xs: tf.Tensor, ys: tf.Tensor) =>
  tf.neg(tf.sum(ys.mul(tf.logSoftmax(logitsOf(xs))), -1)).mean() as tf.Scalar;
const opt = tf.train.sgd(LR);
// CELL 13
const tf2Losses: number[] = [];
t0 = performance.now();
for (let epoch = 0; epoch < cfg.epochs; epoch++) {
  for (const { xs, ys } of train.batches(BATCH, { shuffle: true, seed: epoch })) {
    const { value, grads } = tf.variableGrads(() => lossOf(xs, ys), [W, b]);
    opt.applyGradients(grads);
    tf2Losses.push(value.dataSync()[0]);
    tf.dispose([xs, ys, value, grads]);
  }
}
const tf2Seconds = (performance.now() - t0) / 1000;
`${tf2Losses.length} steps in ${tf2Seconds.toFixed(2)} s`
// CELL 14
const { xs: testX, ys: testY } = test.toTensors();
const tf1Test = sess1.run({ loss: m.loss, accuracy: m.accuracy }, new Map([[m.x, testX], [m.y, testY]]));
const tf2Test = tf.tidy(() => ({
  loss: lossOf(testX, testY).dataSync()[0],
  accuracy: logitsOf(testX).argMax(1).equal(testY.argMax(1)).mean().dataSync()[0],
}));
const maxStepDiff = Math.max(...tf1Losses.map((l, i) => Math.abs(l - tf2Losses[i])));
table([
  { "": "first batch loss", "TF1 graph + session": tf1Losses[0], "TF2 eager": tf2Losses[0] },
  { "": "last batch loss", "TF1 graph + session": tf1Losses.at(-1), "TF2 eager": tf2Losses.at(-1) },
  { "": "test loss", "TF1 graph + session": tf1Test.loss, "TF2 eager": tf2Test.loss },
  { "": "test accuracy", "TF1 graph + session": tf1Test.accuracy, "TF2 eager": tf2Test.accuracy },
  { "": "training time (s)", "TF1 graph + session": tf1Seconds, "TF2 eager": tf2Seconds },
  { "": "largest per-step loss difference", "TF1 graph + session": maxStepDiff, "TF2 eager": "" },
], { title: `logistic regression on ${train.count} MNIST digits` })
// CELL 15
import { headline } from "../lib/mod.ts";
headline(`logistic regression: test accuracy ${tf1Test.accuracy.toFixed(4)} (TF1 graph) and ${tf2Test.accuracy.toFixed(4)} (TF2 eager)`)
// CELL 16
plot([
  { y: tf1Losses, name: "TF1 graph + session", mode: "lines" },
  { y: tf2Losses, name: "TF2 eager", mode: "lines", line: { dash: "dot" } },
], { title: { text: "training loss per batch (the curves coincide)" }, xaxis: { title: { text: "step" } } })
// CELL 17
const gInit = new v1.Graph();
const initialValue = tf.ones([2]);
const { doubled } = gInit.asDefault(() => ({ doubled: v1.mul(new v1.Variable(initialValue, { name: "v" }), 2) }));
const sInit = new v1.Session(gInit);
let initSymptom = "";
try { sInit.run(doubled); } catch (e) { initSymptom = `${(e as Error).name}: ${(e as Error).message}`; }
sInit.run(v1.globalVariablesInitializer(gInit));                       // the fix
const initResult = { symptom: initSymptom, afterInitializer: sInit.run(doubled) };
sInit.close();
gInit.dispose();
initialValue.dispose();
initResult
// CELL 18
const gLoop = new v1.Graph();
const xLoop = gLoop.asDefault(() => v1.placeholder("float32", [], "x"));
const sLoop = new v1.Session(gLoop);
const opsPerStep: number[] = [];
for (let step = 0; step < 4; step++) {
  const yStep = gLoop.asDefault(() => v1.mul(xLoop, 2));               // wrong: a new op each step
  sLoop.run(yStep, new Map([[xLoop, step]]));
  opsPerStep.push(gLoop.operations.length);
}
const yOnce = gLoop.asDefault(() => v1.mul(xLoop, 2));                 // right: built once...
const opsBefore = gLoop.operations.length;
for (let step = 0; step < 4; step++) sLoop.run(yOnce, new Map([[xLoop, step]]));   // ...run many times
const loopResult = { "graph size after each step (wrong)": opsPerStep, "ops added by 4 runs (right)": gLoop.operations.length - opsBefore };
sLoop.close();
gLoop.dispose();
loopResult
// CELL 19
import { checkFeedIntermediate, checkSymbolicDerivative, checkBatchPlaceholder } from "../lib/mod.ts";
// CELL 20
function fetchWithHiddenFed(
  { sess, x, y }: {
    sess: v1.Session;
    x: v1.SymbolicTensor;
    hidden: v1.SymbolicTensor;
    y: v1.SymbolicTensor;
  },
): unknown {
  // TODO: y for hidden = [[1, 2, 3]], without running anything before `hidden`.
  return sess.run(y, new Map([[x, [[1, 2, 3, 4]]]]));
}
// CELL 21
checkFeedIntermediate(fetchWithHiddenFed)
// CELL 22
function derivative(x: v1.SymbolicTensor): v1.SymbolicTensor | null | undefined {
  // TODO: build y = x² + 3x with v1 ops and return its symbolic gradient with respect to x.
  return undefined;
}
// CELL 23
checkSymbolicDerivative(derivative)
// CELL 24
function makePlaceholder(): v1.SymbolicTensor {
  // TODO: this placeholder takes exactly one row; make it take any number of rows of 3.
  return v1.placeholder("float32", [1, 3], "rows");
}
// CELL 25
checkBatchPlaceholder(makePlaceholder)
// CELL 26
sess1.close();
lr.dispose();
g.dispose();
tf.dispose([testX, testY, W, b]);
opt.dispose();
`tensors allocated since the first cell: ${tf.memory().numTensors - tensorsAtStart}`
;for (const [id, st] of live) console.log("LIVE", id, st);