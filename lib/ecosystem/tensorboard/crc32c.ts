/**
 * CRC-32C (Castagnoli), the checksum TFRecord files use, and TensorFlow's
 * "masked" form of it.
 *
 * TFRecord stores `mask(crc32c(x))` rather than the raw CRC because a CRC of
 * data that itself contains embedded CRCs is weak; the mask is a rotation
 * plus a constant (tensorflow/core/lib/hash/crc32c.h: `kMaskDelta =
 * 0xa282ead8`, `Mask(crc) = ((crc >> 15) | (crc << 17)) + kMaskDelta`).
 *
 * Checked against RFC 3720 appendix B.4 (32 zero bytes → 0x8A9136AA, 32 0xFF
 * bytes → 0x62A8AB43, bytes 0..31 → 0x46DD794E) and the usual check value
 * ("123456789" → 0xE3069283).
 *
 * @example
 * ```ts
 * import { crc32c, maskCrc32c } from "./crc32c.ts";
 * const crc = crc32c(new TextEncoder().encode("123456789"));
 * console.log(crc.toString(16)); // "e3069283"
 * console.log(maskCrc32c(crc));
 * ```
 *
 * @module
 */

/** The reflected Castagnoli polynomial 0x1EDC6F41. */
const POLY = 0x82f63b78;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `bytes` (unsigned 32-bit). */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masking of a CRC-32C (crc32c.h `Mask`). */
export function maskCrc32c(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Inverse of {@linkcode maskCrc32c} (crc32c.h `Unmask`). */
export function unmaskCrc32c(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/** `maskCrc32c(crc32c(bytes))`: what a TFRecord stores. */
export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc32c(crc32c(bytes));
}
