/**
 * Every exercise's solution passes its check and every blank (the TODO version
 * the notebook opens with) fails it with a hint; the checks leak no tensor; the
 * notebooks hold each blank and each solution verbatim.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { computeStatistics, inferSchema } from "../lib/ecosystem/mod.ts";
import { cnn } from "../lib/models/mod.ts";
import * as ex from "../lib/exercises/mod.ts";
import { fail } from "../lib/exercises/check.ts";
import * as s0 from "../lib/exercises/solutions/ch00.ts";
import * as b0 from "../lib/exercises/blanks/ch00.ts";
import * as s1 from "../lib/exercises/solutions/ch01.ts";
import * as b1 from "../lib/exercises/blanks/ch01.ts";
import * as s2 from "../lib/exercises/solutions/ch02.ts";
import * as b2 from "../lib/exercises/blanks/ch02.ts";
import * as s3 from "../lib/exercises/solutions/ch03.ts";
import * as b3 from "../lib/exercises/blanks/ch03.ts";
import * as s4 from "../lib/exercises/solutions/ch04.ts";
import * as b4 from "../lib/exercises/blanks/ch04.ts";
import * as s5 from "../lib/exercises/solutions/ch05.ts";
import * as b5 from "../lib/exercises/blanks/ch05.ts";
import * as s6 from "../lib/exercises/solutions/ch06.ts";
import * as b6 from "../lib/exercises/blanks/ch06.ts";
import * as s7 from "../lib/exercises/solutions/ch07.ts";
import * as b7 from "../lib/exercises/blanks/ch07.ts";
import * as s8 from "../lib/exercises/solutions/ch08.ts";
import * as b8 from "../lib/exercises/blanks/ch08.ts";

await initBackend();

const mnist = await loadMnist({ limit: 6_000, testLimit: 2_000 });
const schema = inferSchema(computeStatistics(mnist.train));
const cleanBatch = mnist.test.slice(0, 512);
const trainPixels = mnist.train.images.subarray(0, 200 * 784);
const extractorModel = cnn({ seed: 1 });

// deno-lint-ignore no-explicit-any
type Answers = any;
interface Exercise {
  id: string;
  /** The TensorFlow behaviour the exercise checks. */
  behaviour: string;
  run: (answers: Answers) => ex.CheckResult | Promise<ex.CheckResult>;
}

