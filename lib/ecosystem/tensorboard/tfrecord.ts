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
 * @example
 * ```ts
 * import { encodeTfRecord, readTfRecords } from "./tfrecord.ts";
 * const rec = encodeTfRecord(new Uint8Array([1, 2, 3]));
 * console.log(readTfRecords(rec)); // [ Uint8Array(3) [1, 2, 3] ]
 * ```
 *
 * @module
 */
import { maskedCrc32c } from "./crc32c.ts";

/** Thrown when bytes are not valid TFRecord framing (bad length or CRC). */
export class TfRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TfRecordError";
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

/**
 * Split `bytes` into TFRecord payloads, checking both CRCs of every record.
 * `source` names the file in error messages.
 */
export function readTfRecords(bytes: Uint8Array, source = "<bytes>"): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) {
      throw new TfRecordError(
        `${source}: truncated record header at byte ${pos} (file cut short while being written?)`,
      );
    }
    const len = Number(view.getBigUint64(pos, true));
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(bytes.subarray(pos, pos + 8))) {
      throw new TfRecordError(`${source}: length CRC mismatch in the record at byte ${pos}`);
    }
    const start = pos + 12;
    if (start + len + 4 > bytes.length) {
      throw new TfRecordError(
        `${source}: record at byte ${pos} claims ${len} bytes but the file ends first`,
      );
    }
    const payload = bytes.subarray(start, start + len);
    if (view.getUint32(start + len, true) !== maskedCrc32c(payload)) {
      throw new TfRecordError(`${source}: data CRC mismatch in the record at byte ${pos}`);
    }
    out.push(payload);
    pos = start + len + 4;
  }
  return out;
}
