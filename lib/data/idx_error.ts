/**
 * The error every IDX read or write throws for bad input: it names the file,
 * the fault and what to do.
 *
 * @example
 * ```ts
 * import { IdxFormatError } from "./idx_error.ts";
 * const e = new IdxFormatError("x.idx", "magic", "wrong magic number");
 * console.log(e.message, e.fault); // "x.idx: wrong magic number" "magic"
 * ```
 *
 * @module
 */

/** What is wrong with an IDX file. */
export type IdxFault =
  | "missing"
  | "unreadable"
  | "magic"
  | "dtype"
  | "truncated"
  | "trailing"
  | "gzip"
  | "shape"
  | "unwritable";

/**
 * Thrown for an IDX file that cannot be read or written: the message names the
 * file, the fault and what to do; `file` and `fault` carry them for code.
 */
export class IdxFormatError extends Error {
  /** The file (or `<bytes>` for an in-memory buffer). */
  readonly file: string;
  /** Which check failed. */
  readonly fault: IdxFault;
  constructor(file: string, fault: IdxFault, message: string, options?: ErrorOptions) {
    super(`${file}: ${message}`, options);
    this.name = "IdxFormatError";
    this.file = file;
    this.fault = fault;
  }
}
