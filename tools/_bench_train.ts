/**
 * A child process of `deno task bench`: trains one model on WASM in a fresh
 * process (a fresh V8 and heap) and prints its training row as one JSON line.
 * The bench runs it twice per model and counts the faster, as it counts the
 * faster of PyTorch's two runs.
 *
 * @example
 * ```sh
 * deno run -A tools/_bench_train.ts mlp 3 1 --tiny
 * ```
 *
 * @module
 */
import { MODEL_NAMES, type ModelName } from "../lib/distribute/models.ts";
import { loadData, trainHere } from "./bench.ts";

if (import.meta.main) {
  const [model, steps, repeats] = Deno.args;
  const tiny = Deno.args.includes("--tiny");
  if (!MODEL_NAMES.includes(model as ModelName) || !(Number(steps) > 0) || !(Number(repeats) > 0)) {
    console.error(`usage: _bench_train.ts <${MODEL_NAMES.join("|")}> <steps> <repeats> [--tiny]`);
    Deno.exit(2);
  }
  const data = await loadData(tiny, { data: [], skipped: [] });
  const row = await trainHere(
    "wasm",
    model as ModelName,
    Number(steps),
    Number(repeats),
    data,
    true,
    10,
    0,
    tiny ? 0 : 4000,
  );
  console.log(JSON.stringify(row));
  Deno.exit(0);
}
