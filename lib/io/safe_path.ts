/**
 * Opening files named by untrusted data (a `model.json` manifest, a
 * checkpoint index, a data folder) safely: the name must resolve inside the
 * folder it was read from (no absolute path, no `..`, no symlink out), and
 * name a regular file (a FIFO or a device would block or never end), checked
 * with `stat` before a byte is read; reads stop at a byte bound.
 *
 * The checks throw what the caller's `fail(fault, message)` returns, so each
 * reader keeps its own typed error (`ModelFileError`, `IdxFormatError`, ...).
 *
 * @example
 * ```ts
 * import { resolveInside } from "./safe_path.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.bin`, "x");
 * const fail = (_fault: string, message: string) => new Error(message);
 * console.log((await resolveInside(dir, "a.bin", fail)).info.size); // 1
 * await resolveInside(dir, "../etc/passwd", fail).catch((e) => console.log(e.message));
 * ```
 *
 * @module
 */
import { isAbsolute, join, sep } from "node:path";

/** What is wrong with a path. */
export type PathFault =
  | "missing"
  | "loop"
  | "not-utf8"
  | "not-file"
  | "not-dir"
  | "outside"
  | "unreadable"
  | "too-large";

/** Makes the caller's typed error from a fault and a message (which does not repeat the path). */
export type FailFn = (fault: PathFault, message: string) => Error;

/** True when the path holds U+FFFD or a lone surrogate: a name that was not valid UTF-8. */
export function notUtf8(path: string): boolean {
  return /[\uFFFD]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(
    path,
  );
}

/** The fault and a sentence for an error thrown by a Deno file-system call on `path`. */
export function describeFsError(path: string, e: unknown): { fault: PathFault; message: string } {
  if (e instanceof Deno.errors.NotFound) {
    if (notUtf8(path)) {
      return {
        fault: "not-utf8",
        message: "the path contains a name that is not valid UTF-8 (shown as \uFFFD), which " +
          "Deno cannot open; rename the file or folder",
      };
    }
    return { fault: "missing", message: "not found" };
  }
  if (e instanceof Deno.errors.FilesystemLoop) {
    return { fault: "loop", message: "a symlink loop (too many levels of symbolic links)" };
  }
  if (e instanceof Deno.errors.NotADirectory) {
    return { fault: "not-dir", message: "a part of the path is a file, not a folder" };
  }
  return { fault: "unreadable", message: `cannot be read (${(e as Error)?.message ?? e})` };
}

/** `stat` (following symlinks), with errors described. */
export async function statPath(path: string, fail: FailFn): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    const { fault, message } = describeFsError(path, e);
    throw fail(fault, message);
  }
}

/** `stat` `path`: it must be a regular file (a FIFO, device or folder is refused before opening). */
export async function statRegularFile(path: string, fail: FailFn): Promise<Deno.FileInfo> {
  const info = await statPath(path, fail);
  if (!info.isFile) {
    const what = info.isDirectory
      ? "a folder"
      : info.isFifo
      ? "a FIFO (named pipe)"
      : info.isCharDevice || info.isBlockDevice
      ? "a device"
      : info.isSocket
      ? "a socket"
      : "not a regular file";
    throw fail("not-file", `is ${what}, not a regular file; only regular files are read`);
  }
  return info;
}

/**
 * Resolves `name`, a relative path taken from a file in `dir`, to a regular
 * file inside `dir`: refuses an empty or absolute name, a `..` segment, a
 * symlink that leads out of `dir`, a loop, and anything but a regular file.
 */
export async function resolveInside(
  dir: string,
  name: unknown,
  fail: FailFn,
): Promise<{ path: string; info: Deno.FileInfo }> {
  if (typeof name !== "string" || name === "" || name.includes("\0")) {
    throw fail("outside", `${JSON.stringify(name)} is not a file name`);
  }
  if (isAbsolute(name) || name.startsWith("\\") || /^[A-Za-z]:/.test(name)) {
    throw fail("outside", `"${name}" is an absolute path; only names inside the folder are read`);
  }
  if (name.split(/[\\/]/).includes("..")) {
    throw fail(
      "outside",
      `"${name}" leads out of the folder (".."); only names inside it are read`,
    );
  }
  const path = join(dir, name);
  let real: string, realDir: string;
  try {
    realDir = await Deno.realPath(dir);
    real = await Deno.realPath(path);
  } catch (e) {
    const { fault, message } = describeFsError(path, e);
    throw fail(fault, message);
  }
  if (!real.startsWith(realDir.endsWith(sep) ? realDir : realDir + sep)) {
    throw fail("outside", `"${name}" is a symlink that leads out of the folder (to ${real})`);
  }
  const info = await statRegularFile(path, fail);
  return { path, info };
}

/**
 * Reads at most `max` bytes of the regular file `path`; a file longer than
 * `max` (it grew since its `stat`) is refused without reading the rest.
 */
export async function readAtMost(path: string, max: number, fail: FailFn): Promise<Uint8Array> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    const { fault, message } = describeFsError(path, e);
    throw fail(fault, message);
  }
  try {
    // Grown as bytes arrive: `max` is a bound, not what a short file costs.
    let out = new Uint8Array(Math.min(max + 1, 1 << 16));
    let n = 0;
    while (true) {
      if (n === out.length) {
        if (out.length === max + 1) break;
        const grown = new Uint8Array(Math.min(max + 1, out.length * 2));
        grown.set(out);
        out = grown;
      }
      const got = await f.read(out.subarray(n));
      if (got === null) break;
      n += got;
    }
    if (n > max) throw fail("too-large", `is larger than the ${max} bytes expected`);
    return out.subarray(0, n);
  } finally {
    f.close();
  }
}
