import assert from "node:assert/strict";
import { formatDuration, progress, ProgressCallback } from "../lib/display/progress.ts";
import type { DisplayMessage } from "../lib/display/jupyter.ts";

/** Drives a callback like a training loop: `epochs` x `steps` batches, `msPerStep` apart. */
async function train(
  cb: ProgressCallback,
  clock: { t: number },
  epochs: number,
  steps: number,
  msPerStep: number,
) {
  await cb.onTrainBegin({ epochs, stepsPerEpoch: steps, batchSize: 32, samples: steps * 32 });
  for (let e = 0; e < epochs; e++) {
    cb.onEpochBegin(e);
    for (let s = 0; s < steps; s++) {
      clock.t += msPerStep;
      await cb.onBatchEnd(s, { loss: 1 / (s + 1), acc: 0.5, size: 32 });
    }
    await cb.onEpochEnd(e, { loss: 0.25, acc: 0.9, val_loss: 0.3, val_acc: 0.88 });
  }
  await cb.onTrainEnd({});
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[/;

Deno.test("progress: outside a kernel it writes plain text lines, throttled, one per epoch", async () => {
  const lines: string[] = [];
  const clock = { t: 0 };
  const cb = new ProgressCallback({
    title: "run",
    sink: null,
    write: (l) => lines.push(l),
    now: () => clock.t,
  });
  await train(cb, clock, 3, 500, 10); // 5 s per epoch, 15 s in all
  assert.equal(lines[0], "run");
  const epochLines = lines.filter((l) => /^Epoch \d\/3 {2}500\/500/.test(l));
  assert.equal(epochLines.length, 3, lines.join("\n"));
  assert.match(
    epochLines[0],
    /5\.0s {2}3200 samples\/s {2}loss 0\.2500 {2}acc 0\.9000 {2}val_loss 0\.3000 {2}val_acc 0\.8800/,
  );
  const live = lines.filter((l) => l.includes("ETA"));
  assert.ok(
    live.length >= 1 && live.length <= 6,
    `live lines throttled to one per 5 s: ${live.length}`,
  );
  assert.match(lines.at(-1)!, /^done: 3 epochs in 15s, 3200 samples\/s$/);
  assert.ok(lines.every((l) => !ANSI.test(l)), "no ANSI codes");
  assert.deepEqual(cb.lines, epochLines);
});

Deno.test("progress: in a kernel it sends one display and throttled in-place updates", async () => {
  const sent: [string, DisplayMessage][] = [];
  const sink = {
    broadcast: (t: "display_data" | "update_display_data", c: DisplayMessage) => {
      sent.push([t, structuredClone(c)]);
      return Promise.resolve();
    },
  };
  const clock = { t: 0 };
  const cb = new ProgressCallback({ title: "MLP <fast>", sink, now: () => clock.t });
  await train(cb, clock, 2, 1000, 5); // 10 s, 2000 batches
  assert.equal(sent[0][0], "display_data");
  assert.ok(sent.slice(1).every(([t]) => t === "update_display_data"));
  const ids = new Set(sent.map(([, c]) => c.transient.display_id));
  assert.equal(ids.size, 1, "one display id for the whole run");
  assert.equal([...ids][0], cb.displayId);
  // At most 4 updates per second of training, plus begin, epoch ends and the end.
  assert.ok(sent.length <= 10 * 4 + 1 + 2 + 1 + 2, `${sent.length} messages for 2000 batches`);
  assert.ok(sent.length >= 10, `live updates were sent: ${sent.length}`);
  assert.equal(cb.messages, sent.length);
  const final = sent.at(-1)![1].data;
  const text = final["text/plain"] as string;
  assert.equal(text.split("\n").length, 4, text); // title, 2 epochs, done
  assert.match(text, /^MLP <fast>\nEpoch 1\/2 {2}1000\/1000 {2}5\.0s {2}6400 samples\/s/);
  assert.match(text, /done: 2 epochs in 10s/);
  assert.ok((final["text/html"] as string).includes("MLP &lt;fast&gt;"), "HTML is escaped");
  const mid = sent.find(([, c]) => (c.data["text/plain"] as string).includes("ETA"));
  assert.ok(mid, "a live line with ETA was shown");
  assert.match(
    mid![1].data["text/plain"] as string,
    /\[=*>?\.*\] \d+\/1000 {2}loss \d\.\d{4} {2}acc 0\.5000 {2}6400 samples\/s {2}ETA/,
  );
});

Deno.test("progress: progress() outside a kernel is a TrainingCallback printing text", async () => {
  const cb = progress({ title: "t" });
  assert.ok(cb instanceof ProgressCallback);
  assert.equal(typeof cb.onBatchEnd, "function");
  const logged: string[] = [];
  const orig = console.log;
  console.log = (l: string) => logged.push(l);
  try {
    await cb.onTrainBegin!({ epochs: 1 });
    cb.onEpochBegin!(0);
    await cb.onBatchEnd!(0, { loss: 1, size: 4 });
    await cb.onEpochEnd!(0, { loss: 1 });
    await cb.onTrainEnd!({});
  } finally {
    console.log = orig;
  }
  if (!Deno.stdout.isTerminal()) {
    assert.equal(logged[0], "t");
    assert.ok(logged.some((l) => /^Epoch 1\/1 {2}1\/1/.test(l)), logged.join("\n"));
    assert.ok(logged.some((l) => l.startsWith("done: 1 epoch")));
  }
});

Deno.test("progress: durations read like Keras", () => {
  assert.equal(formatDuration(3.21), "3.2s");
  assert.equal(formatDuration(42.4), "42s");
  assert.equal(formatDuration(187), "3m07s");
  assert.equal(formatDuration(3720), "1h02m");
  assert.equal(formatDuration(NaN), "?");
});
