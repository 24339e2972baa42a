/**
 * TensorFlow's `Event` and `Summary` messages: encoding for the summary
 * writer, and a small reader for event files (to plot what was logged).
 *
 * Field numbers, from TensorFlow's own protos:
 * - tensorflow/core/util/event.proto, `message Event`: `double wall_time = 1;
 *   int64 step = 2; oneof what { string file_version = 3; bytes graph_def = 4;
 *   Summary summary = 5; ... }`.
 * - tensorflow/core/framework/summary.proto, `message Summary { repeated Value
 *   value = 1; }`; `Summary.Value`: `string tag = 1; oneof value { float
 *   simple_value = 2; Image image = 4; HistogramProto histo = 5; ... }`;
 *   `Summary.Image`: `int32 height = 1; int32 width = 2; int32 colorspace = 3;
 *   bytes encoded_image_string = 4;`; `HistogramProto`: `double min = 1;
 *   double max = 2; double num = 3; double sum = 4; double sum_squares = 5;
 *   repeated double bucket_limit = 6 [packed]; repeated double bucket = 7
 *   [packed];`.
 *
 * These are the "legacy" summary values (simple_value, histo, image) that
 * TensorBoard still reads and converts to its scalar, histogram and image
 * plugins (tensorboard/data_compat.py).
 *
 * @example
 * Reading an event file: {@linkcode scanEventFile} returns the whole events
 * and reports a last record cut short (a file still being written, or a
 * crash), as TensorBoard reads a live run; {@linkcode readEventFile} refuses a
 * cut-short file as TensorFlow's `summary_iterator` does (`DataLossError:
 * truncated record`). Every failure is a `TfRecordError` naming the file and
 * the byte offset of the bad record.
 *
 * ```ts
 * import { decodeEvent, encodeEvent } from "./event.ts";
 * const bytes = encodeEvent({ wallTime: 1, step: 3, summary: [{ tag: "loss", simpleValue: 0.5 }] });
 * console.log(decodeEvent(bytes).summary);
 * ```
 *
 * @module
 */
import { decodeProto, ProtoWriter, read } from "./_proto.ts";
import { scanTfRecords, TfRecordError } from "./tfrecord.ts";

/** The `file_version` every event file starts with (event.proto comment). */
export const FILE_VERSION = "brain.Event:2";

/** `HistogramProto` (summary.proto). Bucket `i` covers `(bucketLimit[i-1], bucketLimit[i]]`. */
export interface Histogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

/** `Summary.Image` (summary.proto). Colorspace 1 = grayscale. */
export interface SummaryImage {
  height: number;
  width: number;
  colorspace: number;
  encodedImage: Uint8Array;
}

/** One `Summary.Value`: a tag with exactly one of the value kinds. */
export interface SummaryValue {
  tag: string;
  simpleValue?: number;
  histo?: Histogram;
  image?: SummaryImage;
}

/** One `Event` record. */
export interface EventRecord {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** A serialized `GraphDef` (graph.proto). */
  graphDef?: Uint8Array;
  summary?: SummaryValue[];
}

function encodeHistogram(h: Histogram): Uint8Array {
  return new ProtoWriter()
    .double(1, h.min)
    .double(2, h.max)
    .double(3, h.num)
    .double(4, h.sum)
    .double(5, h.sumSquares)
    .packedDoubles(6, h.bucketLimit)
    .packedDoubles(7, h.bucket)
    .finish();
}

function encodeImage(img: SummaryImage): Uint8Array {
  return new ProtoWriter()
    .varint(1, img.height)
    .varint(2, img.width)
    .varint(3, img.colorspace)
    .bytes(4, img.encodedImage)
    .finish();
}

function encodeValue(v: SummaryValue): Uint8Array {
  const w = new ProtoWriter().string(1, v.tag);
  // simple_value is in a oneof, so 0 is written explicitly (presence matters).
  if (v.simpleValue !== undefined) w.float(2, v.simpleValue);
  else if (v.image) w.bytes(4, encodeImage(v.image));
  else if (v.histo) w.bytes(5, encodeHistogram(v.histo));
  return w.finish();
}

