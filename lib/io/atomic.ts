/**
 * Atomic file writes: the data goes to a temporary file in the same
 * directory, which is then renamed over the target, so a reader sees either
 * the old file or the complete new one, never half a file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/hello.txt`, "hi");
 * console.log(await Deno.readTextFile(`${dir}/hello.txt`)); // "hi"
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

function tempName(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(path), `.${basename(path)}.${Deno.pid}-${rand}.tmp`);
}

/**
 * Writes `data` (bytes, or text as UTF-8) to a temporary sibling of `path` and
 * returns its name; the caller renames it into place (or removes it). Use it to
 * commit several files at once: write them all, then rename each.
 */
export async function writeTemp(path: string, data: string | Uint8Array): Promise<string> {
  if (typeof data === "string") data = new TextEncoder().encode(data);
  const tmp = tempName(path);
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      await f.syncData();
    } finally {
      f.close();
    }
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return tmp;
}

/**
 * Writes `data` (bytes, or text as UTF-8) to `path` atomically: a temporary
 * file in the same directory, synced, then renamed over `path`. On failure the
 * temporary file is removed and the error is rethrown.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = await writeTemp(path, data);
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