const EXERCISES: Exercise[] = [
  {
    id: "0.1",
    behaviour: "a Keras CNN ends in a 10-way softmax",
    run: (a) => ex.checkClassifier(a.buildClassifier),
  },
  {
    id: "0.2",
    behaviour: "the prediction is the argmax of predict()",
    run: (a) => ex.checkTopPrediction(a.topPrediction),
  },
  {
    id: "1.1",
    behaviour: "keepdims reductions broadcast back",
    run: (a) => ex.checkNormalizeRows(a.normalizeRows),
  },
  {
    id: "1.2",
    behaviour: "tf.tidy frees intermediates",
    run: (a) => ex.checkNoLeak(a.sumOfSquaresPlusOne),
  },
  {
    id: "1.3",
    behaviour: "broadcasting [n, 1] against [m]",
    run: (a) => ex.checkTimesTable(a.timesTable),
  },
  {
    id: "2.1",
    behaviour: "Session.run feeds any tensor and prunes what is upstream of it",
    run: (a) => ex.checkFeedIntermediate(a.fetchWithHiddenFed),
  },
  {
    id: "2.2",
    behaviour: "tf.compat.v1.gradients adds derivative ops",
    run: (a) => ex.checkSymbolicDerivative(a.derivative),
  },
  {
    id: "2.3",
    behaviour: "a placeholder with a None dimension takes any batch",
    run: (a) => ex.checkBatchPlaceholder(a.makePlaceholder),
  },
  {
    id: "3.1",
    behaviour: "tf.function retraces for each new input shape",
    run: (a) => ex.checkRetracingPredict(a.makeRetracingPredict),
  },
  {
    id: "3.2",
    behaviour: "an input_signature with a None batch dimension traces once",
    run: (a) => ex.checkSteadyPredict(a.makeSteadyPredict),
  },
  {
    id: "3.3",
    behaviour: "tf.function reads closed-over Variables at every call",
    run: (a) => ex.checkAddBias(a.makeAddBias),
  },
  {
    id: "4.2",
    behaviour: "GradientTape + assign_sub trains a Variable in place",
    run: (a) => ex.checkGradientStep(a.gradientStep),
  },
  {
    id: "4.3",
    behaviour: "nested GradientTapes give second derivatives",
    run: (a) => ex.checkSecondDerivative(a.secondDerivative),
  },
  {
    id: "5.1",
    behaviour: "a Dense layer has inputs × units + units parameters",
    run: (a) => ex.checkDenseParams(a.denseParams),
  },
  {
    id: "5.2",
    behaviour: "valid Conv2D then MaxPooling2D output sizes",
    run: (a) => ex.checkConvOutputSide(a.convOutputSide),
  },
  {
    id: "5.3",
    behaviour: "the optimizer's state outlives model.dispose()",
    run: (a) => ex.checkTrainAndDispose(a.trainAndDispose),
  },
  {
    id: "6.1",
    behaviour: "a Functional model with two inputs, two outputs and a shared layer",
    run: (a) => ex.checkTwoInputsTwoOutputs(a.twoInputsTwoOutputs),
  },
  {
    id: "6.2",
    behaviour: "a feature extractor from an intermediate layer shares its weights",
    run: (a) => ex.checkFeatureExtractor(a.featureExtractor, extractorModel, "flatten"),
  },
  {
    id: "6.3",
    behaviour: "Dropout is active with training=True only",
    run: (a) => ex.checkTrainingFlag(a.bothWays),
  },
  {
    id: "7.1",
    behaviour: "float32 weights take 4 bytes each",
    run: (a) => ex.checkWeightBytes(a.weightBytes),
  },
  {
    id: "7.2",
    behaviour: "precision reads a confusion column, recall a row",
    run: (a) => ex.checkPrecisionRecall(a.precisionRecall),
  },
  {
    id: "7.3",
    behaviour: "a saved and loaded model predicts identically",
    run: (a) => ex.checkRoundTrip(a.roundTrip),
  },
  {
    id: "8.1",
    behaviour: "TFDV flags each kind of fault in a batch",
    run: (a) => ex.checkTwoAnomalies(a.corruptBatch, schema, cleanBatch),
  },
  {
    id: "8.2",
    behaviour: "per-replica losses are divided by the global batch (compute_average_loss)",
    run: (a) => ex.checkReplicaLoss(a.replicaLoss),
  },
  {
    id: "8.3",
    behaviour: "tf.Transform applies training constants at serving",
    run: (a) => ex.checkServingTransform(a.serveNormalize, trainPixels),
  },
];

const SOLUTIONS = [s0, s1, s2, s3, s4, s5, s6, s7, s8];
const BLANKS = [b0, b1, b2, b3, b4, b5, b6, b7, b8];
const chapter = (id: string) => Number(id.split(".")[0]);

for (const e of EXERCISES) {
  Deno.test(`exercise ${e.id} (${e.behaviour}): the solution passes its check`, async () => {
    const r = await e.run(SOLUTIONS[chapter(e.id)]);
    assert.equal(r.exercise, e.id);
    assert.ok(r.passed, r.message);
    assert.doesNotMatch(r.message, /Hint:/);
  });
  Deno.test(`exercise ${e.id} (${e.behaviour}): the blank fails its check with a hint`, async () => {
    const r = await e.run(BLANKS[chapter(e.id)]);
    assert.equal(r.passed, false, r.message);
    assert.match(r.message, /\. Hint: \S.{10,}/);
  });
}

Deno.test("exercise 4.1: a Variable replaced by a tensor (w = w - 0.1) gets a None gradient", () => {
  const r = ex.checkNullGradients(s4.nullGradientWays);
  assert.equal(r.parts.replacedVariable, true, r.message);
});

// Depends on lib/tape.ts following TensorFlow for integer sources, Cast and ArgMax.
Deno.test("exercise 4.1 (GradientTape: integer sources, Cast to int and argmax give None): the solution passes", () => {
  const r = ex.checkNullGradients(s4.nullGradientWays);
  assert.ok(r.passed, r.message);
});

Deno.test("exercise 4.1: the blank fails with a hint for each of the four ways", () => {
  const r = ex.checkNullGradients(b4.nullGradientWays);
  assert.equal(r.passed, false);
  assert.deepEqual(Object.values(r.parts), [false, false, false, false]);
  for (const way of ["integerSource", "throughCast", "throughArgMax", "replacedVariable"]) {
    assert.match(r.message, new RegExp(`${way}[^;]*\\(`));
  }
});

Deno.test("exercise checks: an exception in the learner's code is a failed check naming it", () => {
  const r = ex.checkNormalizeRows(() => {
    throw new RangeError("boom");
  });
  assert.equal(r.passed, false);
  assert.match(r.message, /RangeError: boom/);
});

