/**
 * A tiny protocol-buffers wire-format encoder and decoder: just what event
 * files need (varints, 64-bit doubles, 32-bit floats, length-delimited
 * bytes/strings/messages, packed repeated doubles). Field numbers live with
 * the callers, next to a citation of the TensorFlow .proto that defines them.
 *
 * Wire types (https://protobuf.dev/programming-guides/encoding/): 0 varint,
 * 1 fixed64, 2 length-delimited, 5 fixed32.
 *
 * @example
 * ```ts
 * import { decodeProto, ProtoWriter } from "./_proto.ts";
 * const bytes = new ProtoWriter().double(1, 1.5).string(3, "hi").finish();
 * console.log(decodeProto(bytes).get(3));
 * ```
 *
 * @module
 */

const encoder = new TextEncoder();

/** Builds one protobuf message. Chain the field calls, then `finish()`. */
export class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #rawVarint(v: bigint): void {
    // Negative int64 values are sent as their 64-bit two's complement (10 bytes).
    let x = BigInt.asUintN(64, v);
    this.#ensure(10);
    while (x >= 0x80n) {
      this.#buf[this.#len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.#buf[this.#len++] = Number(x);
  }

  #tag(field: number, wire: number): void {
    this.#rawVarint(BigInt((field << 3) | wire));
  }

  #raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** int32/int64/uint32/uint64/enum field (wire type 0). */
  varint(field: number, value: number | bigint): this {
    this.#tag(field, 0);
    this.#rawVarint(typeof value === "bigint" ? value : BigInt(Math.trunc(value)));
    return this;
  }

  /** bool field (wire type 0). */
  bool(field: number, value: boolean): this {
    return this.varint(field, value ? 1 : 0);
  }

  /** double field (wire type 1, little-endian IEEE 754 binary64). */
  double(field: number, value: number): this {
    this.#tag(field, 1);
    this.#ensure(8);
    new DataView(this.#buf.buffer).setFloat64(this.#len, value, true);
    this.#len += 8;
    return this;
  }

  /** float field (wire type 5, little-endian IEEE 754 binary32). */
  float(field: number, value: number): this {
    this.#tag(field, 5);
    this.#ensure(4);
    new DataView(this.#buf.buffer).setFloat32(this.#len, value, true);
    this.#len += 4;
    return this;
  }

  /** bytes or embedded-message field (wire type 2). */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#rawVarint(BigInt(value.length));
    this.#raw(value);
    return this;
  }

  /** string field (wire type 2, UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  /** Packed repeated double field (wire type 2 holding 8-byte values). */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const body = new Uint8Array(values.length * 8);
    const view = new DataView(body.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
    return this.bytes(field, body);
  }

  /** Packed repeated float field (wire type 2 holding 4-byte values). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const body = new Uint8Array(values.length * 4);
    const view = new DataView(body.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return this.bytes(field, body);
  }

  /** Packed repeated varint field (int32/int64/bool/enum). */
  packedVarints(field: number, values: ArrayLike<number>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.#rawVarint(BigInt(Math.trunc(values[i])));
    return this.bytes(field, inner.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** One decoded field occurrence: varints as bigint, fixed64/32 and length-delimited as bytes. */
export type ProtoField =
  | { wire: 0; value: bigint }
  | { wire: 1 | 2 | 5; value: Uint8Array };

/** Thrown when bytes are not a well-formed protobuf message. */
export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtoDecodeError";
  }
}

/** Decode one message level into field number → occurrences (in order). */
export function decodeProto(bytes: Uint8Array): Map<number, ProtoField[]> {
  const out = new Map<number, ProtoField[]>();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    while (true) {
      if (pos >= bytes.length) {
        throw new ProtoDecodeError("varint runs past the end of the message");
      }
      const b = bytes[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > bytes.length) {
      throw new ProtoDecodeError("field runs past the end of the message");
    }
    const v = bytes.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let entry: ProtoField;
    if (wire === 0) entry = { wire: 0, value: varint() };
    else if (wire === 1) entry = { wire: 1, value: take(8) };
    else if (wire === 2) entry = { wire: 2, value: take(Number(varint())) };
    else if (wire === 5) entry = { wire: 5, value: take(4) };
    else throw new ProtoDecodeError(`unsupported wire type ${wire} for field ${field}`);
    const list = out.get(field);
    if (list) list.push(entry);
    else out.set(field, [entry]);
  }
  return out;
}

const decoder = new TextDecoder();

/** Helpers to read typed values out of {@linkcode decodeProto}'s map (last one wins). */
export const read = {
  double(m: Map<number, ProtoField[]>, f: number): number | undefined {
    const e = m.get(f)?.at(-1);
    if (!e || e.wire !== 1) return undefined;
    return new DataView(e.value.buffer, e.value.byteOffset, 8).getFloat64(0, true);
  },
  float(m: Map<number, ProtoField[]>, f: number): number | undefined {
    const e = m.get(f)?.at(-1);
    if (!e || e.wire !== 5) return undefined;
    return new DataView(e.value.buffer, e.value.byteOffset, 4).getFloat32(0, true);
  },
  int(m: Map<number, ProtoField[]>, f: number): number | undefined {
    const e = m.get(f)?.at(-1);
    if (!e || e.wire !== 0) return undefined;
    return Number(BigInt.asIntN(64, e.value));
  },
  bytes(m: Map<number, ProtoField[]>, f: number): Uint8Array | undefined {
    const e = m.get(f)?.at(-1);
    return e && e.wire === 2 ? e.value : undefined;
  },
  string(m: Map<number, ProtoField[]>, f: number): string | undefined {
    const b = read.bytes(m, f);
    return b === undefined ? undefined : decoder.decode(b);
  },
  all(m: Map<number, ProtoField[]>, f: number): Uint8Array[] {
    return (m.get(f) ?? []).flatMap((e) => (e.wire === 2 ? [e.value] : []));
  },
  packedDoubles(m: Map<number, ProtoField[]>, f: number): number[] {
    const out: number[] = [];
    for (const b of read.all(m, f)) {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i + 8 <= b.byteLength; i += 8) out.push(v.getFloat64(i, true));
    }
    return out;
  },
};
