/**
 * TFRecord framing, the container of TensorFlow event files.
 *
 * Each record is (tensorflow/core/lib/io/record_writer.cc):
 *
 * ```
 * uint64 length            little-endian
 * uint32 masked_crc32c(length bytes)
 * byte   data[length]
 * uint32 masked_crc32c(data)
 * ```
 *
 * Reading follows TensorFlow's `RecordReader` (tensorflow/core/lib/io/
 * record_reader.cc): a record whose bytes end before its header or data is
 * complete is a "truncated record at N" (`DataLossError`); a CRC that does not
 * match is a "corrupted record at N". {@linkcode scanTfRecords} returns the
 * whole records before a truncated tail and reports the tail (what TensorBoard
 * does with a file still being written); {@linkcode readTfRecords} refuses it.
 * Both throw {@linkcode TfRecordError}, naming the source and the byte offset,
 * on a bad CRC. Neither allocates more than the input: payloads are views.
 *
 * @example
 * ```ts
 * import { encodeTfRecord, readTfRecords, scanTfRecords } from "./tfrecord.ts";
 * const rec = encodeTfRecord(new Uint8Array([1, 2, 3]));
 * console.log(readTfRecords(rec)); // [ Uint8Array(3) [1, 2, 3] ]
 * const cut = new Uint8Array([...rec, ...rec.subarray(0, 5)]);
 * console.log(scanTfRecords(cut).truncatedAt); // 19: one whole record, then 5 bytes
 * ```
 *
 * @module
 */
import { maskedCrc32c } from "./crc32c.ts";

/** What is wrong with a record: cut short, a CRC that does not match, or not the expected message. */
export type TfRecordProblem = "truncated" | "corrupted" | "malformed" | "unreadable";

/**
 * Thrown when bytes are not valid TFRecord framing (a record cut short or a
 * bad CRC), or a record is not the message expected. `source` and `offset`
 * name the file and the byte where the bad record starts.
 */
export class TfRecordError extends Error {
  /** The file (or `"<bytes>"`) the record came from. */
  readonly source?: string;
  /** Byte offset of the bad record's header in `source`. */
  readonly offset?: number;
  /** What is wrong. */
  readonly problem?: TfRecordProblem;
  constructor(
    message: string,
    details: { source?: string; offset?: number; problem?: TfRecordProblem; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "TfRecordError";
    this.source = details.source;
    this.offset = details.offset;
    this.problem = details.problem;
  }
}

/** Frame `payload` as one TFRecord (16 bytes of header and footer around it). */
export function encodeTfRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(payload.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(payload, 12);
  view.setUint32(12 + payload.length, maskedCrc32c(payload), true);
  return out;
}

/** What {@linkcode scanTfRecords} found. */
export interface TfRecordScan {
  /** The payloads of the whole records, in order (views into the input). */
  records: Uint8Array[];
  /** Byte offset of each record's header. */
  offsets: number[];
  /** Where a record cut short begins (TF: "truncated record at N"), or null when none is. */
  truncatedAt: number | null;
  /** Bytes from `truncatedAt` to the end (0 when nothing is cut short). */
  truncatedBytes: number;
}

/**
 * Split `bytes` into TFRecord payloads, checking both CRCs of every record.
 * A last record cut short is reported in `truncatedAt`/`truncatedBytes`, not
 * thrown; a CRC mismatch throws {@linkcode TfRecordError} (`problem:
 * "corrupted"`) naming `source` and the record's byte offset.
 */
export function scanTfRecords(bytes: Uint8Array, source = "<bytes>"): TfRecordScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  const offsets: number[] = [];
  const corrupted = (pos: number, what: string) =>
    new TfRecordError(
      `${source}: corrupted record at byte ${pos}: its ${what} CRC does not match (the file was ` +
        `damaged or changed after it was written; the ${records.length} record(s) before it are ` +
        `whole)`,
      { source, offset: pos, problem: "corrupted" },
    );
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) break; // header cut short
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(bytes.subarray(pos, pos + 8))) {
      throw corrupted(pos, "length");
    }
    const len = view.getBigUint64(pos, true);
    const start = pos + 12;
    // Compared as bigints: a length near 2^64 must not wrap or lose precision.
    if (BigInt(start) + len + 4n > BigInt(bytes.length)) break; // data or footer cut short
    const end = start + Number(len);
    const payload = bytes.subarray(start, end);
    if (view.getUint32(end, true) !== maskedCrc32c(payload)) throw corrupted(pos, "data");
    records.push(payload);
    offsets.push(pos);
    pos = end + 4;
  }
  const truncatedBytes = bytes.length - pos;
  return { records, offsets, truncatedAt: truncatedBytes ? pos : null, truncatedBytes };
}

/**
 * Split `bytes` into TFRecord payloads, checking both CRCs of every record;
 * a record cut short throws too (`problem: "truncated"`), as TensorFlow's
 * reader raises `DataLossError: truncated record at N`. `source` names the
 * file in error messages.
 */
export function readTfRecords(bytes: Uint8Array, source = "<bytes>"): Uint8Array[] {
  const scan = scanTfRecords(bytes, source);
  if (scan.truncatedAt !== null) {
    throw new TfRecordError(
      `${source}: truncated record at byte ${scan.truncatedAt} (the last ${scan.truncatedBytes} ` +
        `byte(s) are not a whole record: the file was cut short, or is still being written; ` +
        `the ${scan.records.length} record(s) before it are whole: scanTfRecords returns them)`,
      { source, offset: scan.truncatedAt, problem: "truncated" },
    );
  }
  return scan.records;
}