/** Serialize an `Event`. */
export function encodeEvent(e: EventRecord): Uint8Array {
  const w = new ProtoWriter().double(1, e.wallTime);
  if (e.step !== 0) w.varint(2, e.step);
  if (e.fileVersion !== undefined) w.string(3, e.fileVersion);
  else if (e.graphDef !== undefined) w.bytes(4, e.graphDef);
  else if (e.summary !== undefined) {
    const s = new ProtoWriter();
    for (const v of e.summary) s.bytes(1, encodeValue(v));
    w.bytes(5, s.finish());
  }
  return w.finish();
}

/** Parse one serialized `Event`. */
export function decodeEvent(bytes: Uint8Array): EventRecord {
  const m = decodeProto(bytes);
  const e: EventRecord = { wallTime: read.double(m, 1) ?? 0, step: read.int(m, 2) ?? 0 };
  const fv = read.string(m, 3);
  if (fv !== undefined) e.fileVersion = fv;
  const g = read.bytes(m, 4);
  if (g !== undefined) e.graphDef = g;
  const s = read.bytes(m, 5);
  if (s !== undefined) {
    e.summary = read.all(decodeProto(s), 1).map((vb) => {
      const vm = decodeProto(vb);
      const v: SummaryValue = { tag: read.string(vm, 1) ?? "" };
      const sv = read.float(vm, 2);
      if (sv !== undefined) v.simpleValue = sv;
      const ib = read.bytes(vm, 4);
      if (ib !== undefined) {
        const im = decodeProto(ib);
        v.image = {
          height: read.int(im, 1) ?? 0,
          width: read.int(im, 2) ?? 0,
          colorspace: read.int(im, 3) ?? 0,
          encodedImage: read.bytes(im, 4) ?? new Uint8Array(0),
        };
      }
      const hb = read.bytes(vm, 5);
      if (hb !== undefined) {
        const hm = decodeProto(hb);
        v.histo = {
          min: read.double(hm, 1) ?? 0,
          max: read.double(hm, 2) ?? 0,
          num: read.double(hm, 3) ?? 0,
          sum: read.double(hm, 4) ?? 0,
          sumSquares: read.double(hm, 5) ?? 0,
          bucketLimit: read.packedDoubles(hm, 6),
          bucket: read.packedDoubles(hm, 7),
        };
      }
      return v;
    });
  }
  return e;
}

/** What {@linkcode scanEventFile} found in one event file. */
export interface EventFileScan {
  /** The file (or the `source` given to {@linkcode scanEventBytes}). */
  path: string;
  /** The events of the whole records, in order. */
  events: EventRecord[];
  /** Byte offset where a record cut short begins, or null when the file ends on a whole record. */
  truncatedAt: number | null;
  /** Bytes after the last whole record (0 when none). */
  truncatedBytes: number;
}

/**
 * Decode the bytes of an event file: every whole record's CRCs checked and its
 * `Event` decoded; a last record cut short is reported, not thrown. Throws
 * {@linkcode TfRecordError} naming `source` and the byte offset for a bad CRC
 * (`problem: "corrupted"`) or a record that is not an `Event` (`"malformed"`).
 */
export function scanEventBytes(bytes: Uint8Array, source = "<bytes>"): EventFileScan {
  const scan = scanTfRecords(bytes, source);
  const events = scan.records.map((r, i) => {
    try {
      return decodeEvent(r);
    } catch (e) {
      throw new TfRecordError(
        `${source}: the record at byte ${scan.offsets[i]} has valid CRCs but is not a ` +
          `TensorFlow Event (${(e as Error).message}): not an event file?`,
        { source, offset: scan.offsets[i], problem: "malformed", cause: e },
      );
    }
  });
  return {
    path: source,
    events,
    truncatedAt: scan.truncatedAt,
    truncatedBytes: scan.truncatedBytes,
  };
}

async function readRegularFile(path: string): Promise<Uint8Array> {
  const info = await Deno.stat(path);
  if (!info.isFile) {
    throw new TfRecordError(`${path}: not a regular file, so not an event file`, {
      source: path,
      problem: "unreadable",
    });
  }
  return await Deno.readFile(path);
}

