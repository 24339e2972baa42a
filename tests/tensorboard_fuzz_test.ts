/**
 * Fuzz test of the event-file reader (issue 12: "a fuzz test per reader").
 *
 * TensorFlow's `RecordReader` (tensorflow/core/lib/io/record_reader.cc) turns
 * every damaged TFRecord file into a `DataLossError` ("truncated record at N",
 * "corrupted record at N"); the reader here must likewise either read a file
 * or raise the project's typed `TfRecordError`, never a raw `RangeError` or
 * `TypeError`, never allocate what a damaged length field claims, and never
 * write to the file it reads.
 */
import assert from "node:assert/strict";
import {
  encodeTfRecord,
  listEventFiles,
  maskedCrc32c,
  scanEventBytes,
  scanEventFile,
  scanTfRecords,
  summaryFileWriter,
  TfRecordError,
} from "../lib/ecosystem/mod.ts";

/** mulberry32: a small seeded generator, so every run mutates the same way. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const KINDS = [
  "flip",
  "truncate",
  "insert",
  "delete",
  "duplicate",
  "reframe",
  "length",
] as const;
type Kind = typeof KINDS[number];

/** One random mutation of `file` (whose records start at `offsets`). */
function mutate(
  file: Uint8Array,
  records: Uint8Array[],
  offsets: number[],
  r: () => number,
): { kind: Kind; bytes: Uint8Array } {
  const int = (n: number) => Math.floor(r() * n);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const splice = (at: number, remove: number, insert: Uint8Array) => {
    const out = new Uint8Array(file.length - remove + insert.length);
    out.set(file.subarray(0, at));
    out.set(insert, at);
    out.set(file.subarray(at + remove), at + insert.length);
    return out;
  };
  const kind = KINDS[int(KINDS.length)];
  switch (kind) {
    case "flip": { // 1-4 bytes changed anywhere
      const b = file.slice();
      for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] ^= 1 + int(255);
      return { kind, bytes: b };
    }
    case "truncate":
      return { kind, bytes: file.slice(0, int(file.length)) };
    case "insert":
      return { kind, bytes: splice(int(file.length + 1), 0, randomBytes(1 + int(32))) };
    case "delete": {
      const at = int(file.length);
      return { kind, bytes: splice(at, Math.min(1 + int(32), file.length - at), new Uint8Array()) };
    }
    case "duplicate": {
      const from = int(file.length), n = 1 + int(64);
      return { kind, bytes: splice(int(file.length + 1), 0, file.slice(from, from + n)) };
    }
    case "reframe": {
      // A record's payload damaged, then framed again with valid CRCs: the
      // Event decoder, not the CRC, must catch it.
      const i = int(records.length);
      const p = records[i].slice();
      const op = int(3);
      let payload = p;
      if (op === 0 && p.length) {
        for (let k = 1 + int(4); k > 0; k--) {
          p[int(p.length)] = int(256);
        }
      } else if (op === 1) payload = p.slice(0, int(p.length + 1));
      else {
        const at = int(p.length + 1);
        payload = new Uint8Array([
          ...p.subarray(0, at),
          ...randomBytes(1 + int(16)),
          ...p.subarray(at),
        ]);
      }
      const start = offsets[i], end = start + records[i].length + 16;
      const framed = encodeTfRecord(payload);
      return { kind, bytes: splice(start, end - start, framed) };
    }
    case "length": {
      // A length field rewritten (huge or off by a little) with its CRC made valid.
      const i = int(offsets.length);
      const b = file.slice();
      const view = new DataView(b.buffer);
      const claims = [2n ** 64n - 1n, 2n ** 63n, 2n ** 32n, BigInt(int(1 << 20)), BigInt(int(64))];
      view.setBigUint64(offsets[i], claims[int(claims.length)], true);
      view.setUint32(offsets[i] + 8, maskedCrc32c(b.subarray(offsets[i], offsets[i] + 8)), true);
      return { kind, bytes: b };
    }
  }
}

const MUTATIONS = 3000;

Deno.test(
  `event file reader fuzz: ${MUTATIONS} seeded mutations of a valid event file (byte flips, ` +
    "truncations, insertions, deletions, re-framed garbage, forged lengths) each read or raise " +
    "TfRecordError (TF's reader: DataLossError), memory stays bounded, the file is unchanged",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "tb_fuzz_" });
    try {
      const w = summaryFileWriter(dir);
      for (let i = 0; i < 10; i++) w.scalar("loss", 1 / (i + 1), i);
      w.histogram("weights", [0.5, -1, 2, 2, 3.5, -0.25], 10, { buckets: 4 });
      w.image("digit", Uint8Array.from({ length: 64 }, (_, i) => i * 4), 10, {
        width: 8,
        height: 8,
      });
      w.graph([
        { name: "x", type: "Placeholder", inputs: [], dtype: "float32", shape: [null, 4] },
        { name: "y", type: "Relu", inputs: ["x"], dtype: "float32", shape: [null, 4] },
      ]);
      w.close();
      const [path] = await listEventFiles(dir);
      const original = await Deno.readFile(path);
      const digest = await sha256(original);
      const { records, offsets } = scanTfRecords(original, path);
      assert.equal(records.length, 14);
      assert.equal(scanEventBytes(original, path).events.length, 14);

      const r = rng(20261130);
      const outcomes: Record<string, number> = {};
      const heap0 = Deno.memoryUsage().heapUsed;
      let heapPeak = heap0;
      const copy = `${dir}/mutated.tfevents`;
      for (let i = 0; i < MUTATIONS; i++) {
        const { kind, bytes } = mutate(original, records, offsets, r);
        let outcome: string;
        try {
          // Every tenth goes through a file; the rest through the bytes-level reader.
          const scan = i % 10 === 0
            ? (await Deno.writeFile(copy, bytes), await scanEventFile(copy))
            : scanEventBytes(bytes, "mutated");
          assert.ok(scan.truncatedBytes >= 0 && scan.truncatedBytes <= bytes.length);
          assert.ok(scan.events.length <= Math.floor(bytes.length / 16), `mutation ${i}`);
          outcome = scan.truncatedAt === null ? "read" : "truncated tail";
        } catch (e) {
          if (!(e instanceof TfRecordError)) {
            throw new Error(`mutation ${i} (${kind}) raised ${(e as Error)?.name}: ${e}`);
          }
          assert.ok(
            e.offset !== undefined && e.offset >= 0 && e.offset < bytes.length,
            `mutation ${i}: offset ${e.offset}`,
          );
          assert.match(e.message, /at byte \d+/);
          outcome = e.problem ?? "unknown";
        }
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (i % 250 === 0) heapPeak = Math.max(heapPeak, Deno.memoryUsage().heapUsed);
      }
      console.log(`outcomes of ${MUTATIONS} mutations:`, outcomes);
      // Every path was exercised: whole files, cut tails, bad CRCs and undecodable events.
      for (const o of ["read", "truncated tail", "corrupted", "malformed"]) {
        assert.ok(
          (outcomes[o] ?? 0) > 0,
          `no mutation ended as "${o}": ${JSON.stringify(outcomes)}`,
        );
      }
      // A forged 2^64-byte length must not be allocated: the heap stays near where it began.
      assert.ok(
        heapPeak - heap0 < 64 * 1024 * 1024,
        `heap grew ${(heapPeak - heap0) / 1e6} MB`,
      );
      assert.equal(await sha256(await Deno.readFile(path)), digest, "the event file is unchanged");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