Deno.test("exercise checks: running every solution leaves no tensor behind", async () => {
  const run = async () => {
    for (const e of EXERCISES) await e.run(SOLUTIONS[chapter(e.id)]);
    ex.checkNullGradients(s4.nullGradientWays).message;
  };
  await run(); // tfjs creates some one-off tensors on first use
  const before = tf.memory().numTensors;
  await run();
  assert.equal(tf.memory().numTensors - before, 0);
});

Deno.test("exercise checks: a missing answer or a plain function fails the check and leaves no tensor behind", () => {
  const wrongAnswers = [
    () => ex.checkRetracingPredict(() => undefined),
    () => ex.checkSteadyPredict(() => undefined),
    // A plain function (no traceCount, no dispose): said so, not a TypeError from disposing it.
    () => ex.checkRetracingPredict((w) => ((x: tf.Tensor) => x.matMul(w)) as never),
    () => ex.checkAddBias(() => undefined),
  ];
  for (const check of wrongAnswers) check(); // first use
  const before = tf.memory().numTensors;
  for (const check of wrongAnswers) {
    const r = check();
    assert.equal(r.passed, false, r.message);
    assert.doesNotMatch(r.message, /TypeError/);
  }
  assert.equal(tf.memory().numTensors - before, 0);
});

Deno.test("exercise results display as HTML with the verdict and as text", () => {
  const r = fail("9.9", "It is <wrong>.", "do it right.");
  const bundle = (r as unknown as Record<symbol, () => Record<string, string>>)
    [Symbol.for("Jupyter.display")]();
  assert.match(bundle["text/html"], /✘ Exercise 9\.9/);
  assert.match(bundle["text/html"], /&lt;wrong&gt;/);
  assert.equal(String(r), "✘ Exercise 9.9: It is <wrong>. Hint: do it right.");
});

/** The regions of a blanks/ or solutions/ file, by exercise id, as the notebooks show them. */
async function regions(
  kind: "blanks" | "solutions",
  chapter: number,
): Promise<Map<string, string>> {
  const url = new URL(`../lib/exercises/${kind}/ch0${chapter}.ts`, import.meta.url);
  const text = await Deno.readTextFile(url);
  const out = new Map<string, string>();
  for (const m of text.matchAll(/\/\/ #region (\S+)\n([\s\S]*?)\n\/\/ #endregion/g)) {
    out.set(m[1], m[2].replace(/^export /gm, ""));
  }
  return out;
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

Deno.test("exercises: every notebook opens with each blank verbatim, then its check, then the folded solution", async () => {
  const dir = new URL("../notebooks/", import.meta.url);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ipynb"));
  for (let chapter = 0; chapter <= 8; chapter++) {
    const file = files.find((n) => n.startsWith(`0${chapter}_`));
    assert.ok(file, `no notebook for chapter ${chapter}`);
    const nb = JSON.parse(await Deno.readTextFile(new URL(file, dir)));
    const cells: { cell_type: string; source: string[]; outputs?: unknown[] }[] = nb.cells;
    const text = cells.map((c) => c.source.join(""));
    const blanks = await regions("blanks", chapter);
    const solutions = await regions("solutions", chapter);
    assert.ok(blanks.size >= (chapter === 0 ? 1 : 3), `${file}: ${blanks.size} exercises`);
    assert.deepEqual([...blanks.keys()], [...solutions.keys()]);
    for (const [id, blank] of blanks) {
      const at = text.indexOf(blank);
      assert.ok(
        at > 0 && cells[at].cell_type === "code",
        `${file}: exercise ${id}'s blank is not a code cell`,
      );
      assert.match(
        text[at + 1],
        /^(await display\(await )?check\w+\(/,
        `${file}: no check after ${id}`,
      );
      assert.equal(cells[at + 1].cell_type, "code");
      assert.ok(
        text[at + 2].startsWith("<details><summary>Solution</summary>") &&
          text[at + 2].includes(escapeHtml(solutions.get(id)!)),
        `${file}: exercise ${id}'s solution is not folded after its check`,
      );
      assert.match(text[at - 1], new RegExp(`^### Exercise ${id.replace(".", "\\.")}:`));
    }
    assert.match(text.join("\n"), /## Common pitfalls/, `${file}: no pitfalls section`);
    assert.match(
      text.at(-1)!,
      /^## What to try next/,
      `${file}: does not end with what to try next`,
    );
  }
});