/**
 * Every whole `Event` of one event file, and what follows the last whole
 * record (a file cut short, or still being written). Throws
 * {@linkcode TfRecordError} for a bad CRC or a record that is not an `Event`.
 */
export async function scanEventFile(path: string): Promise<EventFileScan> {
  return scanEventBytes(await readRegularFile(path), path);
}

/**
 * Read every `Event` of one event file, checking each record's CRCs. A file
 * whose last record is cut short throws {@linkcode TfRecordError} (`problem:
 * "truncated"`, as TensorFlow's reader raises `DataLossError: truncated
 * record at N`); {@linkcode scanEventFile} returns the whole records instead.
 */
export async function readEventFile(path: string): Promise<EventRecord[]> {
  const scan = await scanEventFile(path);
  if (scan.truncatedAt !== null) {
    throw new TfRecordError(
      `${path}: truncated record at byte ${scan.truncatedAt} (the last ${scan.truncatedBytes} ` +
        `byte(s) are not a whole record: the file was cut short, or is still being written). ` +
        `The ${scan.events.length} whole event(s) before it: scanEventFile(path).events`,
      { source: path, offset: scan.truncatedAt, problem: "truncated" },
    );
  }
  return scan.events;
}

/** The event files under `dir` (recursively), sorted by path. */
export async function listEventFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for await (const entry of Deno.readDir(d)) {
      const p = `${d}/${entry.name}`;
      if (entry.isDirectory) await walk(p);
      else if (entry.isFile && entry.name.includes("tfevents")) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** A scalar series: `steps[i]` ↦ `values[i]`. */
export interface ScalarSeries {
  steps: number[];
  values: number[];
}

/**
 * All scalar summaries of the event files under `dir` (or one file), by
 * `run/tag`, where run is the file's folder relative to `dir` ("." for `dir`
 * itself), as TensorBoard groups them. Like TensorBoard reading a live run, it
 * takes the whole records of a file whose last record is cut short (use
 * {@linkcode scanEventFile} to see what was left); a bad CRC throws.
 */
export async function readScalars(dir: string): Promise<Record<string, ScalarSeries>> {
  const files = (await Deno.stat(dir)).isFile ? [dir] : await listEventFiles(dir);
  const out: Record<string, ScalarSeries> = {};
  for (const f of files) {
    const folder = f.slice(0, f.lastIndexOf("/"));
    const run = folder === dir ? "." : folder.slice(dir.length + 1) || ".";
    for (const e of (await scanEventFile(f)).events) {
      for (const v of e.summary ?? []) {
        if (v.simpleValue === undefined) continue;
        const key = `${run}/${v.tag}`;
        const s = out[key] ??= { steps: [], values: [] };
        s.steps.push(e.step);
        s.values.push(v.simpleValue);
      }
    }
  }
  return out;
}

/** One row of {@linkcode eventFileSummary}. */
export interface EventFileInfo {
  /** Path relative to the folder summarised. */
  file: string;
  bytes: number;
  records: number;
  /** Distinct summary tags, in first-seen order (`"graph"` for a graph_def event). */
  tags: string;
  /** Bytes after the last whole record, when the file's last record is cut short. */
  truncatedBytes?: number;
}

/**
 * What each event file under `dir` holds: size, record count and tags (every
 * CRC checked; a cut-short last record is counted in `truncatedBytes`).
 */
export async function eventFileSummary(dir: string): Promise<EventFileInfo[]> {
  const rows: EventFileInfo[] = [];
  for (const f of await listEventFiles(dir)) {
    const { events, truncatedBytes } = await scanEventFile(f);
    const tags = new Set<string>();
    for (const e of events) {
      if (e.graphDef) tags.add("graph");
      for (const v of e.summary ?? []) tags.add(v.tag);
    }
    rows.push({
      file: f.slice(dir.length + 1),
      bytes: (await Deno.stat(f)).size,
      records: events.length,
      tags: [...tags].join(", "),
      ...(truncatedBytes ? { truncatedBytes } : {}),
    });
  }
  return rows;
}
