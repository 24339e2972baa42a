/**
 * The epoch skeleton `fitDataset` and `trainCustomLoop` share: `onTrainBegin`,
 * then per epoch `onEpochBegin`, the loop's own pass over the data,
 * `onEpochEnd`, the history entry and the `stopTraining` check, and finally
 * `onTrainEnd` with the last epoch's logs.
 *
 * @example
 * ```ts
 * import { runEpochs } from "./_epochs.ts";
 * const history = await runEpochs([], { epochs: 2 }, (epoch) => Promise.resolve({ loss: 1 / (epoch + 1) }));
 * console.log(history.loss); // [1, 0.5]
 * ```
 *
 * @module
 */
import type { Logs, TrainBeginInfo, TrainingCallback } from "./callbacks.ts";

/**
 * Runs `info.epochs` epochs of `runEpoch` (which trains one pass and returns
 * the epoch's logs) between the callbacks' hooks; returns the per-epoch
 * history. A callback setting `stopTraining` ends training after its epoch
 * (the loops also check it after every batch, ending that epoch early).
 */
export async function runEpochs(
  callbacks: TrainingCallback[],
  info: TrainBeginInfo,
  runEpoch: (epoch: number) => Promise<Logs>,
): Promise<Record<string, number[]>> {
  const history: Record<string, number[]> = {};
  let last: Logs = {};
  for (const cb of callbacks) await cb.onTrainBegin?.(info);
  for (let epoch = 0; epoch < info.epochs; epoch++) {
    for (const cb of callbacks) await cb.onEpochBegin?.(epoch);
    const epochLogs = await runEpoch(epoch);
    // Callbacks may add entries (a schedule adds `lr`), as in Keras, where History runs last.
    for (const cb of callbacks) await cb.onEpochEnd?.(epoch, epochLogs);
    for (const [k, v] of Object.entries(epochLogs)) (history[k] ??= []).push(v);
    last = epochLogs;
    if (callbacks.some((cb) => cb.stopTraining)) break;
  }
  for (const cb of callbacks) await cb.onTrainEnd?.(last);
  return history;
}
