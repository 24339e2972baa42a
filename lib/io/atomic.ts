/**
 * Atomic file writes, of one file or of a set of files that belong together
 * (a model's `model.json` and its weights, a checkpoint and its index).
 *
 * One mechanism serves both, {@linkcode commitFiles}: every file is written
 * to a temporary sibling and synced; the *parts* (files that the entry point
 * names, under names the current entry point does not use) are renamed into
 * place first; then the *manifest*, the entry point that names them, is
 * renamed over the old one: that single rename is the moment of commit.
 * Only then are the files of the previous state that the new manifest no
 * longer names removed. A reader that starts from the manifest therefore sees
 * the whole old state or the whole new one, never a mix; a failure at any step
 * before the commit leaves the old state untouched (and removes what it
 * wrote), a failure after it leaves the new state (and at worst an orphan file).
 * {@linkcode writeFileAtomic} is the case of a manifest without parts.
 *
 * The file-system calls go through {@linkcode atomicFs}, which tests replace
 * to inject a failure at each write, rename and removal in turn.
 *
 * @example
 * ```ts
 * import { commitFiles, writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/hello.txt`, "hi");
 * console.log(await Deno.readTextFile(`${dir}/hello.txt`)); // "hi"
 * await commitFiles(dir, {
 *   parts: [{ name: "data-1.bin", data: new Uint8Array([1, 2, 3]) }],
 *   manifest: { name: "index.json", data: '{"data":"data-1.bin"}' },
 * });
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/**
 * The file-system calls {@linkcode commitFiles} makes. Replace a member (and
 * put it back) to observe or fail a step; for tests.
 */
export const atomicFs: {
  /** Create `path` (which must not exist), write `data` and sync it. */
  write(path: string, data: Uint8Array): Promise<void>;
  /** Rename `from` over `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Remove a file. */
  remove(path: string): Promise<void>;
  /** Sync a directory, so that renames in it survive a power cut (best effort). */
  syncDir(dir: string): Promise<void>;
} = {
  async write(path, data) {
    const f = await Deno.open(path, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      await f.syncData();
    } finally {
      f.close();
    }
  },
  rename: (from, to) => Deno.rename(from, to),
  remove: (path) => Deno.remove(path),
  async syncDir(dir) {
    try {
      const f = await Deno.open(dir, { read: true });
      try {
        await f.syncData();
      } finally {
        f.close();
      }
    } catch {
      // Some file systems cannot sync a directory; the renames are still atomic.
    }
  },
};

/** A file of {@linkcode commitFiles} could not be written; `path` names the target, not a temporary. */
export class FileWriteError extends Error {
  /** The file that was to be written. */
  readonly path: string;
  /** What went wrong, without the path: "cannot be written (the folder … does not exist; …)". */
  readonly reason: string;
  constructor(path: string, cause: unknown) {
    const reason = `cannot be written (${fsReason(path, cause)})`;
    super(`${path}: ${reason}`, { cause });
    this.name = "FileWriteError";
    this.path = path;
    this.reason = reason;
  }
}

function fsReason(path: string, e: unknown): string {
  const dir = dirname(path);
  if (e instanceof Deno.errors.NotFound) {
    return `the folder ${dir} does not exist${
      /[\uFFFD\uD800-\uDFFF]/.test(dir)
        ? " (its name is not valid UTF-8, which Deno cannot open)"
        : ""
    }; create it first`;
  }
  if (e instanceof Deno.errors.IsADirectory) return "a folder has that name; choose another path";
  if (e instanceof Deno.errors.NotADirectory) return `${dir} is not a folder`;
  if (e instanceof Deno.errors.PermissionDenied) return `permission denied in ${dir}`;
  if (e instanceof Deno.errors.FilesystemLoop) return `a symlink loop in ${dir}`;
  return (e as Error)?.message ?? String(e);
}

function tempName(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(path), `.${basename(path)}.${Deno.pid}-${rand}.tmp`);
}

/** True for the temporary names {@linkcode commitFiles} uses (`.<name>.<pid>-<rand>.tmp`). */
export function isTempName(name: string): boolean {
  return /^\..+\.\d+-[0-9a-z]+\.tmp$/.test(name);
}

/** One file of a {@linkcode commitFiles} set. */
export interface CommitFile {
  /** A plain file name inside the directory (no `/`). */
  name: string;
  /** Bytes, or text written as UTF-8. */
  data: string | Uint8Array;
}

/** What {@linkcode commitFiles} writes. */
export interface CommitSet {
  /**
   * Files the manifest names, renamed into place before it. Their names must
   * not be ones the current manifest uses (the old state must stay whole
   * until the commit): version them.
   */
  parts?: CommitFile[];
  /** The entry point, renamed last: the commit. */
  manifest: CommitFile;
  /** Files of the previous state that nothing names any more: removed after the commit. */
  obsolete?: string[];
}

const bytesOf = (d: string | Uint8Array): Uint8Array =>
  typeof d === "string" ? new TextEncoder().encode(d) : d;

/**
 * Writes a set of files into `dir` atomically as a whole (see the module
 * doc): the reader who starts from `manifest` sees the old set or the new one.
 * On failure before the commit nothing of the new set remains and the error
 * (a {@linkcode FileWriteError} naming the target) is thrown; failures
 * removing obsolete files after the commit are ignored.
 */
export async function commitFiles(dir: string, set: CommitSet): Promise<void> {
  const files = [...(set.parts ?? []), set.manifest];
  for (const f of files) {
    if (f.name === "" || f.name.includes("/") || f.name === "." || f.name === "..") {
      throw new FileWriteError(join(dir, f.name), new Error("not a plain file name"));
    }
  }
  const temps: string[] = [];
  const placed: string[] = [];
  let target = "";
  try {
    for (const f of files) {
      target = join(dir, f.name);
      const tmp = tempName(target);
      temps.push(tmp);
      await atomicFs.write(tmp, bytesOf(f.data));
    }
    for (let i = 0; i < files.length; i++) {
      target = join(dir, files[i].name);
      await atomicFs.rename(temps[i], target);
      temps[i] = "";
      if (i < files.length - 1) placed.push(target);
    }
  } catch (e) {
    // Nothing is committed: remove what this call wrote (parts are unreferenced).
    for (const p of [...temps, ...placed]) if (p) await atomicFs.remove(p).catch(() => {});
    throw e instanceof FileWriteError ? e : new FileWriteError(target, e);
  }
  await atomicFs.syncDir(dir);
  const keep = new Set(files.map((f) => f.name));
  for (const name of set.obsolete ?? []) {
    if (keep.has(name) || name.includes("/") || name === "" || name === "..") continue;
    await atomicFs.remove(join(dir, name)).catch(() => {});
  }
}

/**
 * Writes `data` (bytes, or text as UTF-8) to `path` atomically: a temporary
 * file in the same directory, synced, then renamed over `path`. On failure the
 * temporary file is removed and a {@linkcode FileWriteError} naming `path` is thrown.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await commitFiles(dirname(path), { manifest: { name: basename(path), data } });
}
