/**
 * Keras-style live progress for training loops, as a {@linkcode TrainingCallback}.
 *
 * In the Jupyter kernel, one output per training run is updated in place
 * (`display_data`, then `update_display_data` with the same `display_id`),
 * at most four times a second: it keeps one summary line per finished epoch
 * and a live line for the current one (epoch, step, loss, accuracy,
 * samples/s, ETA). Outside the kernel (`deno run`, `deno test`) it prints
 * plain text lines: the live line is redrawn in place on a colour terminal,
 * otherwise printed at most every few seconds; epoch summaries always.
 *
 * @example
 * ```ts
 * import { progress } from "./progress.ts";
 * const cb = progress({ title: "MLP on MNIST" });
 * await cb.onTrainBegin?.({ epochs: 1, stepsPerEpoch: 2, batchSize: 32 });
 * await cb.onEpochBegin?.(0);
 * await cb.onBatchEnd?.(0, { loss: 0.9, acc: 0.6, size: 32 });
 * await cb.onBatchEnd?.(1, { loss: 0.7, acc: 0.7, size: 32 });
 * await cb.onEpochEnd?.(0, { loss: 0.8, acc: 0.65 });
 * await cb.onTrainEnd?.({});
 * ```
 *
 * @module
 */
import type { Logs, TrainBeginInfo, TrainingCallback } from "../training/callbacks.ts";
import { escapeHtml } from "./displayable.ts";
import { type DisplaySink, kernelSink, plainText, settle } from "./jupyter.ts";

/** Options of {@linkcode progress}. */
export interface ProgressOptions {
  /** A heading shown above the progress lines. */
  title?: string;
  /**
   * Where rich output goes. Default: the kernel when running in one, else none
   * (plain text). Tests pass a fake sink.
   */
  sink?: DisplaySink | null;
  /** Where text lines go outside the kernel (default `console.log`). */
  write?: (line: string) => void;
  /** Minimum milliseconds between live updates (default 250 in the kernel, 5000 as text). */
  intervalMs?: number;
  /** Clock in milliseconds (default `performance.now`); tests inject one. */
  now?: () => number;
}

/** A number as a log value: 4 decimals, or 3 significant digits when tiny. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && a < 1e-3 ? v.toExponential(2) : v.toFixed(4);
}

/** Seconds as "42s", "3m07s" or "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return seconds < 10 ? `${seconds.toFixed(1)}s` : `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function bar(done: number, total: number, width = 20): string {
  const filled = Math.min(width, Math.floor((done / total) * width));
  return "[" + "=".repeat(Math.max(0, filled - 1)) +
    (filled > 0 ? (done >= total ? "=" : ">") : "") +
    ".".repeat(width - filled) + "]";
}

const SKIP = new Set(["size", "batch"]);

/** The live progress callback; see the module doc. */
export class ProgressCallback implements TrainingCallback {
  readonly title?: string;
  /** Epoch summary lines so far (what the saved notebook keeps). */
  readonly lines: string[] = [];
  /** Rich messages sent (display + updates), for tests and curiosity. */
  messages = 0;
  #sink: DisplaySink | null;
  #write: (line: string) => void;
  #interval: number;
  #now: () => number;
  #inPlace: boolean;
  #displayId = `tfjs-nb-progress-${Date.now().toString(36)}-${
    Math.floor(Math.random() * 1e9).toString(36)
  }`;
  #shown = false;
  #info: TrainBeginInfo = { epochs: 0 };
  #epoch = 0;
  #step = 0;
  #samples = 0;
  #sums: Record<string, number> = {};
  #weights: Record<string, number> = {};
  #trainStart = 0;
  #started = false;
  #epochStart = 0;
  #lastUpdate = -Infinity;
  #totalSamples = 0;
  #live = "";

  constructor(opts: ProgressOptions = {}) {
    this.title = opts.title;
    this.#sink = opts.sink === undefined ? kernelSink() : opts.sink;
    this.#write = opts.write ?? ((line) => console.log(line));
    this.#now = opts.now ?? (() => performance.now());
    // Redraw in place only on a real colour terminal with the default writer.
    this.#inPlace = !this.#sink && !opts.write && !plainText();
    this.#interval = opts.intervalMs ?? (this.#sink || this.#inPlace ? 250 : 5000);
  }

  /** The display id of the kernel output this callback updates. */
  get displayId(): string {
    return this.#displayId;
  }

  async onTrainBegin(info: TrainBeginInfo): Promise<void> {
    this.#info = { ...info };
    this.#started = true;
    this.#trainStart = this.#now();
    this.#epochStart = this.#trainStart;
    this.#live = `training: ${info.epochs} epoch${info.epochs === 1 ? "" : "s"}` +
      (info.samples ? `, ${info.samples} samples` : "") +
      (info.batchSize ? `, batch ${info.batchSize}` : "");
    if (this.#sink) await this.#render(true);
    else if (this.title) this.#write(this.title);
  }

  onEpochBegin(epoch: number): void {
    this.#epoch = epoch;
    this.#step = 0;
    this.#samples = 0;
    this.#sums = {};
    this.#weights = {};
    this.#epochStart = this.#now();
    if (!this.#started) {
      this.#started = true;
      this.#trainStart = this.#epochStart;
    }
  }

  async onBatchEnd(step: number, logs: Logs): Promise<void> {
    if (!this.#started) this.onEpochBegin(this.#epoch);
    const size = Number.isFinite(logs.size) && logs.size > 0
      ? logs.size
      : (this.#info.batchSize ?? 1);
    this.#step = step + 1;
    this.#samples += size;
    this.#totalSamples += size;
    for (const [k, v] of Object.entries(logs)) {
      if (SKIP.has(k) || typeof v !== "number" || !Number.isFinite(v)) continue;
      this.#sums[k] = (this.#sums[k] ?? 0) + v * size;
      this.#weights[k] = (this.#weights[k] ?? 0) + size;
    }
    const t = this.#now();
    if (t - this.#lastUpdate < this.#interval) return;
    this.#lastUpdate = t;
    this.#live = this.#liveLine(t);
    await this.#render(false);
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const t = this.#now();
    const elapsed = (t - this.#epochStart) / 1000;
    const merged: Logs = {};
    for (const k of Object.keys(this.#sums)) merged[k] = this.#sums[k] / this.#weights[k];
    for (const [k, v] of Object.entries(logs ?? {})) {
      if (!SKIP.has(k) && typeof v === "number") merged[k] = v;
    }
    const steps = this.#info.stepsPerEpoch ?? this.#step;
    const rate = elapsed > 0 && this.#samples > 0
      ? `  ${Math.round(this.#samples / elapsed)} samples/s`
      : "";
    const line = `${this.#epochLabel(epoch)}  ${this.#step || steps}/${steps || "?"}  ` +
      `${formatDuration(elapsed)}${rate}  ` +
      Object.entries(merged).map(([k, v]) => `${k} ${fmt(v)}`).join("  ");
    this.lines.push(line.trimEnd());
    this.#live = "";
    this.#lastUpdate = t;
    if (this.#sink) await this.#render(false);
    else this.#emitText(line.trimEnd(), true);
  }

  async onTrainEnd(_logs: Logs): Promise<void> {
    const seconds = (this.#now() - this.#trainStart) / 1000;
    const rate = seconds > 0 && this.#totalSamples > 0
      ? `, ${Math.round(this.#totalSamples / seconds)} samples/s`
      : "";
    this.#live = `done: ${this.lines.length} epoch${this.lines.length === 1 ? "" : "s"} in ` +
      `${formatDuration(seconds)}${rate}`;
    if (this.#sink) {
      await this.#render(false);
      await settle();
    } else this.#emitText(this.#live, true);
  }

  #epochLabel(epoch: number): string {
    return `Epoch ${epoch + 1}/${this.#info.epochs || "?"}`;
  }

  #liveLine(t: number): string {
    const elapsed = (t - this.#epochStart) / 1000;
    const steps = this.#info.stepsPerEpoch;
    const parts = [this.#epochLabel(this.#epoch)];
    if (steps) parts.push(`${bar(this.#step, steps)} ${this.#step}/${steps}`);
    else parts.push(`step ${this.#step}`);
    for (const k of Object.keys(this.#sums)) {
      parts.push(`${k} ${fmt(this.#sums[k] / this.#weights[k])}`);
    }
    if (elapsed > 0) parts.push(`${Math.round(this.#samples / elapsed)} samples/s`);
    if (steps && this.#step > 0 && this.#step < steps) {
      parts.push(`ETA ${formatDuration((elapsed / this.#step) * (steps - this.#step))}`);
    }
    return parts.join("  ");
  }

  /** The text of the output: title, epoch lines, live line. */
  text(): string {
    return [this.title, ...this.lines, this.#live].filter((s) => s).join("\n");
  }

  async #render(first: boolean): Promise<void> {
    if (!this.#sink) {
      this.#emitText(this.#live, false);
      return;
    }
    const text = this.text();
    const htmlText = (this.title ? `<b>${escapeHtml(this.title)}</b>\n` : "") +
      [...this.lines, this.#live].filter((s) => s).map(escapeHtml).join("\n");
    const msgType = first || !this.#shown ? "display_data" : "update_display_data";
    this.#shown = true;
    this.messages++;
    await this.#sink.broadcast(msgType, {
      data: {
        "text/plain": text,
        "text/html":
          `<pre class="tfjs-nb-progress" style="margin:0;line-height:1.35">${htmlText}</pre>`,
      },
      metadata: {},
      transient: { display_id: this.#displayId },
    });
  }

  #emitText(line: string, keep: boolean): void {
    if (!line) return;
    if (this.#inPlace) {
      const enc = new TextEncoder();
      Deno.stdout.writeSync(enc.encode(`\r${line}\x1b[K${keep ? "\n" : ""}`));
      return;
    }
    this.#write(line);
  }
}

/** A Keras-style progress line for `fit` and custom loops (see the module doc). */
export function progress(opts: ProgressOptions = {}): TrainingCallback {
  return new ProgressCallback(opts);
}
